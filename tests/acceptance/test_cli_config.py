"""The owner's commands, run as a subprocess exactly as the owner runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    return subprocess.run(
        [sys.executable, "-m", "followup", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def shipped_campaigns() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((REPO / "config" / "campaigns.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_check_passes_on_shipped_files_and_prints_segment_table() -> None:
    result = run("check", "--config", "config")
    assert result.returncode == 0, result.stderr
    assert "SMS templates" in result.stdout and "segments" in result.stdout
    assert re.search(r"reminder_24h\s+│\s+en\s+│\s+[\d-]+\s+│\s+GSM-7\s+│\s+1\s+│", result.stdout), result.stdout
    table = result.stdout.split("forces UCS-2", 1)[1]
    # Every shipped template is GSM-7 (the "other accents" column prices keeping Spanish accents).
    assert "UCS-2" not in re.sub(r"keep: UCS-2", "", table)
    assert result.stdout.strip().splitlines()[-1].startswith("OK: 6 campaigns")


def test_every_command_has_help_with_an_example() -> None:
    top = run("--help")
    assert top.returncode == 0
    for command in ("check", "preview", "init"):
        assert command in top.stdout
        result = run(command, "--help")
        assert result.returncode == 0 and "Example:" in result.stdout, (command, result.stdout)


def break_file(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


BROKEN = {
    "unknown key": (
        "config/campaigns.yaml",
        "      expires_after: 6h",
        "      expires_afer: 6h",
        "expires_afer: 6h",
        "post_session_care.steps[0].expires_afer: unknown key (allowed: ",
    ),
    "bad duration": (
        "config/campaigns.yaml",
        "offset: 1d at 10:00",
        "offset: 3 dayz",
        "offset: 3 dayz",
        "post_session_care.steps[1].offset: '3 dayz' is not a duration (examples: ",
    ),
    "unknown template": (
        "config/campaigns.yaml",
        "template: reminder_24h",
        "template: reminder_2h",
        "template: reminder_2h",
        "pre_visit_reminder.steps[0].template: 'reminder_2h' is not a template",
    ),
    "bad time zone": (
        "config/followup.toml",
        'default_timezone = "America/New_York"',
        'default_timezone = "America/NewYork"',
        "America/NewYork",
        "default_timezone: 'America/NewYork' is not an IANA time zone",
    ),
    "undefined variable": (
        "templates/reminder_24h/sms.j2",
        "{{ client.first_name }}",
        "{{ client.firstname }}",
        "client.firstname",
        "'client' has no 'firstname' (it has: ",
    ),
    "template syntax error": (
        "templates/aftercare_thanks/email.txt.j2",
        "{% endif %}",
        "{% endfi %}",
        "{% endfi %}",
        "template syntax error",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_each_broken_copy_fails_with_file_and_line(kind: str, shipped_copy: tuple[Path, Path]) -> None:
    config, templates = shipped_copy
    relative, old, new, needle, message = BROKEN[kind]
    path = config.parent / relative
    break_file(path, old, new)
    line = line_of(path, needle)
    result = run("check", "--config", config, "--templates", templates, cwd=config.parent)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"{relative}:{line}:" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_over_long_sms_fails_naming_the_template(shipped_copy: tuple[Path, Path]) -> None:
    config, templates = shipped_copy
    path = templates / "reminder_24h" / "sms.j2"
    path.write_text(path.read_text(encoding="utf-8") + " Please arrive ten minutes early. " * 12, encoding="utf-8")
    result = run("check", "--config", config, "--templates", templates, cwd=config.parent)
    assert result.returncode == 1
    assert "templates/reminder_24h/sms.j2: renders to 4 SMS segments" in result.stderr, result.stderr


def test_ucs2_characters_are_named(shipped_copy: tuple[Path, Path]) -> None:
    config, templates = shipped_copy
    break_file(templates / "reminder_24h" / "sms.j2", "Reschedule?", "Reschedule? 😊 ¿Qué tal?")
    result = run("check", "--config", config, "--templates", templates, cwd=config.parent)
    assert "UCS-2" in result.stdout
    assert "U+1F60A SMILING FACE WITH SMILING EYES" in result.stdout and "U+00E1" not in result.stdout
    assert "U+00E9 LATIN SMALL LETTER E WITH ACUTE" not in result.stdout  # é is GSM-7


def test_all_errors_listed_together(shipped_copy: tuple[Path, Path]) -> None:
    config, templates = shipped_copy
    break_file(config / "campaigns.yaml", "offset: 1d at 10:00", "offset: 3 dayz")
    break_file(config / "campaigns.yaml", "template: reminder_24h", "template: reminder_2h")
    break_file(config / "tips.yaml", "category: posture", "category: postur")
    result = run("check", "--config", config, "--templates", templates, cwd=config.parent)
    assert result.returncode == 1
    assert "Configuration has errors (3)" in result.stderr, result.stderr


@pytest.mark.parametrize("campaign", sorted(shipped_campaigns()))
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_preview_renders_every_step_in_both_channels(campaign: str, channel: str, tmp_path: Path) -> None:
    steps = shipped_campaigns()[campaign]["steps"]
    assert isinstance(steps, list)
    html = tmp_path / "out.html"
    result = run("preview", campaign, "--channel", channel, "--html", html)
    assert result.returncode == 0, result.stderr
    for number, _ in enumerate(steps, start=1):
        assert f"{campaign} · step {number} " in result.stdout
    assert "Maria" in result.stdout
    if channel == "email":
        assert result.stdout.count("Subject: ") == len(steps)
        written = list(tmp_path.glob("*.html"))
        assert len(written) == len(steps)
        for page in written:
            text = page.read_text(encoding="utf-8")
            assert "1234 Collins Ave" in text and "/u/" in text and "<style>" not in text
    else:
        assert "GSM-7" in result.stdout and "Subject:" not in result.stdout


def test_preview_with_client_json_and_bad_step(tmp_path: Path) -> None:
    data = tmp_path / "client.json"
    data.write_text(
        '{"client": {"external_id": "c1", "first_name": "Lucas", "timezone": "Europe/Madrid"},'
        ' "session": {"start": "2026-12-04T17:00:00+00:00", "end": "2026-12-04T18:00:00+00:00",'
        ' "service": "Trigger point therapy", "therapist": "Ana"}}',
        encoding="utf-8",
    )
    result = run("preview", "pre_visit_reminder", "--step", "1", "--channel", "sms", "--client-json", data)
    assert result.returncode == 0, result.stderr
    # 17:00 UTC is shown in the clinic's time, named because the client (Madrid) lives elsewhere.
    assert "Hi Lucas" in result.stdout and "12:00 PM ET" in result.stdout
    bad = run("preview", "pre_visit_reminder", "--step", "7")
    assert bad.returncode == 1 and "'7' is not a step (1-1 or one of: day_before)" in bad.stderr
    unknown = run("preview", "no_such_campaign")
    assert unknown.returncode == 1 and "no such campaign (available: " in unknown.stderr


def test_init_creates_a_starter_that_checks_clean(tmp_path: Path) -> None:
    target = tmp_path / "clinic"
    result = run("init", target)
    assert result.returncode == 0, result.stderr
    assert (target / "config" / "campaigns.yaml").is_file() and (target / "templates" / "_layouts").is_dir()
    checked = run("check", "--config", target / "config", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    again = run("init", target)
    assert again.returncode == 1 and "already exist" in again.stderr
