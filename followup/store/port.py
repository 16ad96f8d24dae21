"""What the rest of followup needs from storage, independent of the database.

:class:`followup.store.sql.SqlStore` implements it for SQLite and PostgreSQL; the
contract tests in ``tests/integration/test_store_contract.py`` run against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from followup.core.domain import Client, Session
from followup.core.planner import PlanResult
from followup.core.rules import MessageFacts, Traffic

Outcome = Literal["created", "updated", "unchanged"]
MessageStatus = Literal[
    "scheduled", "sending", "sent", "failed", "cancelled", "expired", "suppressed", "unknown", "unconfirmed"
]
# "unconfirmed": the provider's answer was lost and it cannot be asked (SMTP); not resent.
TERMINAL = frozenset({"sent", "failed", "cancelled", "expired", "suppressed", "unconfirmed"})


@dataclass(frozen=True)
class MessageRow:
    id: int
    key: str
    campaign: str
    step: str
    step_index: int
    client_id: int
    client_external_id: str
    session_id: int | None
    session_external_id: str | None
    channel: str
    sent_channel: str | None
    purpose: str
    priority: str
    due_at: datetime
    expires_at: datetime
    status: str
    status_reason: str | None
    why: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    provider_id: str | None
    error: str | None
    tip_id: str | None
    subject: str | None
    body: str | None
    sent_at: datetime | None
    fell_back: bool

    def facts(self) -> MessageFacts:
        return MessageFacts(
            campaign=self.campaign,
            step_index=self.step_index,
            channel=self.channel,
            purpose=self.purpose,
            due_at=self.due_at,
            expires_at=self.expires_at,
            session_external_id=self.session_external_id,
            fell_back=self.fell_back,
        )


@dataclass(frozen=True)
class ClientState:
    id: int
    client: Client
    sessions: list[Session]
    tips: list[str]  # tip ids sent to this client, oldest first


@dataclass
class PlanChanges:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    revived: int = 0

    def __iadd__(self, other: PlanChanges) -> PlanChanges:
        self.created += other.created
        self.updated += other.updated
        self.cancelled += other.cancelled
        self.revived += other.revived
        return self


@dataclass(frozen=True)
class Finish:
    """The outcome of one claimed message, recorded atomically with its event."""

    status: MessageStatus
    reason: str | None = None
    sent_channel: str | None = None
    provider_id: str | None = None
    subject: str | None = None
    body: str | None = None
    tip_id: str | None = None
    error: str | None = None
    attempted: bool = False
    next_attempt_at: datetime | None = None  # with status "scheduled": retry or deferral
    fell_back: bool | None = None


@dataclass
class MessageQuery:
    client_external_id: str | None = None
    statuses: Sequence[str] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    limit: int | None = None
    order: Literal["due", "id"] = "due"
    extra: dict[str, str] = field(default_factory=dict)


class Store(Protocol):
    """What planning, dispatching and simulating need; :class:`followup.store.sql.SqlStore`
    implements it (mypy checks that wherever a SqlStore is passed as a Store)."""

    def client_ids(self) -> list[int]: ...

    def client_state(self, client_id: int) -> ClientState: ...

    def apply_plan(self, client_id: int, result: PlanResult, now: datetime) -> PlanChanges: ...

    def claim_due(self, now: datetime, limit: int, worker: str) -> list[MessageRow]: ...

    def release(self, ids: Iterable[int], worker: str) -> None: ...

    def stale(self, now: datetime, lease: timedelta) -> list[MessageRow]: ...

    def take_over(self, message: MessageRow, worker: str, now: datetime) -> bool: ...

    def finish(self, message_id: int, worker: str | None, outcome: Finish, now: datetime) -> bool: ...

    def traffic(self, client_id: int, now: datetime, exclude: int) -> Traffic: ...

    def record_opt_out(self, client_id: int, channel: str, now: datetime, *, source: str, detail: str = "") -> None: ...

    def messages(self, query: MessageQuery) -> list[MessageRow]: ...
