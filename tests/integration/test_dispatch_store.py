"""The store calls the dispatcher's batches lean on, on SQLite and PostgreSQL: the senders'
pauses read together answer as one claim_send_slot each, and a batch's clients come back
whole whether they have sessions or not."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from followup.core.domain import Client, Consent, Session
from followup.store.sql import SqlStore
from followup.timeutil import UTC

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_sender_pauses_answer_as_claim_send_slot_does_for_each_sender(store: SqlStore) -> None:
    store.pause_sender("sms", NOW + timedelta(minutes=5), NOW, reason="429 slow down", fault=False)
    store.pause_sender("email", NOW - timedelta(minutes=1), NOW - timedelta(minutes=20), reason="bad key", fault=True)
    senders = ["sms", "email", "never-used"]
    together = store.sender_pauses(senders, NOW)
    one_by_one = {sender: store.claim_send_slot(sender, NOW, timedelta(0)) for sender in senders}
    assert together == one_by_one
    assert together["sms"].paused_until == NOW + timedelta(minutes=5)
    assert together["email"].paused_until is None and together["email"].fault == "bad key"
    assert store.sender_pauses([], NOW) == {}


def test_dispatch_state_has_clients_with_and_without_sessions(store: SqlStore) -> None:
    busy = Client(
        "c-busy",
        "Ana",
        "Diaz",
        phone="+13055550101",
        language="es",
        consent=Consent(sms_care=True, sms_marketing=True, email_care=False, email_marketing=False),
        language_source="owner",
    )
    idle = Client("c-idle", "Bo", email="bo@example.com", preferred_channel="email")
    busy_id, _ = store.upsert_client(busy, NOW)
    idle_id, _ = store.upsert_client(idle, NOW)
    for number, hours in ((1, 30), (2, 3), (3, 60)):
        start = NOW - timedelta(hours=hours)
        session = Session(
            f"s{number}", "c-busy", start, start + timedelta(hours=1), "NMT 60", "Kim", ("neck", "back"), "completed"
        )
        store.upsert_session(session, busy_id, NOW)
    states = store.dispatch_state([idle_id, busy_id, busy_id], sent_since=NOW - timedelta(days=1), due_before=NOW)
    assert set(states) == {busy_id, idle_id}
    for client_id in (busy_id, idle_id):
        assert states[client_id].state == store.client_state(client_id)
    assert [s.external_id for s in states[busy_id].state.sessions] == ["s3", "s1", "s2"]  # oldest first
    assert states[idle_id].state.sessions == [] and states[idle_id].state.client == idle
    assert states[busy_id].state.client == busy
    with pytest.raises(LookupError):
        store.dispatch_state([busy_id, 999_999], sent_since=NOW, due_before=NOW)
