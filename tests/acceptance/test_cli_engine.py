"""The engine's commands as the owner runs them: import, schedule, run, simulate, sessions."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followup.store.migrate import head_revision
from tests.conftest import REPO

HEAD = head_revision()

SAMPLE = REPO / "config" / "sample"
DATA = REPO / "tests" / "data"
MESSY_MAP = [
    "--map",
    "external_id=Client ID",
    "--map",
    "first_name=First Name",
    "--map",
    "last_name=Last Name",
    "--map",
    "phone=Mobile Phone",
    "--map",
    "email=Email Address",
    "--map",
    "timezone=Time Zone",
    "--map",
    "preferred_channel=Preferred Channel",
    "--map",
    "sms_marketing=SMS Opt In",
    "--map",
    "email_marketing=Email Opt In",
]


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env |= {
        "FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp / 'followup.db'}",
        "FOLLOWUP_OUTBOX_DIR": str(tmp / "outbox"),
        "FOLLOWUP_WEB_PORT": "0",
    }
    return env | extra


def followup(tmp: Path, *args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followup", *map(str, args), "--config", str(REPO / "config")],
        cwd=tmp,
        env=env_for(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_import_twice_reports_zero_changes_the_second_time(tmp_path: Path) -> None:
    first = followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    assert first.returncode == 0, first.stderr
    assert "12 rows: 12 created, 0 updated, 0 unchanged, 0 rejected" in first.stdout
    again = followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    assert "12 rows: 0 created, 0 updated, 12 unchanged, 0 rejected" in again.stdout
    sessions = followup(tmp_path, "import", "sessions", SAMPLE / "sessions.csv")
    assert sessions.returncode == 0, sessions.stderr
    assert "16 rows: 16 created" in sessions.stdout  # (January's sessions: too old to plan anything now)
    again = followup(tmp_path, "import", "sessions", SAMPLE / "sessions.csv")
    assert "16 rows: 0 created, 0 updated, 16 unchanged, 0 rejected" in again.stdout
    assert "messages planned" not in again.stdout


def test_bad_rows_are_listed_and_good_rows_still_import(tmp_path: Path) -> None:
    result = followup(tmp_path, "import", "clients", DATA / "clients_messy.csv", *MESSY_MAP)
    assert result.returncode == 0, result.stderr
    assert f"{DATA / 'clients_messy.csv'}:7: Mobile Phone: '305-555' is not a valid phone number (region US)" in (
        result.stderr
    )
    summary = result.stdout.strip().splitlines()[-1]
    created = int(summary.split(": ")[2].split(" created")[0])
    rejected = int(summary.rsplit(", ", 1)[1].split(" rejected")[0])
    assert created > 0 and rejected > 0
    assert len({line.split(": ")[0] for line in result.stderr.splitlines() if line.startswith(str(DATA))}) >= rejected


def test_strict_rejects_the_whole_file(tmp_path: Path) -> None:
    result = followup(tmp_path, "import", "clients", DATA / "clients_messy.csv", "--strict", *MESSY_MAP)
    assert result.returncode == 1
    assert "REJECTED (--strict), nothing imported" in result.stdout
    schedule = followup(tmp_path, "schedule", "--json")
    assert json.loads(schedule.stdout) == []
    clean = followup(tmp_path, "import", "clients", SAMPLE / "clients.csv", "--strict")
    assert clean.returncode == 0 and "12 created" in clean.stdout


def test_sessions_for_unknown_clients_are_rejected_by_row(tmp_path: Path) -> None:
    followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    orphan = tmp_path / "orphans.csv"
    orphan.write_text(
        "external_id,client,start,service\nx-1,c-1001,2026-12-01 10:00,NMT\nx-2,c-9999,2026-12-01 11:00,NMT\n",
        encoding="utf-8",
    )
    result = followup(tmp_path, "import", "sessions", orphan)
    assert f"{orphan}:3: client: no client with external id 'c-9999' (import clients first)" in result.stderr
    assert "2 rows: 1 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout


def test_run_once_with_sample_data_writes_the_outbox(tmp_path: Path) -> None:
    result = followup(tmp_path, "run", "--once", "--sample-data")
    assert result.returncode == 0, result.stderr
    outbox = tmp_path / "outbox"
    sms = (outbox / "sms.jsonl").read_text(encoding="utf-8").splitlines() if (outbox / "sms.jsonl").exists() else []
    emails = list((outbox / "email").glob("*.eml")) if (outbox / "email").exists() else []
    assert sms or emails, result.stderr  # sample clients span time zones: someone is always inside 9:00-20:00
    assert "event=sent" in result.stderr
    for line in sms:
        assert json.loads(line)["body"].startswith("Hi ")
    again = followup(tmp_path, "run", "--once")
    assert "event=sent" not in again.stderr or all(
        json.loads(x)["key"] not in {json.loads(y)["key"] for y in sms}
        for x in (outbox / "sms.jsonl").read_text(encoding="utf-8").splitlines()[len(sms) :]
    )


def test_worker_starts_sends_within_a_minute_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "worker.log"  # a file, not a pipe: an unread pipe fills up and blocks the worker
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "followup", "run", "--sample-data", "--config", str(REPO / "config")],
            cwd=tmp_path,
            env=env_for(tmp_path, FOLLOWUP_WEB_PORT=str(port)),  # run serves the web app too
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )
    outbox = tmp_path / "outbox"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if (outbox / "sms.jsonl").exists() or any(outbox.glob("email/*.eml")):
                break
            time.sleep(0.5)
        else:
            pytest.fail("no message in the outbox within a minute")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
            assert b'"status":"ok"' in health.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    stderr = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, stderr
    assert "event=stopping signal=SIGTERM" in stderr and "event=stopped" in stderr


def test_schedule_lists_what_is_due_and_why(tmp_path: Path) -> None:
    followup(tmp_path, "run", "--once", "--sample-data")
    result = followup(tmp_path, "schedule", "--days", "40", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert entries and all(e["status"] in ("scheduled", "sending", "unknown") for e in entries)
    assert any("after session" in e["why"] for e in entries)
    one = followup(tmp_path, "schedule", "--days", "40", "--json", "--client", "c-1001")
    assert {e["client"] for e in json.loads(one.stdout)} == {"c-1001"}
    table = followup(tmp_path, "schedule", "--days", "40")
    assert "post_session_care" in table.stdout or "rebook_nudge" in table.stdout


def test_schedule_limits_the_table_and_says_how_many_are_not_shown(tmp_path: Path) -> None:
    followup(tmp_path, "run", "--once", "--sample-data")
    every = json.loads(followup(tmp_path, "schedule", "--days", "40", "--json").stdout)
    assert len(every) > 3
    first = json.loads(followup(tmp_path, "schedule", "--days", "40", "--json", "--limit", "3").stdout)
    assert first == every[:3]  # the same rows, in the same order, as the whole listing's start
    table = followup(tmp_path, "schedule", "--days", "40", "--limit", "2")
    assert table.returncode == 0, table.stderr
    flat = " ".join(table.stdout.split())
    assert re.search(rf"\({len(every):,}(, \d+ overdue)?\): the first 2 shown", flat), flat
    assert flat.count("post_session_care") + flat.count("rebook_nudge") <= 2
    whole = followup(tmp_path, "schedule", "--days", "40", "--limit", "0")
    assert "shown" not in " ".join(whole.stdout.split())
    typo = followup(tmp_path, "schedule", "--client", "nobody")  # not an empty table
    assert typo.returncode != 0 and "no client" in typo.stderr and "nobody" in typo.stderr
    by_id = json.loads(followup(tmp_path, "schedule", "--days", "40", "--json", "--client", "c-1001").stdout)
    phone = next(line.split(",")[3] for line in (SAMPLE / "clients.csv").read_text().splitlines() if "c-1001" in line)
    by_phone = json.loads(followup(tmp_path, "schedule", "--days", "40", "--json", "--client", phone).stdout)
    assert by_id and by_phone == by_id


def test_sessions_by_hand_plan_and_cancel(tmp_path: Path) -> None:
    followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    add = followup(
        tmp_path,
        "sessions",
        "add",
        "h-1",
        "--client",
        "c-1001",
        "--start",
        "2030-06-03T15:00",
        "--service",
        "NMT 60",
        "--focus",
        "neck_shoulders",
    )
    assert add.returncode == 0, add.stderr
    assert "session h-1 created; messages: 1 planned" in add.stdout  # the day-before reminder
    cancel = followup(tmp_path, "sessions", "cancel", "h-1")
    assert "session h-1 cancelled; messages: 0 planned, 1 cancelled" in cancel.stdout
    missing = followup(tmp_path, "sessions", "complete", "nope")
    assert missing.returncode == 1 and "no session 'nope'" in missing.stderr


def _sample_sessions() -> dict[str, list[tuple[str, datetime, str]]]:
    from followup.timeutil import zone

    out: dict[str, list[tuple[str, datetime, str]]] = defaultdict(list)
    with (SAMPLE / "sessions.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            start = datetime.fromisoformat(row["start"]).astimezone(zone("UTC"))
            out[row["client"]].append((row["external_id"], start, row["status"]))
    return out


def simulate_sample_month(tmp: Path) -> subprocess.CompletedProcess[str]:
    """``simulate --json`` over the shipped sample files, 30 days from the sample's Thursday."""
    start = "2026-01-15T12:00:00-05:00"
    sample = ("--clients", SAMPLE / "clients.csv", "--sessions", SAMPLE / "sessions.csv")
    return followup(tmp, "simulate", "--json", "--start", start, "--days", "30", *sample)


def test_simulate_json_over_the_sample_data_keeps_the_promises(tmp_path: Path) -> None:
    result = simulate_sample_month(tmp_path)
    assert result.returncode == 0, result.stderr
    everything = json.loads(result.stdout)
    # The promises below are about messages to clients; the owner's Monday digest (8:00 clinic
    # time, to the owner) is the one message to the clinic a simulation shows.
    digests = [m for m in everything if m["client"] == "(clinic)"]
    assert [(m["campaign"], m["send_at"]) for m in digests] == [
        ("owner_digest", "2026-01-19T08:00:00-05:00"),
        ("owner_digest", "2026-01-26T08:00:00-05:00"),
        ("owner_digest", "2026-02-02T08:00:00-05:00"),
        ("owner_digest", "2026-02-09T08:00:00-05:00"),
    ]
    messages = [m for m in everything if m["client"] != "(clinic)"]
    sent = [m for m in messages if m["status"] == "sent"]
    assert len(sent) > 30
    for m in messages:
        assert {"client", "campaign", "step", "channel", "send_at", "status", "body"} <= set(m)
        assert datetime.fromisoformat(m["send_at"]).tzinfo is not None
        if m["channel"] == "email" and m["status"] == "sent":
            assert m["subject"]
    # No message after its expiry.
    for m in sent:
        assert datetime.fromisoformat(m["send_at"]) <= datetime.fromisoformat(m["expires_at"]), m
    # No rebook nudge or win-back once the client has a later booking.
    sessions = _sample_sessions()
    for m in sent:
        if m["campaign"] in ("rebook_nudge", "win_back"):
            anchor = next(s for s in sessions[m["client"]] if s[0] == m["session"])
            later = [s for s in sessions[m["client"]] if s[1] > anchor[1] and s[2] != "cancelled"]
            assert not later, (m, later)
    nudged = {(m["client"], m["session"]) for m in sent if m["campaign"] == "rebook_nudge"}
    assert ("c-1004", "s-2006") in nudged  # nothing booked: nudged
    assert ("c-1008", "s-2008") not in nudged and ("c-1011", "s-2012") not in nudged  # booked again: not nudged
    # No tip repeated to a client.
    tips: dict[str, list[str]] = defaultdict(list)
    for m in sent:
        if m.get("tip"):
            tips[m["client"]].append(m["tip"])
    assert tips and all(len(t) == len(set(t)) for t in tips.values()), tips
    # No SMS outside 9:00-20:00 client-local time.
    for m in sent:
        assert 9 <= datetime.fromisoformat(m["send_at"]).hour < 20, m
    # Messages due outside the window waited for the next opening: never dropped, never early.
    deferred = [m for m in sent if not 9 <= datetime.fromisoformat(m["due_at"]).hour < 20]
    assert deferred, "the sample has messages due at night"
    for m in deferred:
        due, at = datetime.fromisoformat(m["due_at"]), datetime.fromisoformat(m["send_at"])
        assert at > due and at.hour >= 9, m
    assert any(datetime.fromisoformat(m["send_at"]).strftime("%H:%M") == "09:00" for m in deferred)
    # Caps: at most 3 messages, and 1 marketing message, per client in any 24 hours.
    by_client: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    purposes = {"self_care_tips": "marketing", "rebook_nudge": "marketing", "win_back": "marketing"}
    for m in sent:
        by_client[m["client"]].append((datetime.fromisoformat(m["send_at"]), purposes.get(m["campaign"], "care")))
    for client, items in by_client.items():
        for start, _ in items:
            window = [p for at, p in items if start <= at < start + timedelta(hours=24)]
            assert len(window) <= 3, (client, items)
            assert window.count("marketing") <= 1, (client, items)


def test_simulate_leaves_the_database_untouched(tmp_path: Path) -> None:
    followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    followup(tmp_path, "import", "sessions", SAMPLE / "sessions.csv")
    before = followup(tmp_path, "schedule", "--days", "400", "--json").stdout
    result = followup(tmp_path, "simulate", "--days", "30", "--json")
    assert result.returncode == 0, result.stderr
    assert followup(tmp_path, "schedule", "--days", "400", "--json").stdout == before
    assert not (tmp_path / "outbox").exists()


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = followup(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"database at revision {HEAD}" in result.stdout
    assert (tmp_path / "followup.db").exists()


def test_named_mapping_from_the_config_folder(tmp_path: Path) -> None:
    import shutil

    config = tmp_path / "clinic" / "config"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", tmp_path / "clinic" / "templates")
    (config / "mappings.yaml").write_text(
        "frontdesk:\n  clients:\n    external_id: Client ID\n    first_name: First Name\n    last_name: Last Name\n"
        "    phone: Mobile Phone\n    email: Email Address\n    timezone: Time Zone\n",
        encoding="utf-8",
    )
    env = env_for(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "followup",
            "import",
            "clients",
            str(DATA / "clients_messy.csv"),
            "--mapping",
            "frontdesk",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert " created" in result.stdout and "Mobile Phone" in result.stderr
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "followup",
            "import",
            "clients",
            str(SAMPLE / "clients.csv"),
            "--mapping",
            "nope",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    available = "acuity, frontdesk, jane, massagebook, mindbody, square, vagaro"  # the owner's and the shipped
    assert unknown.returncode == 1 and f"no such mapping (available: {available})" in unknown.stderr


def test_send_test_goes_through_the_configured_channel(tmp_path: Path) -> None:
    sms = followup(tmp_path, "send-test", "pre_visit_reminder", "--to", "+13055550177")
    assert sms.returncode == 0, sms.stderr
    assert "sent sms to +13055550177 via dryrun" in sms.stdout
    line = json.loads((tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert line["to"] == "+13055550177" and line["body"].startswith("Hi Maria, see you")
    mail = followup(tmp_path, "send-test", "rebook_nudge", "--to", "owner@example.com")
    assert mail.returncode == 0 and len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 1
    bad = followup(tmp_path, "send-test", "rebook_nudge", "--to", "owner@example.com", "--step", "9")
    assert bad.returncode == 1


def test_clients_show_optout_optin(tmp_path: Path) -> None:
    followup(tmp_path, "import", "clients", SAMPLE / "clients.csv")
    out = followup(
        tmp_path,
        "clients",
        "optout",
        "c-1001",
        "--channel",
        "sms",
        "--purpose",
        "marketing",
        "--note",
        "asked at the desk",
    )
    assert out.returncode == 0 and "recorded: opt_out sms marketing for c-1001" in out.stdout
    shown = followup(tmp_path, "clients", "show", "+13055550101")
    assert "Maria Lopez (c-1001)" in shown.stdout
    assert "sms marketing no" in shown.stdout and "sms care yes" in shown.stdout
    assert "opt_out sms marketing (owner) 'asked at the desk'" in shown.stdout
    back = followup(tmp_path, "clients", "optin", "c-1001", "--purpose", "marketing")
    assert back.returncode == 0
    assert "sms marketing yes" in followup(tmp_path, "clients", "show", "c-1001").stdout
    assert followup(tmp_path, "clients", "show", "nobody").returncode == 1


# --- issue 10: times a client reads right, what a name costs ------------------------------

ISSUE10_CLIENTS = (
    "external_id,first_name,last_name,phone,email,timezone,language,preferred_channel,sms_marketing,email_marketing\n"
    "la-1,David,Kim,+1 310 555 0104,david.kim@example.com,America/Los_Angeles,en,sms,yes,yes\n"
    "zoe-1,Zoë,Martin,+1 305 555 0121,zoe.accent@example.com,America/New_York,en,sms,yes,yes\n"
    "zoe-2,Zoe,Martin,+1 305 555 0122,zoe.plain@example.com,America/New_York,en,sms,yes,yes\n"
)


def issue10_files(tmp: Path, session_start: str) -> tuple[Path, Path]:
    clients = tmp / "clients.csv"
    clients.write_text(ISSUE10_CLIENTS, encoding="utf-8")
    sessions = tmp / "sessions.csv"
    sessions.write_text(
        "external_id,client,start,end,service,therapist,status\n"
        f'b-1,la-1,{session_start},,"Neuromuscular therapy, 60 min",Daniel,booked\n'
        'z-1,zoe-1,2026-12-08T10:00:00-05:00,2026-12-08T11:00:00-05:00,"Sports massage, 60 min",Ana,completed\n'
        'z-2,zoe-2,2026-12-08T10:00:00-05:00,2026-12-08T11:00:00-05:00,"Sports massage, 60 min",Ana,completed\n',
        encoding="utf-8",
    )
    return clients, sessions


def test_simulate_shows_a_remote_client_the_clinic_time_with_its_zone(tmp_path: Path) -> None:
    """The failing input of issue 10: a client in Los Angeles, a session at 15:00 Miami time.
    The reminder says 3:00 PM ET, not 12:00 PM; every printed time names its zone."""
    clients, sessions = issue10_files(tmp_path, "2026-12-10T15:00-05:00")
    args: list[str | Path] = ["simulate", "--start", "2026-12-08T12:00:00-05:00", "--days", "3", "--clients", clients]
    result = followup(tmp_path, *args, "--sessions", sessions, "--json")
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)
    (reminder,) = [m for m in messages if m["campaign"] == "pre_visit_reminder" and m["client"] == "la-1"]
    assert reminder["status"] == "sent", reminder
    assert "Thursday, December 10 at 3:00 PM ET" in reminder["body"], reminder["body"]
    assert "12:00 PM" not in reminder["body"]
    assert reminder["timezone"] == "America/Los_Angeles"
    # The send window is still the client's own: the reminder went out in LA daytime.
    assert 9 <= datetime.fromisoformat(reminder["send_at"]).hour < 20
    assert all(m["timezone"] in ("America/Los_Angeles", "America/New_York") for m in messages)
    table = followup(tmp_path, *args, "--sessions", sessions)
    assert table.returncode == 0, table.stderr
    assert "from 2026-12-08 12:00 EST" in table.stdout
    rows = [line for line in table.stdout.splitlines() if "la-1" in line or "zoe-" in line]
    assert rows and all(re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d (EST|PST) ", line) for line in rows), rows
    assert any(re.search(r"\d\d:\d\d PST .*la-1", line) for line in rows), rows


def test_an_accented_first_name_costs_nothing_more(tmp_path: Path) -> None:
    """The failing input of issue 10: client Zoë, session completed: the thanks text is GSM-7
    and as many segments as Zoe's."""
    from followup.core.sms_encoding import analyse

    clients, sessions = issue10_files(tmp_path, "2026-12-10T15:00-05:00")
    args: list[str | Path] = ["simulate", "--start", "2026-12-08T12:00:00-05:00", "--days", "1", "--clients", clients]
    result = followup(tmp_path, *args, "--sessions", sessions, "--json")
    assert result.returncode == 0, result.stderr
    thanks = {
        m["client"]: m["body"]
        for m in json.loads(result.stdout)
        if m["campaign"] == "post_session_care" and m["step"] == "thanks" and m["status"] == "sent"
    }
    accented, plain = analyse(thanks["zoe-1"]), analyse(thanks["zoe-2"])
    assert thanks["zoe-1"].startswith("Hi Zoe, thanks for coming in today!")
    assert accented.encoding == plain.encoding == "GSM-7"
    assert accented.segments == plain.segments
    # With transliteration off, the same name would switch the text to UCS-2.
    raw = followup(
        tmp_path,
        *args,
        "--sessions",
        sessions,
        "--json",
        FOLLOWUP_SMS_TRANSLITERATE="false",
        FOLLOWUP_SMS_ACCENTS="keep",
    )
    body = next(m["body"] for m in json.loads(raw.stdout) if m["client"] == "zoe-1" and m["step"] == "thanks")
    assert body.startswith("Hi Zoë,") and analyse(body).encoding == "UCS-2"


def test_schedule_names_the_zone_of_every_time(tmp_path: Path) -> None:
    from followup.timeutil import zone

    start = (datetime.now(zone("America/New_York")) + timedelta(days=5)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    clients, sessions = issue10_files(tmp_path, start.isoformat())
    assert followup(tmp_path, "import", "clients", clients).returncode == 0
    assert followup(tmp_path, "import", "sessions", sessions).returncode == 0
    data = json.loads(followup(tmp_path, "schedule", "--days", "10", "--json", "--client", "la-1").stdout)
    (reminder,) = [e for e in data if e["campaign"] == "pre_visit_reminder"]
    assert reminder["timezone"] == "America/Los_Angeles"
    assert datetime.fromisoformat(reminder["due_at"]).utcoffset() == timedelta(hours=-8)
    table = followup(tmp_path, "schedule", "--days", "10")
    assert table.returncode == 0, table.stderr
    la_rows = [line for line in table.stdout.splitlines() if "la-1" in line]
    assert la_rows and all(re.search(r"\d\d:\d\d P[SD]T ", line) for line in la_rows), table.stdout


def test_check_prints_the_worst_case_segments_per_template(tmp_path: Path) -> None:
    result = followup(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "worst case" in result.stdout and "long accented names" in result.stdout
    for template in ("aftercare_thanks", "reminder_24h", "self_care_tip"):
        row = next(line for line in result.stdout.splitlines() if f" {template} " in line)
        worst = re.search(r"│\s+(\d) \((\d+) chars\)\s+│", row)
        assert worst is not None, row
        assert 1 <= int(worst.group(1)) <= 3
