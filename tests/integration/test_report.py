"""Issue 14 on SQLite and PostgreSQL: the report's facts from the store, the replies inbox,
the consent export, and holdout groups through planning and dispatch."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from followup.channels.memory import InMemoryChannel
from followup.config.loader import load_clinic
from followup.core.domain import ChannelName
from followup.core.holdout import HELD_OUT, in_holdout
from followup.core.report import build_report
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import plan_pending
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock
from tests.conftest import REPO
from tests.integration.test_event_planning import NOW, seed
from tests.report_history import T0, build

WEEK = timedelta(days=7)


def open_store(db_url: str) -> SqlStore:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    return store


def test_report_counts_a_constructed_history(db_url: str) -> None:
    store = open_store(db_url)
    build(store, reached=4, reached_rebooked=2, held=2, held_rebooked=1)
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=27)
    facts, bookings, opt_outs, replies = store.report_facts(start, end, WEEK)
    [step] = build_report(facts, bookings, opt_outs, replies, start, end, window=WEEK, price_per_segment=0.01)
    row = step.as_json()
    assert (row["campaign"], row["step"]) == ("rebook_nudge", "first_nudge")
    assert row["planned"] == 4 + 5 + 1  # reached, the five other outcomes, x-stop; not the held out
    assert (row["sent"], row["delivered"], row["failed"], row["expired"]) == (5, 2, 1, 1)
    assert (row["suppressed"], row["cancelled"]) == (2, 1)
    assert step.suppressed_by_reason["consent"] == 1 and step.suppressed_by_reason["duplicate"] == 1
    assert step.cancelled_by_reason["rebooked"] == 1
    assert row["email_bounces"] == 1
    assert row["opted_out_after"] == 1 and row["replied"] == 1
    assert row["rebooked_attributed"] == 2
    assert row["conversion_rate"] == 0.4  # 2 bookings / 5 touches
    assert (row["holdout_clients"], row["holdout_rebooked"]) == (2, 1)
    assert row["sms_segments"] == 5 and row["sms_cost"] == 0.05  # a 1-segment body each
    store.close()


def test_replies_inbox_lists_and_handles(db_url: str) -> None:
    store = open_store(db_url)
    built = build(store)
    found = store.replies()
    assert [r.text for r in found] == ["Wrong number", "Who is this?"]  # newest first
    stranger, reply = found
    assert stranger.client is None and stranger.answered_id is None
    assert reply.client == "x-stop" and reply.client_name == "Ana3000 Diaz"
    assert reply.answered_campaign == "rebook_nudge" and reply.answered_at is not None
    assert reply.answered_body is not None and reply.answered_body.startswith("Hi Ana")
    later = T0 + timedelta(days=1)
    assert store.handle_reply(reply.id, later) is True
    assert store.handle_reply(reply.id, later) is False
    assert store.handle_reply(max(built.reply_ids) + 100, later) is None
    assert [r.id for r in store.replies(unhandled=True)] == [stranger.id]
    assert next(r for r in store.replies() if r.id == reply.id).handled_at == later
    store.close()


def test_consent_records_are_the_whole_ledger(db_url: str) -> None:
    store = open_store(db_url)
    build(store)
    records = store.consent_records()
    assert records, "the constructed history records an opt-out"
    last = records[-1]
    assert (last.client, last.channel, last.purpose, last.action, last.source, last.wording) == (
        "x-stop",
        "sms",
        "all",
        "opt_out",
        "keyword",
        "STOP",
    )
    assert last.at == T0 + timedelta(days=2)
    store.close()


def test_a_holdout_client_gets_nothing_from_the_campaign_and_is_recorded(db_url: str) -> None:
    shipped = load_clinic(REPO / "config", REPO / "templates")
    tips = shipped.campaigns["self_care_tips"].model_copy(update={"holdout": 0.5})
    clinic = dataclasses.replace(shipped, campaigns={**shipped.campaigns, "self_care_tips": tips})
    store = open_store(db_url)
    seed(store, 40)
    plan_pending(store, clinic, NOW)
    rows = [m for m in store.messages(MessageQuery()) if m.campaign == "self_care_tips"]
    held = {m.client_external_id for m in rows if m.status_reason == HELD_OUT}
    assert held == {m.client_external_id for m in rows if in_holdout("self_care_tips", m.client_external_id, 0.5)}
    assert 10 < len(held) < 30
    assert all(m.status == "cancelled" for m in rows if m.client_external_id in held)
    # Care is never held out.
    assert not [m for m in store.messages(MessageQuery()) if m.purpose == "care" and m.status_reason == HELD_OUT]
    # Planning again changes nothing; the dispatcher never sends a held-out message.
    again = plan_pending(store, clinic, NOW + timedelta(minutes=1), restart=True)
    assert again.changes.created == again.changes.cancelled == again.changes.revived == 0
    clock = FixedClock(NOW + timedelta(days=8))
    channels: dict[ChannelName, InMemoryChannel] = {"sms": InMemoryChannel("sms"), "email": InMemoryChannel("email")}
    dispatcher = Dispatcher(store, clinic, channels, clock, worker="t", batch_size=500)
    dispatcher.run_once()
    after = [m for m in store.messages(MessageQuery()) if m.campaign == "self_care_tips"]
    assert all(m.status == "cancelled" for m in after if m.client_external_id in held)
    # Removing the holdout brings their messages back.
    plan_pending(store, shipped, NOW)
    revived = [
        m for m in store.messages(MessageQuery()) if m.campaign == "self_care_tips" and m.status_reason == HELD_OUT
    ]
    assert not revived
    store.close()


def _email_after_the_sms(store: SqlStore, client_id: int) -> None:
    """An aftercare email sent to x-stop between the SMS and their text back."""
    from tests.report_history import _message

    body = "Hi Ana,\n\nThank you for coming in today.\n\n" + "Drink water and rest. " * 20
    _message(
        store,
        client_id,
        "care/x-stop",
        campaign="post_session_care",
        step="thanks",
        purpose="care",
        status="sent",
        sent_at=T0 + timedelta(minutes=30),
        sent_channel="email",
        body=body,
        due_at=T0 + timedelta(minutes=30),
    )


def test_a_text_reply_answers_the_last_sms_not_a_later_email(db_url: str) -> None:
    store = open_store(db_url)
    built = build(store)
    _email_after_the_sms(store, built.client_ids["x-stop"])
    reply = next(r for r in store.replies() if r.client == "x-stop")
    assert (reply.answered_campaign, reply.answered_step) == ("rebook_nudge", "first_nudge")
    assert reply.answered_body is not None and reply.answered_body.startswith("Hi Ana, it has been two weeks")
    store.close()
