"""A constructed history for the report's tests: clients, their messages in every outcome,
bookings after them, opt-outs and replies, written through the real store (no mocks).

``build(store, reached=…, held=…)`` writes ``reached`` clients who got a rebook nudge and
``held`` clients held out of it; the first ``reached_rebooked`` / ``held_rebooked`` of each
group book three days later.  A held-out client who could not have been reached (no
consent) books too, and is left out of the comparison.  Six more clients give the other
outcomes one each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from followup.core.domain import Client, Consent, Session
from followup.core.holdout import HELD_OUT
from followup.store.schema import messages
from followup.store.sql import SqlStore
from followup.timeutil import zone

MIAMI = zone("America/New_York")
T0 = datetime(2026, 11, 2, 11, 0, tzinfo=MIAMI)  # Monday 11:00, the nudges' day
PERIOD = ("2026-11-01", "2026-11-30")


@dataclass(frozen=True)
class Built:
    client_ids: dict[str, int]
    reply_ids: list[int]


def _client(store: SqlStore, ref: str, i: int, consent: Consent | None = None) -> int:
    client_id, _ = store.upsert_client(
        Client(
            external_id=ref,
            first_name=f"Ana{i}",
            last_name="Diaz",
            phone=f"+1305555{i:04d}",
            email=f"{ref}@example.com",
            timezone="America/New_York",
            consent=consent or Consent(sms_marketing=True),
        ),
        T0 - timedelta(days=60),
    )
    return client_id


def _message(store: SqlStore, client_id: int, key: str, **values: Any) -> int:
    row: dict[str, Any] = {
        "idempotency_key": key,
        "campaign": "rebook_nudge",
        "step": "first_nudge",
        "step_index": 0,
        "client_id": client_id,
        "channel": "preferred",
        "purpose": "marketing",
        "priority": "nudge",
        "due_at": T0,
        "expires_at": T0 + timedelta(days=1),
        "status": "scheduled",
        "why": "constructed",
        "attempts": 0,
        "next_attempt_at": T0,
        "fell_back": False,
        "created_at": T0 - timedelta(days=14),
        "updated_at": T0,
    } | values
    with store.engine.begin() as conn:
        result = conn.execute(insert(messages).values(**row))
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def _sent(store: SqlStore, client_id: int, key: str, at: datetime, **values: Any) -> int:
    body = "Hi Ana, it has been two weeks: book your next session at example.com/book. Reply STOP to opt out"
    return _message(
        store, client_id, key, status="sent", sent_at=at, sent_channel="sms", body=body, due_at=at, **values
    )


def _booking(store: SqlStore, client_id: int, ref: str, at: datetime) -> None:
    start = at + timedelta(days=5)
    store.upsert_session(Session(f"{ref}-next", ref, start, start + timedelta(hours=1), "NMT 60"), client_id, at)


def build(
    store: SqlStore, *, reached: int = 4, reached_rebooked: int = 2, held: int = 2, held_rebooked: int = 0
) -> Built:
    ids: dict[str, int] = {}
    replies: list[int] = []
    for i in range(reached):
        ref = f"r{i:03d}"
        ids[ref] = _client(store, ref, i)
        at = T0 + timedelta(minutes=i)
        _sent(store, ids[ref], f"nudge/{ref}", at, delivery_status="delivered" if i % 2 == 0 else None)
        if i < reached_rebooked:
            _booking(store, ids[ref], ref, at + timedelta(days=3))
    for i in range(held):
        ref = f"h{i:03d}"
        ids[ref] = _client(store, ref, 1000 + i)
        _message(store, ids[ref], f"nudge/{ref}", status="cancelled", status_reason=HELD_OUT)
        if i < held_rebooked:
            _booking(store, ids[ref], ref, T0 + timedelta(days=3))
    # A held-out client the campaign could never have reached (no marketing consent on any
    # channel): left out of the comparison.
    ids["h-unreachable"] = _client(store, "h-unreachable", 1999, Consent(sms_marketing=False, email_marketing=False))
    _message(store, ids["h-unreachable"], "nudge/h-unreachable", status="cancelled", status_reason=HELD_OUT)
    _booking(store, ids["h-unreachable"], "h-unreachable", T0 + timedelta(days=1))
    # One of each other outcome.
    others = {
        "x-failed": {"status": "failed", "status_reason": "permanent failure", "sent_channel": "email"},
        "x-expired": {"status": "expired", "status_reason": "not sent by ..."},
        "x-consent": {"status": "suppressed", "status_reason": "no consent for marketing sms"},
        "x-duplicate": {"status": "suppressed", "status_reason": "duplicate"},
        "x-rebooked": {"status": "cancelled", "status_reason": "rebooked (session s-9)"},
    }
    for n, (ref, values) in enumerate(others.items()):
        ids[ref] = _client(store, ref, 2000 + n)
        _message(store, ids[ref], f"nudge/{ref}", **values)
    # A client who got the nudge, replied, then opted out two days later.
    ids["x-stop"] = _client(store, "x-stop", 3000)
    _sent(store, ids["x-stop"], "nudge/x-stop", T0)
    store.record_inbound(
        "SM-reply-1", ids["x-stop"], "+13055553000", "Who is this?", T0 + timedelta(hours=1), "reply", None
    )
    store.record_consent(
        ids["x-stop"], "sms", "all", "opt_out", T0 + timedelta(days=2), source="keyword", wording="STOP"
    )
    # A text from a number that is no client.
    store.record_inbound("SM-reply-2", None, "+13055559999", "Wrong number", T0 + timedelta(hours=2), "reply", None)
    replies = [r.id for r in store.replies()]
    return Built(ids, replies)
