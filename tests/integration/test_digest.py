"""The weekly owner digest (issue 14, item 4): Monday 8:00 clinic time, through the outbox,
written by the dry run as an .eml, once, listing an unanswered reply; simulate shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from followup.config.loader import load_clinic
from followup.core.domain import Client
from followup.engine.digest import digest_key, last_digest_time, next_digest_time
from followup.engine.simulate import simulate
from followup.engine.worker import Worker
from followup.store.port import OWNER_DIGEST, MessageQuery
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock, zone
from followup.wiring import make_channels, memory_store
from tests.conftest import REPO

MIAMI = zone("America/New_York")


@pytest.mark.parametrize(
    ("now", "last", "following"),
    [
        (datetime(2026, 3, 2, 8, 0, tzinfo=MIAMI), datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 9, 8, 0)),
        (datetime(2026, 3, 2, 7, 59, tzinfo=MIAMI), datetime(2026, 2, 23, 8, 0), datetime(2026, 3, 2, 8, 0)),
        (datetime(2026, 3, 8, 23, 0, tzinfo=MIAMI), datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 9, 8, 0)),
        # DST begins on Sunday 8 March 2026: still 8:00 wall-clock time on both Mondays
        (datetime(2026, 3, 9, 13, 0, tzinfo=zone("UTC")), datetime(2026, 3, 9, 8, 0), datetime(2026, 3, 16, 8, 0)),
    ],
)
def test_the_digest_is_due_monday_at_eight_clinic_time(now: datetime, last: datetime, following: datetime) -> None:
    got = last_digest_time(now, "America/New_York")
    assert got.replace(tzinfo=None) == last and got.tzinfo is not None
    assert next_digest_time(now, "America/New_York").replace(tzinfo=None) == following


def test_the_worker_sends_the_digest_once_on_monday_with_an_unanswered_reply(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOLLOWUP_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("FOLLOWUP_BUSINESS_OWNER_EMAIL", "owner@shoreline-nmt.example")
    clinic = load_clinic(REPO / "config", REPO / "templates")
    store = SqlStore.from_url(db_url)
    store.upgrade()
    sunday = datetime(2026, 3, 1, 15, 0, tzinfo=MIAMI)
    client_id, _ = store.upsert_client(Client(external_id="c-1", first_name="Marisol", phone="+13055550111"), sunday)
    store.record_inbound("SM1", client_id, "+13055550111", "Can I move Thursday to 4pm?", sunday, "reply", None)

    clock = FixedClock(datetime(2026, 3, 2, 7, 55, tzinfo=MIAMI))
    worker = Worker(store, clinic, make_channels(clinic), clock=clock)
    worker.dispatch()
    assert not store.has_message(digest_key(datetime(2026, 3, 2, 8, 0, tzinfo=MIAMI)))  # not before 8:00

    for minutes in (5, 35, 65):  # three ticks after 8:00: queued and sent once
        clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=MIAMI) + timedelta(minutes=minutes))
        worker.dispatch()
    emails = sorted((tmp_path / "outbox" / "email").glob(f"*-{OWNER_DIGEST}-weekly.eml"))
    assert len(emails) == 1
    mail = message_from_bytes(emails[0].read_bytes(), policy=policy.default)
    assert mail["To"] == "owner@shoreline-nmt.example"
    assert "Weekly follow-up summary, Feb 23 to Mar 1" in str(mail["Subject"])
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "REPLIES WAITING FOR AN ANSWER (1)" in text
    assert '"Can I move Thursday to 4pm?"' in text and "Marisol" in text
    [reply] = store.replies(unhandled=True)
    assert f"#{reply.id} Marisol (+13055550111)" in text  # the number `replies handle` takes
    assert "`" not in text and "preferred" not in text
    [row] = [m for m in store.messages(MessageQuery()) if m.campaign == OWNER_DIGEST]
    assert row.status == "sent" and row.client_id is None
    store.close()


def test_simulate_shows_the_digest_each_monday(tmp_path: Path) -> None:
    env = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "FOLLOWUP_OUTBOX_DIR": str(tmp_path / "o")}
    sample = REPO / "config" / "sample"
    args = ["simulate", "--start", "2026-03-04", "--days", "15", "--json", "--config", str(REPO / "config")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "followup",
            *args,
            "--clients",
            str(sample / "clients.csv"),
            "--sessions",
            str(sample / "sessions.csv"),
        ],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    digests = [m for m in json.loads(result.stdout) if m["campaign"] == OWNER_DIGEST]
    assert [d["send_at"][:16] for d in digests] == ["2026-03-09T08:00", "2026-03-16T08:00"]
    assert all(d["status"] == "sent" and d["channel"] == "email" for d in digests)


def test_simulate_lists_the_replies_waiting_in_the_database(sqlite_url: str) -> None:
    """simulate works on a copy of the database: the copy has the replies (and the ledger), so
    its Monday digest says what the worker's would."""
    clinic = load_clinic(REPO / "config", REPO / "templates")
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    sunday = datetime(2026, 3, 1, 15, 0, tzinfo=MIAMI)
    client_id, _ = store.upsert_client(Client(external_id="c-2", first_name="Iván", phone="+13055550112"), sunday)
    store.record_inbound("SM2", client_id, "+13055550112", "¿Tienen cita el sábado?", sunday, "reply", None)
    memory = memory_store()
    store.copy_into(memory)
    results = simulate(memory, clinic, datetime(2026, 3, 1, 18, 0, tzinfo=MIAMI), 2)
    [digest] = [m for m in results if m.campaign == OWNER_DIGEST]
    assert digest.body is not None and "REPLIES WAITING FOR AN ANSWER (1)" in digest.body
    assert "¿Tienen cita el sábado?" in digest.body
    store.close()
