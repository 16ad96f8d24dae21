"""What the rest of followup needs from storage, independent of the database.

:class:`followup.store.sql.SqlStore` implements it for SQLite and PostgreSQL; the
contract tests in ``tests/integration/test_store_contract.py`` run against both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from followup.core.domain import Client, Session
from followup.core.planner import PlanResult
from followup.core.report import Booking, ClientEvent, MessageFact
from followup.core.rules import MessageFacts, Traffic

Outcome = Literal["created", "updated", "unchanged"]
MessageStatus = Literal[
    "scheduled", "sending", "sent", "failed", "cancelled", "expired", "suppressed", "unknown", "unconfirmed"
]
# "unconfirmed": the provider's answer was lost and it cannot be asked (SMTP); not resent.
TERMINAL = frozenset({"sent", "failed", "cancelled", "expired", "suppressed", "unconfirmed"})

# Messages to the clinic or its owner (not to a client) are outbox rows without a client,
# under a reserved campaign name; ``client_external_id`` reads CLINIC for them.
CLINIC = "(clinic)"
REPLY_FORWARD = "reply_forward"  # a client's text, forwarded to the clinic's email (in core RESERVED_NAMES)
OWNER_ALERT = "owner_alert"  # a channel paused by an account fault: the owner must act
OWNER_DIGEST = "owner_digest"  # the weekly summary to the owner, Monday 8:00 clinic time
CLINIC_CAMPAIGNS = frozenset({REPLY_FORWARD, OWNER_ALERT, OWNER_DIGEST})


@dataclass(frozen=True)
class MessageRow:
    id: int
    key: str
    campaign: str
    step: str
    step_index: int
    client_id: int | None  # None: a message to the clinic/owner, sent to ``to_address``
    client_external_id: str  # CLINIC for a message to the clinic/owner
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
    to_address: str | None = None

    @property
    def to_clinic(self) -> bool:
        """A message to the clinic or its owner, not to a client: no consent, send window or
        caps apply (its expiry does)."""
        return self.client_id is None

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
class ClinicMessage:
    """An email to the clinic or its owner (a forwarded reply; later the weekly digest),
    rendered when it is put in the outbox and sent by the dispatcher like any message.
    ``key`` makes it idempotent (a replayed webhook adds nothing)."""

    key: str
    campaign: str  # one of CLINIC_CAMPAIGNS
    step: str
    to: str
    subject: str
    text: str
    due_at: datetime
    expires_at: datetime
    why: str = ""


@dataclass(frozen=True)
class ClientState:
    id: int
    client: Client
    sessions: list[Session]
    tips: list[str]  # tip ids sent to this client, oldest first


@dataclass
class OutboxEntry:
    """One of a client's messages as the caps and the duplicate guard see it.  Mutable: the
    dispatcher applies its own outcomes to it before they are stored (see
    :meth:`OutboxStore.dispatch_state`)."""

    id: int
    status: str
    purpose: str
    priority: str
    next_attempt_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    sent_channel: str | None
    body: str | None


@dataclass(frozen=True)
class DispatchState:
    """What the dispatcher needs to know about one client to decide, render and guard a send:
    the client (with sessions and tips) and the messages the caps and the duplicate guard
    look at (``outbox``, by message id)."""

    state: ClientState
    outbox: dict[int, OutboxEntry]


@dataclass(frozen=True)
class ClientMatch:
    """A stored client that shares a phone or email with an incoming record."""

    id: int
    external_id: str
    first_name: str
    last_name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class StoredClient:
    """A client as stored, with its database id (batched imports compare and merge against it)."""

    id: int
    client: Client


@dataclass(frozen=True)
class StoredSession:
    """A session as stored: its id, its client's id and its values (``client_external_id`` is "")."""

    id: int
    client_id: int
    session: Session


@dataclass(frozen=True)
class ConsentChange:
    """One consent-ledger entry for a change already made to the client row (an import's)."""

    client_id: int
    channel: str  # sms | email
    purpose: str  # care | marketing | all
    action: str  # opt_in | opt_out
    source: str  # FILE:ROW:COLUMN | default | api ...
    wording: str = ""


@dataclass
class PlanChanges:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    revived: int = 0
    interrupted: bool = False  # a stop was asked for before every client was planned

    def __iadd__(self, other: PlanChanges) -> PlanChanges:
        self.created += other.created
        self.updated += other.updated
        self.cancelled += other.cancelled
        self.revived += other.revived
        return self


@dataclass(frozen=True)
class PlanPass:
    """How far a pass of the planner over every client has got (see ``plan_passes``)."""

    fingerprint: str  # the campaign configuration it plans with
    cursor: int  # the last client id planned; the pass resumes after it
    started_at: datetime
    finished_at: datetime | None = None  # set once every client is planned


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
    warning: str | None = None  # recorded as a "warning" event before the outcome's own event


@dataclass
class MessageQuery:
    client_external_id: str | None = None
    statuses: Sequence[str] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    limit: int | None = None
    order: Literal["due", "id"] = "due"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendSlot:
    """A sender's answer before a send: go at ``at`` (a slot now taken), or, when
    ``paused_until`` is set, do not send before then (no slot taken).  ``fault``: an account
    fault the owner was alerted to and no send has cleared yet."""

    at: datetime
    paused_until: datetime | None = None
    reason: str | None = None
    fault: str | None = None


class PlanningStore(Protocol):
    """What planning needs: each client's state in, the plan's rows out."""

    def client_ids(self) -> list[int]: ...

    def client_state(self, client_id: int) -> ClientState: ...

    def apply_plan(self, client_id: int, result: PlanResult, now: datetime) -> PlanChanges: ...

    def client_states(self, client_ids: Sequence[int]) -> list[ClientState]:
        """The state of each client, in the order given (unknown ids left out), in a fixed
        number of queries."""
        ...

    def apply_plans(self, plans: Sequence[tuple[int, PlanResult]], now: datetime) -> dict[int, PlanChanges]:
        """:meth:`apply_plan` for a batch of ``(client id, plan)``, in one transaction;
        the changes per client id."""
        ...

    def client_ids_after(self, after: int, limit: int) -> list[int]:
        """Up to ``limit`` client ids greater than ``after``, ascending."""
        ...

    def count_clients_after(self, after: int) -> int: ...

    def plan_pass(self, name: str) -> PlanPass | None: ...

    def save_plan_pass(self, name: str, state: PlanPass, now: datetime) -> None: ...


class OutboxStore(Protocol):
    """The outbox as the dispatcher sees it: claim, lease, finish with its event (the source of truth)."""

    def claim_due(self, now: datetime, limit: int, worker: str) -> list[MessageRow]: ...

    def release(self, ids: Iterable[int], worker: str) -> None: ...

    def stale(self, now: datetime, lease: timedelta) -> list[MessageRow]: ...

    def take_over(self, message: MessageRow, worker: str, now: datetime) -> bool: ...

    def finish(self, message_id: int, worker: str | None, outcome: Finish, now: datetime) -> bool: ...

    def finish_many(self, worker: str, outcomes: Sequence[tuple[int, Finish, datetime]]) -> set[int]:
        """Record several claimed messages' outcomes (message id, outcome, when) in one
        transaction, each with its events, exactly as :meth:`finish` would one by one; the ids
        recorded (a message another worker owns now is left alone, as :meth:`finish` does)."""
        ...

    def dispatch_state(
        self, client_ids: Iterable[int], *, sent_since: datetime, due_before: datetime
    ) -> dict[int, DispatchState]:
        """Each client's :class:`DispatchState`, for a whole claimed batch in one transaction.
        ``outbox`` holds the client's messages that were sent or may have gone out
        (``sent``, ``unconfirmed``, ``unknown``) at or after ``sent_since`` (``sent_at``, else
        ``updated_at``), and those still to go (``scheduled``, ``sending``) with
        ``next_attempt_at`` before ``due_before``.  Raises ``LookupError`` for an unknown id."""
        ...

    def give_up_waiting(self, give_up: bool = True) -> None:
        """A worker asked to stop: any wait for another process's write lock (SQLite) ends at
        once with :class:`~followup.exceptions.StoreBusyError`, before its transaction begins.
        ``give_up=False`` undoes it (a worker starting)."""
        ...

    def pinned(self) -> AbstractContextManager[None]:
        """Every store call in this block (same thread) runs on one pooled connection, checked
        out (and health-checked) once; each call still commits on its own."""
        ...

    def traffic(self, client_id: int, now: datetime, exclude: int) -> Traffic: ...

    def recent_bodies(self, client_id: int, channel: str, since: datetime, exclude: int) -> list[tuple[int, str]]:
        """(id, body) of messages sent to this client on ``channel`` ("sms" or "email") at or
        after ``since``, oldest first, other than message ``exclude``.  "Sent" includes what may
        have gone out: ``unconfirmed`` and ``unknown`` (timed by their last update).  For the
        dispatcher's duplicate guard."""
        ...

    def has_message(self, key: str) -> bool:
        """Whether the outbox holds a message under this idempotency key (any status)."""
        ...

    def enqueue_to_clinic(self, message: ClinicMessage, now: datetime) -> int | None:
        """Put an email to the clinic/owner in the outbox (scheduled, due ``message.due_at``,
        no client); its id, or None when a message with this key exists already."""
        ...

    def messages(self, query: MessageQuery) -> list[MessageRow]: ...

    def message_pages(self, query: MessageQuery, page: int = 2_000) -> Iterator[list[MessageRow]]:
        """The rows of :meth:`messages`, in its order, as lists of at most ``page`` rows, each
        read when the caller asks for it (memory bounded by ``page`` for any outbox size).
        Rows changed between two pages may be missed or seen in their new place.
        Raises ValueError when ``page`` < 1."""
        ...

    def count_messages(self, query: MessageQuery) -> int:
        """How many rows :meth:`messages` would return (``query.limit`` caps the count)."""
        ...

    def events(self, message_id: int) -> list[tuple[datetime, str, str]]: ...

    def next_due(self) -> datetime | None: ...

    def counts(self) -> dict[str, int]: ...

    def claim_send_slot(self, sender: str, now: datetime, interval: timedelta) -> SendSlot:
        """The sender's next free slot (at or after ``now``), taken under a row lock so that
        all workers together keep ``interval`` between sends; nothing is taken while the sender
        is paused, nor written when ``interval`` is zero."""
        ...

    def sender_pauses(self, senders: Collection[str], now: datetime) -> dict[str, SendSlot]:
        """For each of ``senders``, what ``claim_send_slot(sender, now, timedelta(0))`` answers
        (paused until when and why, or free at ``now``; an outstanding fault either way), read in
        one query: nothing taken, nothing written."""
        ...

    def pause_sender(
        self, sender: str, until: datetime, now: datetime, *, reason: str, fault: bool, message_id: int | None = None
    ) -> bool:
        """Pause the sender for every worker until ``until`` (never shortening a longer pause).
        With ``fault`` (an account fault): True when no fault was outstanding, i.e. the owner
        must be alerted now; a ``owner_alert`` event is then stored on ``message_id``."""
        ...

    def clear_sender_fault(self, sender: str, now: datetime) -> None:
        """A message went out: the sender's account fault is over."""
        ...


class IntakeStore(Protocol):
    """Clients and sessions as imports, the API and the CLI write them."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def upsert_client(self, client: Client, now: datetime) -> tuple[int, Outcome]: ...

    def upsert_session(self, session: Session, client_id: int, now: datetime) -> tuple[int, Outcome]: ...

    def find_client_id(
        self, *, external_id: str | None = None, phone: str | None = None, email: str | None = None
    ) -> int | None: ...

    def client_external_id(self, client_id: int) -> str: ...

    def clients_with(self, *, phone: str | None = None, email: str | None = None) -> list[ClientMatch]:
        """Every client on this phone (E.164) or email (any case), oldest first: a family may share both."""
        ...

    def client_timezones(self) -> dict[str, str]: ...

    def client_zones(self, client_ids: Iterable[int]) -> dict[int, str]:
        """IANA zone of each client id given (ids with no client are left out)."""
        ...

    def set_session_status(self, external_id: str, status: str, now: datetime) -> int | None: ...

    def booked_sessions_ended(self, by: datetime) -> list[tuple[str, int]]: ...

    def next_session_end(self, after: datetime) -> datetime | None: ...

    def complete_ended_sessions(self, by: datetime, now: datetime) -> list[int]:
        """Mark every booked session that ended at or before ``by`` completed (one transaction);
        their clients' ids, sorted and unique."""
        ...

    def record_booking_refresh(self, now: datetime, source: str) -> None: ...

    def booking_data_at(self) -> datetime | None: ...

    # Batched imports: one query (or one executemany) per batch of rows, whatever its size
    # (callers keep batches to a few thousand rows).

    def clients_by_external_id(self, external_ids: Collection[str]) -> dict[str, StoredClient]:
        """The stored clients with these external ids, by external id."""
        ...

    def clients_on(self, phones: Collection[str], emails: Collection[str]) -> list[StoredClient]:
        """Every client on any of these phones (E.164) or emails (any case), oldest first."""
        ...

    def opted_out_by_clients(self, client_ids: Collection[int]) -> dict[int, set[str]]:
        """:meth:`ConsentStore.opted_out_by_client` for many clients (absent: nothing locked)."""
        ...

    def write_clients(self, new: Sequence[Client], changed: Sequence[StoredClient], now: datetime) -> dict[str, int]:
        """Insert ``new`` and overwrite ``changed`` (by id) in two executemany statements;
        returns the new clients' ids by external id."""
        ...

    def log_consents(self, changes: Sequence[ConsentChange], now: datetime) -> None:
        """Ledger entries (one executemany) for consent changes already written to the clients."""
        ...

    def suppressed_addresses(self, phones: Collection[str], emails: Collection[str]) -> set[str]:
        """Which of these phones (E.164) and emails (lower-cased) are on the suppression list."""
        ...

    def with_sessions(self, client_ids: Collection[int]) -> set[int]:
        """Which of these clients have at least one session (only they have anything to plan)."""
        ...

    def sessions_by_external_id(self, external_ids: Collection[str]) -> dict[str, StoredSession]: ...

    def write_sessions(
        self, new: Sequence[tuple[Session, int]], changed: Sequence[StoredSession], now: datetime
    ) -> None:
        """Insert ``new`` (session, client id) and overwrite ``changed`` (by id), one executemany each."""
        ...


class ConsentStore(Protocol):
    """The consent ledger: every grant and opt-out with its source."""

    def record_opt_out(self, client_id: int, channel: str, now: datetime, *, source: str, detail: str = "") -> None: ...

    def record_consent(
        self, client_id: int, channel: str, purpose: str, action: str, now: datetime, *, source: str, wording: str = ""
    ) -> None: ...

    def log_consent(
        self, client_id: int, channel: str, purpose: str, action: str, now: datetime, *, source: str, wording: str = ""
    ) -> None: ...

    def consent_history(self, client_id: int) -> list[dict[str, Any]]: ...

    def suppress(
        self, address: str, channel: str, purpose: str, now: datetime, *, source: str, detail: str = ""
    ) -> bool: ...

    def suppressed(self, address: str, channel: str) -> set[str]: ...

    def lift_suppression(
        self, address: str, channel: str, now: datetime, *, source: str, wording: str = ""
    ) -> dict[int, list[str]] | None:
        """Undo the address's opt-outs (START after STOP): each client on it gets back the
        consent flags ("sms_care", ...) it had before, nothing more; {client id: flags
        switched on}, or None when the address was not suppressed."""
        ...

    def enforce_suppressions(self, client_id: int, now: datetime) -> list[str]: ...

    def opted_out_by_client(self, client_id: int) -> set[str]: ...


class InboundStore(Protocol):
    """What webhooks write: inbound texts (idempotent by provider id) and delivery statuses."""

    def record_inbound(
        self, sid: str, client_id: int | None, sender: str, body: str, now: datetime, kind: str, keyword: str | None
    ) -> bool: ...

    def mark_forwarded(self, sid: str, now: datetime) -> None:
        """The text with this MessageSid was put in the outbox for the clinic (``forwarded_at``)."""
        ...

    def advance_delivery_status(
        self, message_id: int, status: str, rank: dict[str, int], now: datetime, *, sid: str | None = None
    ) -> int | None: ...


@dataclass(frozen=True)
class Reply:
    """A text a client sent that was no keyword, with the message it answered (the last one
    sent to that client at or before it; None when nothing had been sent).  Times are UTC."""

    id: int
    client: str | None  # external id; None: a number that is no client
    client_name: str | None
    sender: str  # the phone number it came from (E.164)
    text: str
    received_at: datetime
    handled_at: datetime | None
    answered_id: int | None = None
    answered_campaign: str | None = None
    answered_step: str | None = None
    answered_at: datetime | None = None
    answered_body: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    """One row of the consent ledger, for an auditor."""

    client: str  # external id
    channel: str  # sms | email
    purpose: str  # care | marketing | all
    action: str  # opt_in | opt_out
    source: str  # FILE:ROW:COLUMN | default | keyword | link | owner | provider | api | ...
    wording: str
    at: datetime


class ReportStore(Protocol):
    """What ``followup report``, ``replies`` and ``consent export`` read (and the one write:
    a reply handled)."""

    def report_facts(
        self, since: datetime, until: datetime, follow: timedelta
    ) -> tuple[list[MessageFact], list[Booking], list[ClientEvent], list[ClientEvent]]:
        """(messages due or sent, bookings made, opt-outs and replies received, each from
        ``since`` to ``until + follow``): what happens after a message counts while ``follow``
        lasts, and a later message may take the credit.  The caller keeps to the period."""
        ...

    def replies(self, *, unhandled: bool = False) -> list[Reply]: ...

    def handle_reply(self, reply_id: int, now: datetime) -> bool | None:
        """True: marked handled; False: it was already; None: no reply has this id."""
        ...

    def consent_records(
        self, since: datetime | None = None, until: datetime | None = None, action: str | None = None
    ) -> list[ConsentRecord]:
        """The consent ledger oldest first; only [``since``, ``until``) and one action when given."""
        ...

    def scheduled_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Client messages scheduled and due in [``since``, ``until``), per planned channel."""
        ...


@dataclass(frozen=True)
class MessageDay:
    """A client message for the dashboard's chart: when it was sent (else due), aware UTC, and
    its status (one of :data:`MessageStatus`)."""

    at: datetime
    status: str


class Store(PlanningStore, OutboxStore, IntakeStore, ConsentStore, InboundStore, ReportStore, Protocol):
    """Everything the engine, the web app and the CLI need from storage.

    :class:`followup.store.sql.SqlStore` implements it for SQLite and PostgreSQL (mypy
    checks that wherever a SqlStore is passed as a Store); only :mod:`followup.wiring`
    names the concrete class.  Modules that need less take one of the smaller ports.
    """

    def close(self) -> None: ...


class AdminStore(Protocol):
    """What the owner dashboard (``/admin``) reads beyond the report, and the owner's password
    hash, which ``followup admin set-password`` writes."""

    def admin_password_hash(self) -> str | None:
        """The owner's hash string (``scrypt$...``), None before a password was set."""
        ...

    def set_admin_password_hash(self, hashed: str, now: datetime) -> None: ...

    def message_days(self, since: datetime, until: datetime) -> list[MessageDay]:
        """Client messages sent (else due) in [since, until), oldest first."""
        ...

    def search_clients(self, text: str, phone: str | None = None) -> list[ClientMatch]:
        """Clients whose id, name or email contains ``text`` (any case) or whose phone is
        ``phone`` (E.164), by name, at most 50."""
        ...


class DashboardStore(Store, AdminStore, Protocol):
    """Everything the owner dashboard needs: the store, the report's reads, its own."""
