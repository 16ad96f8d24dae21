"""What the dispatcher's faster rendering must keep: template edits are still seen (by the next
run, not mid-run), other threads are not pinned, and the SMS squash says the same as before."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from followup.config.loader import ClinicConfig, load_clinic
from followup.exceptions import TemplateRenderError
from followup.rendering.compose import Composed, compose, templates_pinned
from followup.rendering.examples import SAMPLE_NOW, sample_client, sample_session
from followup.rendering.templates import _squash
from tests.conftest import ClinicFactory


def _render(clinic: ClinicConfig) -> Composed:
    client = sample_client("en")
    return compose(
        clinic,
        client=client,
        session=sample_session(client),
        visit_count=1,
        campaign_name="post_session",
        step_index=0,
        channel="sms",
        now=SAMPLE_NOW,
    )


def _edit(path: Path, text: str) -> None:
    """Rewrite a template and move its mtime on (Jinja notices edits by mtime)."""
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 10, before + 10))


def test_a_pinned_block_renders_what_it_found_and_the_next_block_sees_an_edit(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/sms.j2": "First {{ client.first_name }}.\n"})
    clinic = load_clinic(config, templates, env_file=None)
    sms = templates / "thanks" / "sms.j2"
    with templates_pinned(clinic):
        assert _render(clinic).sms == "First Maria."
        _edit(sms, "Second {{ client.first_name }}.\n")
        assert _render(clinic).sms == "First Maria."  # one run renders one version
        seen: list[str | None] = []
        other = threading.Thread(target=lambda: seen.append(_render(clinic).sms))
        other.start()
        other.join()
        assert seen == ["Second Maria."]  # another thread (the web preview) is not pinned
    assert _render(clinic).sms == "Second Maria."
    with templates_pinned(clinic):
        assert _render(clinic).sms == "Second Maria."


def test_a_language_file_added_between_runs_is_picked_up(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/es/sms.j2": None})
    clinic = load_clinic(config, templates, env_file=None)
    client = sample_client("es")

    def spanish() -> str | None:
        return compose(
            clinic,
            client=client,
            session=sample_session(client),
            visit_count=1,
            campaign_name="post_session",
            step_index=0,
            channel="sms",
            now=SAMPLE_NOW,
        ).sms

    with templates_pinned(clinic):
        english = spanish()
    (templates / "thanks" / "es" / "sms.j2").write_text("Hola {{ client.first_name }}.\n", encoding="utf-8")
    with templates_pinned(clinic):
        assert spanish() == f"Hola {client.first_name}."
    assert english is not None and not english.startswith("Hola")


def test_an_error_in_a_pinned_template_still_names_its_file_and_line(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/sms.j2": "Hi\n{{ 1 / 0 }}\n"})
    clinic = load_clinic(config, templates, env_file=None)
    with templates_pinned(clinic), pytest.raises(TemplateRenderError) as caught:
        _render(clinic)
    issue = caught.value.issue
    assert str(issue.file).endswith("thanks/sms.j2") and issue.line == 2, issue


def _squash_as_before(text: str) -> str:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n".join(p for p in paragraphs if p)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "  Hi  there \n",
        "Hi\nthere",
        "Hi\n\nthere",
        "Hi\n \t\nthere\n",
        "\n\nHi\n",
        "Hi\r\n\r\nthere",
        "Hi\u2028\nthere\n",
        "a\n\n\n\nb\nc\n\nd",
        "x\u00a0 y\n",
    ],
)
def test_squash_is_unchanged(text: str) -> None:
    assert _squash(text) == _squash_as_before(text)
