"""``followup preview``: show exactly what a campaign's steps will send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from followup.checker import step_channels
from followup.cli.common import ConfigOpt, TemplatesOpt, fail, load, out
from followup.core.domain import ChannelName
from followup.core.durations import format_duration
from followup.core.sms_encoding import analyse
from followup.core.tipselect import choose_tip
from followup.exceptions import ConfigError, ConfigIssue, TemplateRenderError
from followup.intake.values import configured_language
from followup.rendering.compose import compose
from followup.rendering.examples import SAMPLE_NOW, load_preview_input, sample_client, sample_session


def _step_indexes(campaign_name: str, names: list[str], step: str | None) -> list[int]:
    if step is None:
        return list(range(len(names)))
    if step.isdigit() and 1 <= int(step) <= len(names):
        return [int(step) - 1]
    if step in names:
        return [names.index(step)]
    fail(
        ConfigError(
            [
                ConfigIssue(
                    campaign_name,
                    None,
                    "--step",
                    f"{step!r} is not a step (1-{len(names)} or one of: {', '.join(names)})",
                )
            ]
        ),
        "Bad option",
    )


def _language(raw: str, option: str, languages: Sequence[str]) -> str:
    """A language as imports read it (``ES``, ``es-US``, ``Spanish``, ``español`` -> es), and one
    of ``languages``: anything else is refused, never silently shown in the default language."""
    try:
        code = configured_language(raw, languages)
    except ValueError as exc:
        fail(ConfigError([ConfigIssue(option, None, "", str(exc))]), "Bad language")
    if code is None:
        fail(
            ConfigError([ConfigIssue(option, None, "", f"a language is required (one of: {', '.join(languages)})")]),
            "Bad language",
        )
    return code


def _html_path(base: Path, campaign: str, step: str, many: bool) -> Path:
    return base.with_name(f"{base.stem}-{campaign}-{step}{base.suffix or '.html'}") if many else base


def command(
    campaign: Annotated[str, typer.Argument(help="Campaign name, as in config/campaigns.yaml.")],
    step: Annotated[
        str | None, typer.Option("--step", "-s", help="Step number (1 = first) or name; default: all.")
    ] = None,
    channel: Annotated[
        ChannelName | None, typer.Option("--channel", help="sms or email; default: what the step uses.")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the email's HTML to this file.")] = None,
    client_json: Annotated[
        Path | None, typer.Option("--client-json", help='JSON with "client", optional "session" and "visit_count".')
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="Sample client's language (e.g. es).")
    ] = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Render a campaign's steps with sample (or your own) client data.

    Example: followup preview post_session_care --step 1 --channel email --html /tmp/thanks.html
    """
    clinic = load(config, templates)
    try:
        chosen = clinic.campaign(campaign)
    except ConfigError as exc:
        fail(exc, "Unknown campaign")
    languages = clinic.settings.languages
    chosen_language = _language(language, "--language", languages) if language is not None else None
    if client_json is not None:
        try:
            client, session, visits = load_preview_input(client_json)
        except ConfigError as exc:
            fail(exc, "Bad --client-json")
        # --language wins; the file's language is read as an import reads it; none: the default
        given = _language(client.language, "--client-json client.language", languages) if client.language else None
        client = replace(client, language=chosen_language or given or clinic.settings.default_language)
    else:
        client = sample_client(chosen_language or clinic.settings.default_language)
        session, visits = sample_session(client), 3
    if session is None:
        session = sample_session(client)
    names = [chosen.step_name(i) for i in range(len(chosen.steps))]
    indexes = _step_indexes(campaign, names, step)
    emails = 0
    for index in indexes:
        definition = chosen.steps[index]
        tip = None
        if definition.tip is not None:
            tip = choose_tip(clinic.tips, definition.tip.categories, [], session.focus_areas, client.external_id)
        channels = [channel] if channel else step_channels(chosen, index)
        for ch in channels:
            try:
                composed = compose(
                    clinic,
                    client=client,
                    session=session,
                    visit_count=visits,
                    campaign_name=campaign,
                    step_index=index,
                    channel=ch,
                    now=SAMPLE_NOW,
                    tip=tip,
                )
            except TemplateRenderError as exc:
                fail(ConfigError([exc.issue]), "Template error")
            header = (
                f"── {campaign} · step {index + 1} '{names[index]}' · offset {definition.offset.text} · "
                f"expires after {format_duration(definition.expires_after)} · {ch} · {composed.language}"
            )
            out.print(header, markup=False, style="bold")
            if tip is not None:
                out.print(f"tip: {tip.id} ({tip.category})", markup=False, style="dim")
            if composed.sms is not None:
                info = analyse(composed.sms)
                out.print(
                    f"[{info.length} chars, {info.encoding}, {info.segments} segment(s)]", markup=False, style="dim"
                )
                out.print(composed.sms, markup=False)
            elif composed.email is not None:
                out.print(f"Subject: {composed.email.subject}", markup=False)
                out.print("", markup=False)
                out.print(composed.email.text, markup=False)
                if html is not None:
                    target = _html_path(html, campaign, names[index], len(indexes) > 1)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(composed.email.html, encoding="utf-8")
                    out.print(f"(HTML written to {target})", markup=False, style="dim")
                emails += 1
            out.print("", markup=False)
    if html is not None and emails == 0:
        out.print("(no email in this selection: --html wrote nothing)", markup=False, style="dim")


def register(app: typer.Typer) -> None:
    app.command("preview")(command)
