"""Spanish as the owner sees it, through the CLI run as a subprocess: simulate, check,
preview and clients set-language."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.acceptance.test_cli_engine import SAMPLE, env_for, followup, simulate_sample_month
from tests.conftest import REPO

# Words of the English templates, layouts and tips that must never reach a Spanish client.
ENGLISH = re.compile(
    r"\b(Hi|Hello|thanks?|Thank|Reply|STOP|reminder|Book|your|you|we|the|and|with|tip|see|soon|"
    r"Questions?|Unsubscribe|preferences|session|today|water|Take care|regards)\b"
)
# ...and words of the Spanish ones that must never reach an English client.
SPANISH = re.compile(r"\b(Hola|gracias|Responda|PARAR|usted|sesión|sesion|cita|consejo|Reserve|le esperamos)\b", re.I)
# What is not a template's word: the clinic's names and address, services, therapists, links.
NOT_WORDS = re.compile(
    r"Shoreline Neuromuscular Therapy|Shoreline NMT|1234 Collins Ave, Suite 200, Miami Beach, FL 33139|"
    r"Neuromuscular therapy, 60 min|Trigger point therapy, \d+ min|Sports massage, \d+ min|"
    r"Neuromuscular therapy|Trigger point therapy|Sports massage|https?://\S+|\S+@\S+"
)


def _languages() -> dict[str, str]:
    with (SAMPLE / "clients.csv").open(encoding="utf-8") as f:
        return {row["external_id"]: row["language"] for row in csv.DictReader(f)}


def _words(message: dict[str, str]) -> str:
    return NOT_WORDS.sub(" ", " ".join(message.get(k) or "" for k in ("subject", "body")))


def test_simulate_speaks_to_each_client_in_their_language(tmp_path: Path) -> None:
    languages = _languages()
    assert {"en", "es"} <= set(languages.values()), "the sample has Spanish speakers"
    result = simulate_sample_month(tmp_path)
    assert result.returncode == 0, result.stderr
    sent = [m for m in json.loads(result.stdout) if m["status"] == "sent" and m["client"] in languages]
    spanish = [m for m in sent if languages[m["client"]] == "es"]
    english = [m for m in sent if languages[m["client"]] == "en"]
    assert len(spanish) >= 8 and len(english) >= 20, (len(spanish), len(english))
    assert {m["channel"] for m in spanish} == {"sms", "email"}
    for m in spanish:
        words = _words(m)
        assert not ENGLISH.search(words), (m["client"], m["campaign"], ENGLISH.findall(words), m["body"])
        assert SPANISH.search(words), m["body"]
    for m in english:
        words = _words(m)
        assert not SPANISH.search(words), (m["client"], m["campaign"], SPANISH.findall(words), m["body"])
    # A marketing text to a Spanish client ends with the Spanish opt-out line, accents stripped.
    marketing = [m for m in spanish if m["channel"] == "sms" and m["campaign"] in ("self_care_tips", "rebook_nudge")]
    assert marketing and all(m["body"].endswith("Responda PARAR para no recibir mas.") for m in marketing)
    # The email footer's legal lines: the postal address and the opt-out link, in Spanish.
    emails = [m for m in spanish if m["channel"] == "email"]
    assert all("1234 Collins Ave" in m["body"] for m in emails)
    assert any("Para dejar de recibir consejos y ofertas por correo: http" in m["body"] for m in emails) or any(
        "Para cambiar sus preferencias de correo: http" in m["body"] for m in emails
    )


def test_simulate_dates_read_as_each_language_writes_them(tmp_path: Path) -> None:
    clients = tmp_path / "clients.csv"
    clients.write_text(
        "external_id,first_name,phone,language,preferred_channel\n"
        "es-1,Lucía,3055550170,Español,sms\n"
        "en-1,Grace,3055550171,en,sms\n",
        encoding="utf-8",
    )
    sessions = tmp_path / "sessions.csv"
    sessions.write_text(
        "external_id,client,start,service,status\n"
        "s-es,es-1,2026-12-10 15:30,Trigger point therapy 60,booked\n"
        "s-en,en-1,2026-12-10 15:30,Trigger point therapy 60,booked\n"
        "s-es2,es-1,2026-12-12 13:00,Trigger point therapy 60,booked\n",
        encoding="utf-8",
    )
    args: list[str | Path] = ["simulate", "--start", "2026-12-08T12:00:00-05:00", "--days", "5"]
    result = followup(tmp_path, *args, "--clients", clients, "--sessions", sessions, "--json")
    assert result.returncode == 0, result.stderr
    reminders = {
        m["session"]: m["body"]
        for m in json.loads(result.stdout)
        if m["campaign"] == "pre_visit_reminder" and m["status"] == "sent"
    }
    assert "Hola Lucia, le esperamos el jueves, 10 de diciembre, a las 3:30 p.m." in reminders["s-es"], reminders
    assert "see you Thursday, December 10 at 3:30 PM" in reminders["s-en"], reminders
    # "sábado" loses its accent like every á in a Spanish SMS; one o'clock is "a la 1".
    assert "el sabado, 12 de diciembre, a la 1:00 p.m." in reminders["s-es2"], reminders
    assert "Responda o llame al +1 305 555 0142" in reminders["s-es"]


def test_check_passes_on_the_shipped_files_and_prices_spanish_both_ways(tmp_path: Path) -> None:
    result = followup(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.search(r"│\s+es\s+│", line)]
    assert len(rows) == 7, result.stdout  # every SMS template of the shipped campaigns, in Spanish
    for row in rows:
        cells = [c.strip() for c in row.split("│")]
        assert cells[4] == "GSM-7" and int(cells[5]) <= 2, row  # under the default (strip)
        assert re.fullmatch(r"keep: (GSM-7|UCS-2) \d \(\d\)", cells[8]), row  # the price of keeping accents
    assert any("keep: UCS-2" in row for row in rows)


def _broken_copy(tmp_path: Path) -> tuple[Path, Path]:
    config, templates = tmp_path / "config", tmp_path / "templates"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", templates)
    return config, templates


def _check(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """``followup check`` on the broken copy (``followup()`` runs on the shipped config)."""
    return subprocess.run(
        [sys.executable, "-m", "followup", "check", "--config", str(config)],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_fails_naming_each_missing_spanish_variant(tmp_path: Path) -> None:
    config, templates = _broken_copy(tmp_path)
    (templates / "reminder_24h" / "es" / "sms.j2").unlink()
    (templates / "_layouts" / "es" / "email.txt.j2").unlink()
    tips = (config / "tips.es.yaml").read_text(encoding="utf-8")
    start = tips.index("  sleep-cool-room:")
    end = tips.index("  sleep-jaw-release:")
    (config / "tips.es.yaml").write_text(tips[:start] + tips[end:], encoding="utf-8")
    result = _check(tmp_path, config)
    assert result.returncode == 1, result.stdout
    missing = [line for line in result.stderr.splitlines() if "missing:" in line]
    assert len(missing) == 3, result.stderr
    assert any(line.startswith("templates/reminder_24h/es/sms.j2: missing") for line in missing), missing
    assert any(line.startswith("templates/_layouts/es/email.txt.j2: missing") for line in missing), missing
    assert any(line.startswith("config/tips.es.yaml: tips.sleep-cool-room: missing") for line in missing), missing


def test_preview_in_spanish_shows_what_is_sent(tmp_path: Path) -> None:
    result = followup(tmp_path, "preview", "pre_visit_reminder", "--language", "es", "--channel", "sms")
    assert result.returncode == 0, result.stderr
    assert "· sms · es" in result.stdout
    body = result.stdout.split("segment(s)]", 1)[1]
    assert "Hola Carmen, le esperamos el jueves, 3 de diciembre, a las" in " ".join(body.split()), body
    assert not ENGLISH.search(NOT_WORDS.sub(" ", body)), body
    tip = followup(tmp_path, "preview", "self_care_tips", "--step", "1", "--language", "es", "--channel", "email")
    assert tip.returncode == 0, tip.stderr
    assert "Subject: Consejo de autocuidado:" in tip.stdout and "Para dejar de recibir consejos" in tip.stdout


def test_clients_set_language(tmp_path: Path) -> None:
    assert followup(tmp_path, "import", "clients", SAMPLE / "clients.csv").returncode == 0
    changed = followup(tmp_path, "clients", "set-language", "c-1001", "Spanish")
    assert changed.returncode == 0, changed.stderr
    assert "Maria Lopez (c-1001): language en -> es" in changed.stdout
    assert "language es" in followup(tmp_path, "clients", "show", "c-1001").stdout
    again = followup(tmp_path, "clients", "set-language", "(305) 555-0101", "es")
    assert again.returncode == 0 and "already es" in again.stdout
    for bad, why in (("fr", "followup writes in: en, es"), ("klingon", "is not a language")):
        refused = followup(tmp_path, "clients", "set-language", "c-1001", bad)
        assert refused.returncode == 1 and why in refused.stderr, refused.stderr
    assert "language es" in followup(tmp_path, "clients", "show", "c-1001").stdout


def test_init_ships_english_and_spanish(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "followup", "init", str(tmp_path / "clinic")],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config, templates = tmp_path / "clinic" / "config", tmp_path / "clinic" / "templates"
    assert 'languages = ["en", "es"]' in (config / "followup.toml").read_text(encoding="utf-8")
    assert (config / "tips.es.yaml").is_file() and (templates / "_layouts" / "es" / "sms.j2").is_file()
    assert sorted(p.relative_to(templates) for p in templates.rglob("es/*.j2")) == sorted(
        p.relative_to(REPO / "templates") for p in (REPO / "templates").rglob("es/*.j2")
    )


def _header_languages(stdout: str) -> set[str]:
    return {line.rsplit(" · ", 1)[1] for line in stdout.splitlines() if line.startswith("── ")}


def test_preview_language_is_read_as_imports_read_it(tmp_path: Path) -> None:
    for given in ("ES", "Spanish", "es-US", "español", "spa", "Espanol"):
        result = followup(tmp_path, "preview", "pre_visit_reminder", "--language", given, "--channel", "sms")
        assert result.returncode == 0, result.stderr
        assert _header_languages(result.stdout) == {"es"}, (given, result.stdout)
        assert "Necesita cambiar la cita" in result.stdout


def test_preview_refuses_a_language_followup_does_not_write(tmp_path: Path) -> None:
    for given, why in (
        ("fr", "'fr' (fr) is not one of the languages followup writes in: en, es"),
        ("klingon", "is not a language"),
    ):
        result = followup(tmp_path, "preview", "pre_visit_reminder", "--language", given, "--channel", "sms")
        assert result.returncode == 1, result.stdout
        assert why in result.stderr and "--language" in result.stderr, result.stderr
        assert "── " not in result.stdout


def test_preview_language_wins_over_the_client_json(tmp_path: Path) -> None:
    spec = tmp_path / "client.json"
    client = {"external_id": "c-9", "first_name": "Ramón", "phone": "+13055550100"}
    spec.write_text(json.dumps({"client": {**client, "language": "Spanish"}}), encoding="utf-8")
    args = ("preview", "pre_visit_reminder", "--channel", "sms", "--client-json", spec)
    assert _header_languages(followup(tmp_path, *args).stdout) == {"es"}  # the file's language, normalised
    assert _header_languages(followup(tmp_path, *args, "--language", "en").stdout) == {"en"}
    spec.write_text(json.dumps({"client": {**client, "language": "fr"}}), encoding="utf-8")
    refused = followup(tmp_path, *args)
    assert refused.returncode == 1 and "client.language" in refused.stderr, refused.stderr
    spec.write_text(json.dumps({"client": client}), encoding="utf-8")
    assert _header_languages(followup(tmp_path, *args).stdout) == {"en"}  # none: the clinic's default


def test_set_language_needs_a_language_and_reads_it_as_imports_do(tmp_path: Path) -> None:
    assert followup(tmp_path, "import", "clients", SAMPLE / "clients.csv").returncode == 0
    empty = followup(tmp_path, "clients", "set-language", "c-1001", "")
    assert empty.returncode == 1 and "a language is required: one of en, es" in empty.stderr, empty.stderr
    german = followup(tmp_path, "clients", "set-language", "c-1001", "de")
    assert (
        german.returncode == 1 and "'de' (de) is not one of the languages followup writes in: en, es" in german.stderr
    )
    for spelled in ("castellano", "spa", "Spanish (US)"):
        done = followup(tmp_path, "clients", "set-language", "c-1001", spelled)
        assert done.returncode == 0 and "language" in done.stdout and " es" in done.stdout, done.stderr


def test_a_reimport_keeps_a_language_set_by_hand_and_says_when_it_changes(tmp_path: Path) -> None:
    assert followup(tmp_path, "import", "clients", SAMPLE / "clients.csv").returncode == 0
    assert followup(tmp_path, "clients", "set-language", "c-1001", "es").returncode == 0
    again = followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")  # its language column says en
    assert again.returncode == 0, again.stderr
    assert "language es -> en: 1 client (the file's language column)" in again.stdout, again.stdout
    assert followup(tmp_path, "clients", "set-language", "c-1001", "es").returncode == 0
    bare = tmp_path / "bare.csv"
    with (SAMPLE / "clients.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = [k for k in rows[0] if k != "language"]
    with bare.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    kept = followup(tmp_path, "import", "clients", bare)
    assert kept.returncode == 0 and "language es -> en" not in kept.stdout, kept.stdout
    assert "language es (owner)" in followup(tmp_path, "clients", "show", "c-1001").stdout


def test_check_says_keeping_accents_is_why_a_spanish_sms_is_over_the_limit(tmp_path: Path) -> None:
    config, _ = _broken_copy(tmp_path)
    toml = (config / "followup.toml").read_text(encoding="utf-8")
    toml = re.sub(r'(?m)^accents = "strip"', 'accents = { es = "keep", "*" = "strip" }', toml)
    (config / "followup.toml").write_text(toml, encoding="utf-8")
    result = _check(tmp_path, config)
    assert result.returncode == 1, result.stdout
    over = [line for line in result.stderr.splitlines() if "over the limit" in line]
    assert over, result.stderr
    for line in over:
        assert "/es/sms.j2" in line, line  # English keeps GSM-7
        assert "[sms] accents = keep for 'es'" in line and "UCS-2: 70 characters a segment" in line, line
        assert re.search(r"with accents = strip it would be GSM-7, \d segment\(s\)", line), line


def test_clients_show_says_no_address_for_a_channel_the_client_cannot_be_reached_on(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text("external_id,first_name,phone,language\nc-9,Ramón,3055550101,es\n", encoding="utf-8")
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    shown = followup(tmp_path, "clients", "show", "c-9")
    assert shown.returncode == 0, shown.stderr
    assert "email care no address, email marketing no address" in shown.stdout, shown.stdout
    assert "sms care yes" in shown.stdout
    assert "opt_in email" not in shown.stdout  # no default email opt-in in the ledger


def test_simulate_writes_times_inside_reasons_in_the_clients_zone(tmp_path: Path) -> None:
    result = simulate_sample_month(tmp_path)
    assert result.returncode == 0, result.stderr
    expired = [m for m in json.loads(result.stdout) if m["status"] == "expired"]
    assert expired, "the sample has a message that expires (a client in Tokyo)"
    for message in expired:
        assert message["reason"] == f"not sent by {message['expires_at']}", message
        assert not message["expires_at"].endswith("+00:00")


def test_local_reason_moves_every_iso_time_to_the_zone() -> None:
    from followup.engine.simulate import local_reason
    from followup.timeutil import zone

    tz = zone("America/New_York")
    assert local_reason("not sent by 2026-12-01T12:00:00+00:00", tz) == "not sent by 2026-12-01T07:00:00-05:00"
    assert local_reason("from 2026-07-01T12:00Z to 2026-07-01T13:30:00.5+00:00", tz) == (
        "from 2026-07-01T08:00:00-04:00 to 2026-07-01T09:30:00.500000-04:00"
    )
    assert local_reason("rebooked (session s-9)", tz) == "rebooked (session s-9)"
    assert local_reason(None, tz) is None and local_reason("", tz) == ""
