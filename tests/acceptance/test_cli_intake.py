"""A real clinic's exports through the CLI (issue 10): families, split date and time columns,
id columns, consent words, languages, and every shipped booking-system preset."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup.store.sql import SqlStore
from tests.acceptance.test_cli_engine import env_for, followup
from tests.conftest import REPO

EXPORTS = REPO / "tests" / "data" / "exports"
MIAMI = ZoneInfo("America/New_York")
PRESETS = ("square", "mindbody", "vagaro", "acuity", "massagebook", "jane")


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def stored(tmp: Path) -> Iterator[SqlStore]:
    store = SqlStore.from_url(f"sqlite:///{tmp / 'followup.db'}")
    try:
        yield store
    finally:
        store.close()


def client(store: SqlStore, external_id: str) -> tuple[int, str, str, str]:
    client_id = store.find_client_id(external_id=external_id)
    assert client_id is not None, external_id
    c = store.client_state(client_id).client
    return client_id, c.first_name, c.language, c.phone or ""


def test_two_people_sharing_a_phone_are_two_clients(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "family.csv",
        "external_id,first_name,last_name,phone\nc-1,Maria,Diaz,+1 305 555 0141\nc-2,Lucas,Diaz,(305) 555-0141\n",
    )
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    assert "2 rows: 2 created, 0 updated" in result.stdout
    with stored(tmp_path) as store:
        assert client(store, "c-1")[1:] == ("Maria", "en", "+13055550141")
        assert client(store, "c-2")[1:] == ("Lucas", "en", "+13055550141")
    # A lookup by the shared number names both instead of picking one.
    shown = followup(tmp_path, "clients", "show", "(305) 555-0141")
    assert shown.returncode != 0
    assert "c-1 (Maria)" in shown.stderr and "c-2 (Lucas)" in shown.stderr


def test_a_family_without_ids_is_told_apart_by_first_name(tmp_path: Path) -> None:
    path = write(tmp_path, "family.csv", "First Name,Phone\nMaria,305-555-0141\nLucas,305 555 0141\nMaria,3055550141\n")
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    assert "3 rows: 2 created" in result.stdout  # the third row is Maria again
    assert "duplicate of row 2" in result.stderr


def test_split_date_and_time_columns_and_long_dates(tmp_path: Path) -> None:
    clients = write(tmp_path, "clients.csv", "Client ID,First Name,Mobile Phone\nc-7,Ana,(305) 555-0107\n")
    assert followup(tmp_path, "import", "clients", clients).returncode == 0
    sessions = write(
        tmp_path,
        "appointments.csv",
        "Appointment ID,Client ID,Appointment Date,Start Time,Service\n"
        "a-1,c-7,11/30/2026,2:30 PM,Deep tissue 60\n"
        'a-2,c-7,"December 5, 2026",11:00 am,Deep tissue 60\n',
    )
    result = followup(tmp_path, "import", "sessions", sessions)
    assert result.returncode == 0, result.stderr
    assert "2 rows: 2 created" in result.stdout
    long_form = write(
        tmp_path,
        "long.csv",
        'external_id,client,start,service\na-3,c-7,"December 5, 2026 11:00 am",Deep tissue 60\n',
    )
    assert "1 rows: 1 created" in followup(tmp_path, "import", "sessions", long_form).stdout
    with stored(tmp_path) as store:
        client_id = store.find_client_id(external_id="c-7")
        assert client_id is not None
        starts = {s.external_id: s.start for s in store.client_state(client_id).sessions}
    assert starts["a-1"] == datetime(2026, 11, 30, 14, 30, tzinfo=MIAMI)
    assert starts["a-2"] == datetime(2026, 12, 5, 11, 0, tzinfo=MIAMI)
    assert starts["a-3"] == datetime(2026, 12, 5, 11, 0, tzinfo=MIAMI)


def test_an_id_column_is_kept_when_only_the_phone_is_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", "Client ID,First Name,Cell\nMB-100,Rosa,(305) 555-0110\n")
    result = followup(tmp_path, "import", "clients", path, "--map", "phone=Cell")
    assert result.returncode == 0, result.stderr
    with stored(tmp_path) as store:
        assert client(store, "MB-100")[1] == "Rosa"


def test_subscription_words_become_consent_with_the_column_as_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "customers.csv",
        "Customer ID,First Name,Email Address,Email Subscription Status\n"
        "k-1,Irene,irene@example.com,subscribed\n"
        "k-2,Pablo,pablo@example.com,Unsubscribed\n",
    )
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    with stored(tmp_path) as store:
        irene, _, _, _ = client(store, "k-1")
        pablo, _, _, _ = client(store, "k-2")
        assert store.client_state(irene).client.consent.email_marketing is True
        assert store.client_state(pablo).client.consent.email_marketing is False
        ledger = store.consent_history(irene)
    email = [row for row in ledger if row["channel"] == "email" and row["purpose"] == "marketing"]
    assert [row["source"] for row in email] == [f"{path}:2:Email Subscription Status"]


def test_a_default_consent_is_recorded_as_default(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "external_id,first_name,email\nd-1,Lia,lia@example.com\n")
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    with stored(tmp_path) as store:
        lia, _, _, _ = client(store, "d-1")
        sources = {(r["channel"], r["purpose"]): r["source"] for r in store.consent_history(lia)}
    assert sources == {("email", "marketing"): "default"}


@pytest.mark.parametrize(("given", "stored_as"), [("es", "es"), ("es-US", "es"), ("ES", "es"), ("xx", "en")])
def test_a_language_is_kept_as_given(tmp_path: Path, given: str, stored_as: str) -> None:
    path = write(tmp_path, "c.csv", f"external_id,first_name,phone,language\nl-1,Luz,3055550120,{given}\n")
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    assert ("language" in result.stderr) == (given == "xx")  # only an unknown language warns
    with stored(tmp_path) as store:
        assert client(store, "l-1")[2] == stored_as


def test_a_bad_email_beside_a_good_phone_still_imports_the_client(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "external_id,first_name,phone,email\nb-1,Tomás,3055550130,tomas@\n")
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    assert "1 created" in result.stdout
    assert f"warning: {path}:2: email: 'tomas@'" in result.stderr


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_fixture_imports_with_no_map(tmp_path: Path, preset: str) -> None:
    clients = followup(tmp_path, "import", "clients", EXPORTS / f"{preset}_clients.csv")
    assert clients.returncode == 0, clients.stderr
    assert "recognised from the header" in clients.stdout
    assert " 0 rejected" in clients.stdout, clients.stdout + clients.stderr
    sessions = followup(tmp_path, "import", "sessions", EXPORTS / f"{preset}_appointments.csv")
    assert sessions.returncode == 0, sessions.stderr
    assert f"recognised from the header: {preset}" in sessions.stdout
    assert " 0 rejected" in sessions.stdout, sessions.stdout + sessions.stderr
    assert "columns ignored:" in sessions.stdout or preset == "mindbody"


def test_sessions_add_takes_what_the_importer_takes(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "external_id,first_name,email\nq-1,Ema,Ema@Example.com\n")
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    added = followup(
        tmp_path,
        "sessions",
        "add",
        "s-1",
        "--client",
        "EMA@example.COM",
        "--start",
        "12/03/2026 3:00 PM",
        "--service",
        "NMT 60",
        "--focus",
        "Neck & shoulders; lower back",
    )
    assert added.returncode == 0, added.stderr
    with stored(tmp_path) as store:
        client_id = store.find_client_id(external_id="q-1")
        assert client_id is not None
        (session,) = store.client_state(client_id).sessions
    assert session.start == datetime(2026, 12, 3, 15, 0, tzinfo=MIAMI)
    assert set(session.focus_areas) == {"neck_shoulders", "lower_back"}
    bad = followup(tmp_path, "sessions", "add", "s-2", "--client", "q-1", "--start", "someday", "--service", "x")
    assert bad.returncode != 0
    assert "'someday'" in bad.stderr


def test_an_add_on_and_a_double_export_are_one_visit_with_one_reminder(tmp_path: Path) -> None:
    from followup.store.port import MessageQuery

    clients = write(tmp_path, "c.csv", "external_id,first_name,phone\nv-1,Gabriela,3055550150\n")
    assert followup(tmp_path, "import", "clients", clients).returncode == 0
    sessions = write(
        tmp_path,
        "s.csv",
        "external_id,client,start,end,service\n"
        "a-1,v-1,2027-01-15 10:00,2027-01-15 11:00,Deep tissue 60\n"
        "a-2,v-1,2027-01-15 11:00,2027-01-15 11:30,Hot stones add-on\n"
        "a-9,v-1,2027-01-15 10:00,2027-01-15 11:00,Deep tissue 60\n"
        "a-3,v-1,2027-01-22 10:00,2027-01-22 11:00,Deep tissue 60\n",
    )
    result = followup(tmp_path, "import", "sessions", sessions)
    assert result.returncode == 0, result.stderr
    with stored(tmp_path) as store:
        planned = [m for m in store.messages(MessageQuery()) if m.status == "scheduled"]
    by_campaign: dict[str, set[str | None]] = {}
    for message in planned:
        by_campaign.setdefault(f"{message.campaign}/{message.step}/{message.channel}", set()).add(
            message.session_external_id
        )
    assert by_campaign, "the bookings planned reminders"
    for sessions_of_step in by_campaign.values():
        assert sessions_of_step <= {"a-1", "a-3"}, by_campaign  # one visit on the 15th, one on the 22nd


def test_the_visits_reminder_names_every_service_and_clients_show_names_the_zone(tmp_path: Path) -> None:
    import json

    clients = write(tmp_path, "c.csv", "external_id,first_name,phone\nv-2,Gabriela,3055550151\n")
    assert followup(tmp_path, "import", "clients", clients).returncode == 0
    sessions = write(
        tmp_path,
        "s.csv",
        "external_id,client,start,end,service\n"
        "a-1,v-2,2027-01-15 10:00,2027-01-15 11:00,Deep tissue 60\n"
        "a-2,v-2,2027-01-15 11:00,2027-01-15 11:30,Hot stones\n",
    )
    assert followup(tmp_path, "import", "sessions", sessions).returncode == 0
    simulated = followup(tmp_path, "simulate", "--start", "2027-01-13", "--days", "3", "--json")
    assert simulated.returncode == 0, simulated.stderr
    texts = [m for m in json.loads(simulated.stdout) if m["channel"] == "sms" and m["session"] in ("a-1", "a-2")]
    assert texts, simulated.stdout
    assert {m["session"] for m in texts} == {"a-1"}
    assert any("Deep tissue 60 + Hot stones" in (m["body"] or "") for m in texts), texts
    shown = followup(tmp_path, "clients", "show", "v-2")
    assert shown.returncode == 0, shown.stderr
    assert "session a-1 2027-01-15 10:00 ET booked" in shown.stdout, shown.stdout


def test_a_nightly_reimport_keeps_consent_the_file_does_not_speak_of(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "external_id,first_name,phone,email\nn-1,Rosa,3055550160,rosa@example.com\n")
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    optin = followup(tmp_path, "clients", "optin", "n-1", "--channel", "sms", "--purpose", "marketing")
    assert optin.returncode == 0, optin.stderr
    assert followup(tmp_path, "import", "clients", path).returncode == 0  # the nightly cron import
    with stored(tmp_path) as store:
        rosa, _, _, _ = client(store, "n-1")
        assert store.client_state(rosa).client.consent.sms_marketing is True
        actions = [(r["action"], r["source"]) for r in store.consent_history(rosa) if r["channel"] == "sms"]
    assert actions == [("opt_in", "owner")]


def test_a_couple_sharing_an_email_without_ids_are_two_clients(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "acuity.csv",
        "First Name,Last Name,Phone,Email\n"
        "Andrés,Gutiérrez,305-555-0171,gutierrez.casa@example.com\n"
        "Valentina,Gutiérrez,305-555-0172,Gutierrez.Casa@example.com\n",
    )
    result = followup(tmp_path, "import", "clients", path)
    assert result.returncode == 0, result.stderr
    assert "2 rows: 2 created" in result.stdout
    sessions = write(
        tmp_path,
        "appointments.csv",
        "Appointment ID,Email,Client Name,Start,Service\n"
        "x-1,gutierrez.casa@example.com,Valentina Gutierrez,2027-01-10 10:00,Swedish 60\n",
    )
    booked = followup(tmp_path, "import", "sessions", sessions)
    assert booked.returncode == 0, booked.stderr
    assert "1 rows: 1 created" in booked.stdout  # the name told them apart, accents aside


def test_a_spanish_client_of_an_english_only_clinic_reads_english_dates(tmp_path: Path) -> None:
    import json

    path = write(tmp_path, "c.csv", "external_id,first_name,phone,language\ns-1,José,3055550180,es\n")
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    sessions = write(tmp_path, "s.csv", "external_id,client,start,service\nz-1,s-1,2027-01-14 10:00,Swedish 60\n")
    assert followup(tmp_path, "import", "sessions", sessions).returncode == 0
    english_only = {"FOLLOWUP_LANGUAGES": '["en"]'}
    simulated = followup(tmp_path, "simulate", "--start", "2027-01-12", "--days", "3", "--json", **english_only)
    bodies = " ".join(m["body"] or "" for m in json.loads(simulated.stdout) if m["client"] == "s-1")
    assert "Thursday" in bodies and "jueves" not in bodies, bodies


def test_an_explicit_no_in_the_file_is_in_the_ledger_with_its_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "c.csv", "external_id,first_name,email,Email Opt In\nq-9,Begoña,bego@example.com,Unsubscribed\n"
    )
    assert followup(tmp_path, "import", "clients", path).returncode == 0
    with stored(tmp_path) as store:
        bego, _, _, _ = client(store, "q-9")
        rows = [(r["action"], r["source"]) for r in store.consent_history(bego)]
    assert rows == [("opt_out", f"{path}:2:Email Opt In")]


def _big_clients(tmp: Path, rows: int, bad_at: int) -> Path:
    """More rows than one batch (2,000); the row at index ``bad_at`` has no name."""
    lines = ["Client ID,First Name,Last Name,Mobile Phone,Email\n"]
    for i in range(rows):
        first = "" if i == bad_at else ("Álvaro", "Lucía", "Ana")[i % 3]
        lines.append(f"c-{i},{first},Peña,(305) 555-{i % 10000:04d},c{i}@example.com\n")
    return write(tmp, "big.csv", "".join(lines))


def test_a_big_file_with_a_bad_row_late_imports_all_or_nothing_as_asked(tmp_path: Path) -> None:
    path = _big_clients(tmp_path, 2600, bad_at=2450)
    strict = followup(tmp_path, "import", "clients", path, "--strict")
    assert strict.returncode == 1
    assert f"{path}:2452: First Name: is empty (a name is required)" in strict.stderr
    assert "REJECTED (--strict), nothing imported" in strict.stdout
    with stored(tmp_path) as store:
        assert store.client_ids() == []
    both = followup(tmp_path, "import", "clients", path, "--strict", "--partial")
    assert both.returncode == 1 and "exclude each other" in both.stderr
    partial = followup(tmp_path, "import", "clients", path, "--partial")
    assert partial.returncode == 0, partial.stderr
    assert "2600 rows: 2599 created, 0 updated, 0 unchanged, 1 rejected" in partial.stdout
    assert f"{path}:2452: First Name" in partial.stderr
    again = followup(tmp_path, "import", "clients", path)
    assert "2600 rows: 0 created, 0 updated, 2599 unchanged, 1 rejected" in again.stdout
    with stored(tmp_path) as store:
        assert len(store.client_ids()) == 2599
        assert client(store, "c-2598")[1:] == ("Álvaro", "en", "+13055552598")


@pytest.mark.parametrize("partial", [False, True])
def test_ctrl_c_during_an_import_leaves_nothing_half_written(tmp_path: Path, partial: bool) -> None:
    """SIGINT once the rows are being read: by default nothing is imported; with --partial the
    batches committed stay, and the summary says up to which line."""
    path = _big_clients(tmp_path, 12000, bad_at=-1)
    args = [sys.executable, "-m", "followup", "import", "clients", str(path), "--config", str(REPO / "config")]
    if partial:
        args.append("--partial")
    env = env_for(tmp_path, PYTHONUNBUFFERED="1")
    with subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        first = run.stdout.readline()  # the layout line: printed just before the first row is read
        assert "recognised from the header" in first
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    with stored(tmp_path) as store:
        imported = len(store.client_ids())
    if not partial:
        assert "INTERRUPTED, nothing imported" in stdout
        assert imported == 0
    else:
        assert "INTERRUPTED" in stdout
        line = int(stdout.split("rows up to line ")[1].split(" ")[0]) if "rows up to line" in stdout else 1
        assert imported == line - 1  # whole batches: every row up to that line, none after
        assert imported < 12000


def test_line_numbers_and_values_that_look_like_emoji_codes_are_printed_as_written(tmp_path: Path) -> None:
    # rich would print ":100:" as an emoji (the line number lost) and ":thumbs_up:" as one too.
    rows = [f"c{n},Ana{n},305555{n:04d},yes" for n in range(2, 100)]
    rows.append("c100,Luz,555-01,:thumbs_up:")  # line 100: a bad phone and a bad consent value
    path = write(tmp_path, "clients.csv", "id,first_name,phone,sms_marketing\n" + "\n".join(rows) + "\n")
    result = followup(tmp_path, "import", "clients", path)
    assert "clients.csv:100:" in result.stderr, result.stderr
    assert ":thumbs_up:" in result.stderr
    assert "\U0001f4af" not in result.stderr and "\U0001f44d" not in result.stderr
