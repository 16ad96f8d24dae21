"""Reply forwarding is an outbox message (issue 11, item 8): retried, never lost.

A client's text reaches the clinic through an outbox row the signed webhook inserts (once per
MessageSid) and the dispatcher sends like any message: retried with backoff on transient
errors, failed with its reason on a permanent one, reconciled after a crash, expired after a
week; consent, the send window and caps do not apply (it is not a client message).  Over real
HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from followup.channels.base import Channel
from followup.channels.memory import InMemoryChannel
from followup.core.domain import ChannelName
from followup.core.rules import Caps, SendWindow
from followup.engine.dispatch import Backoff, Dispatcher, DispatchStats
from followup.exceptions import PermanentDeliveryError, TransientDeliveryError
from followup.store.port import CLINIC, REPLY_FORWARD, ClinicMessage, MessageQuery, MessageRow
from followup.store.schema import inbound_messages
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock
from tests.acceptance.test_cli_engine import followup
from tests.integration import test_web
from tests.integration.test_web import NOW, Web

web = test_web.web  # the fixture: Maria Lopez on a live uvicorn server, signed webhooks

CLINIC_EMAIL = "frontdesk@shoreline-nmt.example"  # the fixture's business_email


@pytest.fixture(params=["sqlite", "postgresql"])
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``web`` fixture's database, here once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'followup.db'}"
    return str(request.getfixturevalue("pg_url"))


def _rows(store: SqlStore) -> list[MessageRow]:
    return store.messages(MessageQuery(order="id"))


def _dispatch(
    store: SqlStore, web: Web, email: Channel, at: timedelta = timedelta(0), **options: object
) -> DispatchStats:
    channels: dict[ChannelName, Channel] = {"sms": InMemoryChannel("sms"), "email": email}
    dispatcher = Dispatcher(store, web.clinic, channels, FixedClock(NOW + at), rng=random.Random(7), **options)  # type: ignore[arg-type]
    return dispatcher.run_once()


def test_a_reply_creates_exactly_one_outbox_row_even_when_replayed(web: Web) -> None:
    for _ in range(3):
        assert web.sms("Can I come Thursday?", "SM-once").status_code == 200
    (row,) = _rows(web.store)
    assert (row.campaign, row.step, row.status, row.channel) == (REPLY_FORWARD, "reply", "scheduled", "email")
    assert row.client_id is None and row.client_external_id == CLINIC and row.to_address == CLINIC_EMAIL
    assert row.subject == "Text from Maria Lopez (+13055550101): Can I come Thursday?"
    assert row.body is not None and "Maria Lopez (+13055550101) replied by text" in row.body
    assert "Last session: Neuromuscular therapy with Daniel" in row.body
    assert row.due_at == NOW and row.expires_at == NOW + timedelta(days=7)
    assert web.box.received == []  # nothing is emailed from the webhook itself


def test_the_dispatcher_sends_it_to_the_clinic_once(web: Web) -> None:
    web.sms("Can I come Thursday?", "SM-send")
    assert web.dispatch()["sent"] == 1
    assert web.dispatch()["sent"] == 0
    (mail,) = web.box.received
    assert mail["To"] == CLINIC_EMAIL
    assert str(mail["Subject"]).strip() == "Text from Maria Lopez (+13055550101): Can I come Thursday?"
    (row,) = _rows(web.store)
    assert row.status == "sent" and row.sent_channel == "email" and row.sent_at == NOW and row.attempts == 1
    assert [kind for _, kind, _ in web.store.events(row.id)] == ["scheduled", "sent"]


def test_two_transient_failures_then_success_sends_it_once_later(web: Web) -> None:
    web.sms("Running 10 min late", "SM-flaky")
    email = InMemoryChannel("email")
    email.fail(TransientDeliveryError("421 try again later"), times=2)
    backoff = Backoff(base=timedelta(seconds=30), cap=timedelta(hours=1))
    at = timedelta(0)
    for _ in range(2):
        stats = _dispatch(web.store, web, email, at, backoff=backoff)
        assert stats["retry"] == 1 and email.sent == []
        (row,) = _rows(web.store)
        assert row.status == "scheduled" and row.status_reason == "transient failure, will retry"
        assert row.next_attempt_at > NOW + at and row.error == "421 try again later"
        assert _dispatch(web.store, web, email, at, backoff=backoff)["claimed"] == 0  # not before its retry time
        at = row.next_attempt_at - NOW
    assert _dispatch(web.store, web, email, at, backoff=backoff)["sent"] == 1
    (sent,) = email.sent
    assert sent.to == CLINIC_EMAIL and sent.email is not None and "Running 10 min late" in sent.email.text
    (row,) = _rows(web.store)
    assert row.status == "sent" and row.attempts == 3 and row.sent_at == NOW + at and at > timedelta(0)
    assert [kind for _, kind, _ in web.store.events(row.id)] == ["scheduled", "scheduled", "scheduled", "sent"]


def test_a_permanent_failure_fails_it_with_the_reason_and_it_stays_visible(web: Web) -> None:
    web.sms("Can I come Thursday?", "SM-bad")
    email = InMemoryChannel("email")
    email.fail(PermanentDeliveryError("550 mailbox unavailable"))
    assert _dispatch(web.store, web, email)["failed"] == 1
    assert _dispatch(web.store, web, email, timedelta(hours=2))["claimed"] == 0  # never retried
    (row,) = web.store.messages(MessageQuery(statuses=("failed",)))
    assert row.campaign == REPLY_FORWARD and row.status_reason == "permanent failure"
    assert row.error == "550 mailbox unavailable" and row.body is not None and "Can I come Thursday?" in row.body
    assert web.store.counts() == {"failed": 1}
    assert web.store.events(row.id)[-1][1:] == ("failed", "permanent failure")


def test_a_possible_opt_out_is_forwarded_with_the_flag(web: Web) -> None:
    web.sms("please stop texting me", "SM-words")
    (row,) = _rows(web.store)
    assert row.step == "possible_opt_out"
    web.dispatch()
    (mail,) = web.box.received
    assert str(mail["Subject"]).strip().startswith("Possible opt-out: Text from Maria Lopez")
    text = str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert text.startswith("POSSIBLE OPT-OUT") and "please stop texting me" in text
    assert "followup has NOT opted them out" in text
    assert web.consent().sms_care  # and nothing was changed


def test_the_queued_forward_survives_a_restart(web: Web, sqlite_url: str) -> None:
    web.sms("Can I come Thursday?", "SM-restart")
    web.store.close()  # the web process goes away before any worker ran
    again = SqlStore.from_url(sqlite_url)
    try:
        (row,) = _rows(again)
        assert row.status == "scheduled" and row.to_address == CLINIC_EMAIL
        email = InMemoryChannel("email")
        assert _dispatch(again, web, email)["sent"] == 1
        assert [m.to for m in email.sent] == [CLINIC_EMAIL]
    finally:
        again.close()


def test_consent_window_and_caps_do_not_apply_to_a_message_to_the_clinic(web: Web) -> None:
    web.sms("Can I come Thursday?", "SM-rules")
    for channel in ("sms", "email"):
        web.store.record_opt_out(web.client_id, channel, NOW, source="owner")
    email = InMemoryChannel("email")
    # 3:00 in Miami, outside any send window, with caps that would hold every client message.
    night = timedelta(hours=12)
    stats = _dispatch(web.store, web, email, night, window=SendWindow(), caps=Caps(any_per_day=0))
    assert stats["sent"] == 1 and len(email.sent) == 1


def test_it_expires_after_a_week_unsent(web: Web) -> None:
    web.sms("Can I come Thursday?", "SM-old")
    email = InMemoryChannel("email")
    assert _dispatch(web.store, web, email, timedelta(days=7, minutes=1))["expired"] == 1
    (row,) = _rows(web.store)
    assert row.status == "expired" and email.sent == []


def test_a_worker_killed_mid_send_is_reconciled_and_sent_once(web: Web) -> None:
    web.sms("Can I come Thursday?", "SM-killed")
    (claimed,) = web.store.claim_due(NOW, 10, "worker-killed")  # claimed, then kill -9
    email = InMemoryChannel("email")
    stats = _dispatch(web.store, web, email, timedelta(minutes=20), lease=timedelta(minutes=15))
    assert stats["reconciled_retry"] == 1 and stats["sent"] == 1
    assert [m.key for m in email.sent] == [claimed.key]
    assert _dispatch(web.store, web, email, timedelta(hours=1))["sent"] == 0
    assert len(email.sent) == 1


def test_schedule_clients_show_and_simulate_cope_with_a_message_to_the_clinic(tmp_path: Path) -> None:
    assert followup(tmp_path, "run", "--once", "--sample-data").returncode == 0
    now = datetime.now(UTC)  # the CLI runs on the wall clock
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'followup.db'}")
    try:
        message = ClinicMessage(
            key="clinic/reply_forward/SM-cli",
            campaign=REPLY_FORWARD,
            step="reply",
            to=CLINIC_EMAIL,
            subject="Text from Maria",
            text="Maria replied by text",
            due_at=now + timedelta(hours=1),
            expires_at=now + timedelta(days=7),
        )
        assert store.enqueue_to_clinic(message, now) is not None
    finally:
        store.close()
    schedule = followup(tmp_path, "schedule", "--days", "40", "--json")
    assert schedule.returncode == 0, schedule.stderr
    ours = [e for e in json.loads(schedule.stdout) if e["campaign"] == REPLY_FORWARD]
    assert [(e["client"], e["channel"], e["status"]) for e in ours] == [(CLINIC, "email", "scheduled")]
    assert followup(tmp_path, "schedule", "--days", "40").returncode == 0
    show = followup(tmp_path, "clients", "show", "c-1001")
    assert show.returncode == 0, show.stderr
    assert REPLY_FORWARD not in show.stdout  # not one of this client's messages
    simulated = followup(tmp_path, "simulate", "--days", "3", "--json")
    assert simulated.returncode == 0, simulated.stderr
    assert CLINIC not in simulated.stdout


def test_a_failure_to_queue_stores_nothing_so_twilios_retry_forwards_it(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: ClinicMessage, now: datetime) -> int | None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(web.store, "enqueue_to_clinic", broken)
    assert web.sms("Can I come Thursday?", "SM-retry").status_code == 500
    monkeypatch.undo()
    assert _rows(web.store) == []
    with web.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbound_messages)).scalar_one() == 0
    assert web.sms("Can I come Thursday?", "SM-retry").status_code == 200  # Twilio retries the webhook
    (row,) = _rows(web.store)
    assert row.campaign == REPLY_FORWARD and row.status == "scheduled"
