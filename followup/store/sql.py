"""The store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Claiming is the one place the two differ in behaviour, not in code: the same
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`` runs on both; PostgreSQL
honours the row locks, SQLite ignores the clause and relies on ``BEGIN IMMEDIATE``
(see :mod:`followup.store.engine`) to make the whole statement single-writer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from followup.core.domain import Client, Session
from followup.core.planner import PlanResult
from followup.core.report import Booking, ClientEvent, MessageFact
from followup.core.rules import Traffic
from followup.logfmt import logfmt
from followup.store import admin_sql, dispatch_sql, migrate, planning_sql, report_sql
from followup.store.engine import give_up_waiting, keep_waiting, make_engine
from followup.store.port import (
    CLINIC,
    TERMINAL,
    ClientMatch,
    ClientState,
    ClinicMessage,
    ConsentChange,
    ConsentRecord,
    DispatchState,
    Finish,
    MessageDay,
    MessageQuery,
    MessageRow,
    OutboxEntry,
    Outcome,
    PlanChanges,
    PlanPass,
    Reply,
    SendSlot,
    StoredClient,
    StoredSession,
)
from followup.store.schema import (
    UTCDateTime,
    booking_refreshes,
    client_tips,
    clients,
    consent_events,
    delivery_events,
    inbound_messages,
    messages,
    plan_passes,
    sender_slots,
    sessions,
    suppressions,
)
from followup.timeutil import UTC, require_aware

log = logging.getLogger("followup.store")

_CLIENT_COLUMNS = (
    "first_name",
    "last_name",
    "phone",
    "email",
    "timezone",
    "language",
    "preferred_channel",
    "language_source",
)
_CONSENT_COLUMNS = ("sms_care", "sms_marketing", "email_care", "email_marketing")


def _same(a: Any, b: Any) -> bool:
    """Equality that holds across time zones: Python never calls an aware datetime in a DST
    fold or gap equal to one in another zone, even at the same instant (PEP 495)."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    return bool(a == b)


def _padded(values: Iterable[Any]) -> list[Any]:
    """The distinct ``values``, repeated up to the next power of two: an ``IN (...)`` list is
    rendered with one placeholder per value, and the driver keeps each distinct statement
    prepared (sqlite3 keeps 128, each holding thousands of placeholders: a batch import with a
    new list length every batch grew by ~40 MB per 100,000 rows); a few lengths keep it to a few."""
    distinct = list(dict.fromkeys(values))
    if not distinct:
        return distinct
    size = 8
    while size < len(distinct):
        size *= 2
    return distinct + [distinct[0]] * (size - len(distinct))


def _locked_flags(events: Iterable[Any]) -> set[str]:
    """The consent flags whose latest ledger entry (``events`` oldest first) is an opt-out."""
    latest: dict[str, str] = {}
    for event in events:
        purposes = ("care", "marketing") if event["purpose"] == "all" else (event["purpose"],)
        if event["action"] == "opt_in" and event["purpose"] == "marketing":
            purposes = ("care", "marketing")
        for purpose in purposes:
            flag = f"{event['channel']}_{purpose}"
            latest[flag] = event["action"] if event["source"] != "import" else latest.get(flag, "")
    return {flag for flag, action in latest.items() if action == "opt_out"}


# What simulate copies: everything the worker reads (replies and the ledger too: the owner's
# digest lists unanswered replies and the week's opt-outs).
_COPIED = (
    clients,
    sessions,
    messages,
    delivery_events,
    client_tips,
    suppressions,
    booking_refreshes,
    plan_passes,
    consent_events,
    inbound_messages,
)

# --- statements built once -------------------------------------------------------------
# Building a Core statement and its cache key per call was 25-30% of dispatch (bench/README.md);
# the dispatcher's per-batch statements are in dispatch_sql, run on the driver.


def _rows_select() -> Any:
    """The outbox rows as SqlStore._message reads them: the columns of
    dispatch_sql.MESSAGE_COLUMNS, then the client's and the session's external ids.
    Correlated primary-key lookups rather than joins: without statistics SQLite may put the
    clients table on the outside of a join and scan it for every claim."""
    client_ref = func.coalesce(
        select(clients.c.external_id).where(clients.c.id == messages.c.client_id).scalar_subquery(),
        literal(CLINIC),  # a message to the clinic/owner has no client
    )
    session_ref = select(sessions.c.external_id).where(sessions.c.id == messages.c.session_id).scalar_subquery()
    columns = [messages.c[name] for name in dispatch_sql.MESSAGE_COLUMNS]
    return select(*columns, client_ref.label("client_external_id"), session_ref.label("session_external_id"))


_SELECT_ROWS = _rows_select()
# Built once: each run of the dispatcher asks (simulate: at every event).  Both branches go by
# ix_messages_claim (status first).
_STALE = _SELECT_ROWS.where(
    or_(
        and_(messages.c.status == "sending", messages.c.claimed_at < bindparam("claimed_before", type_=UTCDateTime())),
        messages.c.status == "unknown",
    )
)
_INSERT_EVENT = insert(delivery_events)

# What simulate asks at every event, built once (see next_due, complete_ended_sessions).
_EARLIEST = select(func.min(messages.c.next_attempt_at)).where(messages.c.status == bindparam("status", type_=String()))
_ENDED = and_(sessions.c.status == "booked", sessions.c.end_at <= bindparam("by", type_=UTCDateTime()))
_ENDED_CLIENTS = select(sessions.c.client_id).where(_ENDED)
_COMPLETE_ENDED = (
    update(sessions).where(_ENDED).values(status="completed", updated_at=bindparam("now", type_=UTCDateTime()))
)
_NEXT_SESSION_END = select(func.min(sessions.c.end_at)).where(
    sessions.c.status == "booked", sessions.c.end_at > bindparam("after", type_=UTCDateTime())
)

# The senders' rows, by name (a pause is read without taking a slot).
_SENDER = select(sender_slots).where(sender_slots.c.sender == bindparam("sender", type_=String()))
_SENDER_LOCKED = _SENDER.with_for_update()


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._local = threading.local()
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self._insert_message = (
            dialect_insert(messages).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(messages.c.id)
        )

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """The transaction of an enclosing :meth:`transaction`, else a new one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        pinned: Connection | None = getattr(self._local, "pinned", None)
        if pinned is not None:
            with pinned.begin():
                yield pinned
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every store call in this block (same thread) one all-or-nothing transaction.
        Re-entrant: inside another transaction() it joins that one."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._begin() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """See :meth:`followup.store.port.OutboxStore.pinned`.  Each checkout from the pool
        costs a pre-ping round trip on PostgreSQL; the dispatcher holds one connection per run
        instead of checking one out for every claim, read and outcome."""
        if getattr(self._local, "pinned", None) is not None or getattr(self._local, "conn", None) is not None:
            yield
            return
        with self.engine.connect() as conn:
            self._local.pinned = conn
            try:
                yield
            finally:
                self._local.pinned = None

    @classmethod
    def from_url(cls, url: str) -> SqlStore:
        return cls(make_engine(url))

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def give_up_waiting(self, give_up: bool = True) -> None:
        """See :meth:`followup.store.port.OutboxStore.give_up_waiting`."""
        if give_up:
            give_up_waiting()
        else:
            keep_waiting()

    # --- clients and sessions ---------------------------------------------------

    @staticmethod
    def _client_values(client: Client) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(client, name) for name in _CLIENT_COLUMNS}
        for name in _CONSENT_COLUMNS:
            values[f"consent_{name}"] = getattr(client.consent, name)
        return values

    def upsert_client(self, client: Client, now: datetime) -> tuple[int, Outcome]:
        return self._upsert(clients, client.external_id, self._client_values(client), now)

    def _upsert(self, table: Table, external_id: str, values: dict[str, Any], now: datetime) -> tuple[int, Outcome]:
        """Insert or update the row with this external id; say which (re-imports report "unchanged")."""
        with self._begin() as conn:
            row = conn.execute(select(table).where(table.c.external_id == external_id)).mappings().first()
            if row is None:
                new_id = conn.execute(
                    insert(table).values(external_id=external_id, created_at=now, updated_at=now, **values)
                ).inserted_primary_key
                assert new_id is not None
                return int(new_id[0]), "created"
            if all(_same(row[k], v) for k, v in values.items()):
                return int(row["id"]), "unchanged"
            conn.execute(update(table).where(table.c.id == row["id"]).values(updated_at=now, **values))
            return int(row["id"]), "updated"

    def find_client_id(
        self, *, external_id: str | None = None, phone: str | None = None, email: str | None = None
    ) -> int | None:
        """Match by external id, then phone, then email (the order the import promises)."""
        with self._begin() as conn:
            for column, value in (
                (clients.c.external_id, external_id),
                (clients.c.phone, phone),
                (clients.c.email, email),
            ):
                if value:
                    found = conn.execute(select(clients.c.id).where(column == value).order_by(clients.c.id)).first()
                    if found is not None:
                        return int(found[0])
        return None

    def clients_with(self, *, phone: str | None = None, email: str | None = None) -> list[ClientMatch]:
        conditions = []
        if phone:
            conditions.append(clients.c.phone == phone)
        if email:
            conditions.append(func.lower(clients.c.email) == email.lower())
        if not conditions:
            return []
        columns = (clients.c.id, clients.c.external_id, clients.c.first_name, clients.c.last_name)
        with self._begin() as conn:
            rows = conn.execute(
                select(*columns, clients.c.phone, clients.c.email).where(or_(*conditions)).order_by(clients.c.id)
            ).all()
        return [ClientMatch(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), r[4], r[5]) for r in rows]

    def client_external_id(self, client_id: int) -> str:
        with self._begin() as conn:
            return str(conn.execute(select(clients.c.external_id).where(clients.c.id == client_id)).scalar_one())

    def upsert_session(self, session: Session, client_id: int, now: datetime) -> tuple[int, Outcome]:
        return self._upsert(sessions, session.external_id, self._session_values(session, client_id), now)

    # --- batched imports: one statement per batch, not per row ------------------------------

    def _stored_client(self, row: Any) -> StoredClient:
        return StoredClient(int(row["id"]), self._client(row))

    def clients_by_external_id(self, external_ids: Collection[str]) -> dict[str, StoredClient]:
        wanted = _padded(external_ids)
        if not wanted:
            return {}
        with self._begin() as conn:
            rows = conn.execute(select(clients).where(clients.c.external_id.in_(wanted))).mappings()
            return {str(r["external_id"]): self._stored_client(r) for r in rows}

    def clients_on(self, phones: Collection[str], emails: Collection[str]) -> list[StoredClient]:
        conditions = []
        if phones:
            conditions.append(clients.c.phone.in_(_padded(phones)))
        if emails:
            conditions.append(func.lower(clients.c.email).in_(_padded(e.lower() for e in emails)))
        if not conditions:
            return []
        with self._begin() as conn:
            rows = conn.execute(select(clients).where(or_(*conditions)).order_by(clients.c.id)).mappings()
            return [self._stored_client(r) for r in rows]

    def opted_out_by_clients(self, client_ids: Collection[int]) -> dict[int, set[str]]:
        wanted = _padded(client_ids)
        if not wanted:
            return {}
        columns = (consent_events.c.client_id, consent_events.c.channel, consent_events.c.purpose)
        with self._begin() as conn:
            rows = conn.execute(
                select(*columns, consent_events.c.action, consent_events.c.source)
                .where(consent_events.c.client_id.in_(wanted))
                .order_by(consent_events.c.client_id, consent_events.c.id)
            ).mappings()
            events: dict[int, list[Any]] = {}
            for r in rows:
                events.setdefault(int(r["client_id"]), []).append(r)
        return {client_id: locked for client_id, found in events.items() if (locked := _locked_flags(found))}

    def write_clients(self, new: Sequence[Client], changed: Sequence[StoredClient], now: datetime) -> dict[str, int]:
        with self._begin() as conn:
            if changed:
                conn.execute(
                    update(clients).where(clients.c.id == bindparam("b_id")),
                    [{"b_id": c.id, "updated_at": now, **self._client_values(c.client)} for c in changed],
                )
            if not new:
                return {}
            conn.execute(
                insert(clients),
                [
                    {"external_id": c.external_id, "created_at": now, "updated_at": now, **self._client_values(c)}
                    for c in new
                ],
            )
            rows = conn.execute(
                select(clients.c.external_id, clients.c.id).where(
                    clients.c.external_id.in_(_padded(c.external_id for c in new))
                )
            )
            return {str(r[0]): int(r[1]) for r in rows}

    def log_consents(self, changes: Sequence[ConsentChange], now: datetime) -> None:
        if not changes:
            return
        with self._begin() as conn:
            conn.execute(
                insert(consent_events),
                [
                    {
                        "client_id": c.client_id,
                        "at": now,
                        "channel": c.channel,
                        "purpose": c.purpose,
                        "action": c.action,
                        "source": c.source,
                        "wording": c.wording[:2000],
                    }
                    for c in changes
                ],
            )

    def suppressed_addresses(self, phones: Collection[str], emails: Collection[str]) -> set[str]:
        conditions = []
        if phones:
            conditions.append(and_(suppressions.c.channel == "sms", suppressions.c.address.in_(_padded(phones))))
        if emails:
            lowered = _padded(e.lower() for e in emails)
            conditions.append(and_(suppressions.c.channel == "email", suppressions.c.address.in_(lowered)))
        if not conditions:
            return set()
        with self._begin() as conn:
            return {str(r[0]) for r in conn.execute(select(suppressions.c.address).where(or_(*conditions)))}

    def with_sessions(self, client_ids: Collection[int]) -> set[int]:
        wanted = _padded(client_ids)
        if not wanted:
            return set()
        with self._begin() as conn:
            rows = conn.execute(select(sessions.c.client_id).where(sessions.c.client_id.in_(wanted)).distinct())
            return {int(r[0]) for r in rows}

    @staticmethod
    def _session_values(session: Session, client_id: int) -> dict[str, Any]:
        return {
            "client_id": client_id,
            "start_at": session.start,
            "end_at": session.end,
            "service": session.service,
            "therapist": session.therapist,
            "focus_areas": ",".join(session.focus_areas),
            "status": session.status,
        }

    def sessions_by_external_id(self, external_ids: Collection[str]) -> dict[str, StoredSession]:
        wanted = _padded(external_ids)
        if not wanted:
            return {}
        with self._begin() as conn:
            rows = conn.execute(select(sessions).where(sessions.c.external_id.in_(wanted))).mappings()
            return {
                str(r["external_id"]): StoredSession(
                    int(r["id"]),
                    int(r["client_id"]),
                    Session(
                        external_id=r["external_id"],
                        client_external_id="",
                        start=r["start_at"],
                        end=r["end_at"],
                        service=r["service"],
                        therapist=r["therapist"],
                        focus_areas=tuple(f for f in r["focus_areas"].split(",") if f),
                        status=r["status"],
                    ),
                )
                for r in rows
            }

    def write_sessions(
        self, new: Sequence[tuple[Session, int]], changed: Sequence[StoredSession], now: datetime
    ) -> None:
        with self._begin() as conn:
            if changed:
                conn.execute(
                    update(sessions).where(sessions.c.id == bindparam("b_id")),
                    [
                        {"b_id": s.id, "updated_at": now, **self._session_values(s.session, s.client_id)}
                        for s in changed
                    ],
                )
            if new:
                conn.execute(
                    insert(sessions),
                    [
                        {
                            "external_id": session.external_id,
                            "created_at": now,
                            "updated_at": now,
                            **self._session_values(session, client_id),
                        }
                        for session, client_id in new
                    ],
                )

    def set_session_status(self, external_id: str, status: str, now: datetime) -> int | None:
        """Returns the session's client id, or None when there is no such session."""
        with self._begin() as conn:
            row = conn.execute(select(sessions.c.client_id).where(sessions.c.external_id == external_id)).first()
            if row is None:
                return None
            conn.execute(
                update(sessions).where(sessions.c.external_id == external_id).values(status=status, updated_at=now)
            )
            return int(row[0])

    def traffic(self, client_id: int, now: datetime, exclude: int) -> Traffic:
        """For the caps: this client's sends in the last 24 h and other messages due within 24 h."""
        with self._begin() as conn:
            sent = conn.execute(
                select(messages.c.sent_at, messages.c.purpose).where(
                    messages.c.client_id == client_id,
                    messages.c.status.in_(("sent", "unconfirmed")),
                    messages.c.sent_at > now - timedelta(hours=24),
                )
            ).all()
            upcoming = conn.execute(
                select(messages.c.next_attempt_at, messages.c.priority).where(
                    messages.c.client_id == client_id,
                    messages.c.status.in_(("scheduled", "sending")),
                    messages.c.id != exclude,
                    messages.c.next_attempt_at < now + timedelta(hours=24),
                )
            ).all()
        return Traffic(sent=tuple((r[0], r[1]) for r in sent), upcoming=tuple((r[0], r[1]) for r in upcoming))

    def recent_bodies(self, client_id: int, channel: str, since: datetime, exclude: int) -> list[tuple[int, str]]:
        """See :meth:`followup.store.port.OutboxStore.recent_bodies`."""
        require_aware(since, "since")
        when = func.coalesce(messages.c.sent_at, messages.c.updated_at)
        with self._begin() as conn:
            rows = conn.execute(
                select(messages.c.id, messages.c.body)
                .where(
                    messages.c.client_id == client_id,
                    messages.c.sent_channel == channel,
                    messages.c.status.in_(("sent", "unconfirmed", "unknown")),
                    messages.c.body.is_not(None),
                    messages.c.id != exclude,
                    when >= since,
                )
                .order_by(when, messages.c.id)
            ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    def record_opt_out(self, client_id: int, channel: str, now: datetime, *, source: str, detail: str = "") -> None:
        """The client may not be contacted on ``channel`` any more, for any purpose."""
        self.record_consent(client_id, channel, "all", "opt_out", now, source=source, wording=detail)

    def record_consent(
        self, client_id: int, channel: str, purpose: str, action: str, now: datetime, *, source: str, wording: str = ""
    ) -> None:
        """Change consent and write it to the ledger, in one transaction.

        ``purpose`` "all" covers care and marketing; opting in to "marketing" implies care.
        An opt-out belongs to the address, not only the client: the phone number (or
        email) goes on the suppression list and every client on it is opted out, each with
        a ledger row (a couple sharing a phone: one STOP stops both).  An opt-in lifts the
        address's suppression for that purpose and changes only this client.
        """
        if (
            channel not in ("sms", "email")
            or purpose not in ("all", "care", "marketing")
            or action not in ("opt_in", "opt_out")
        ):
            raise ValueError(f"bad consent change: {channel} {purpose} {action}")
        allow = action == "opt_in"
        purposes = {"all": ("care", "marketing"), "care": ("care",), "marketing": ("marketing",)}[purpose]
        if allow and purpose == "marketing":
            purposes = ("care", "marketing")
        values: dict[str, Any] = {f"consent_{channel}_{p}": allow for p in purposes} | {"updated_at": now}
        with self.transaction(), self._begin() as conn:
            address = self._address(conn, client_id, channel)
            targets = [client_id]
            if address is not None:
                scope = "marketing" if purpose == "marketing" else "all"
                if allow:
                    lifted = ("all", "marketing") if purpose in ("all", "marketing") else ("all",)
                    conn.execute(
                        delete(suppressions).where(
                            suppressions.c.address == address,
                            suppressions.c.channel == channel,
                            suppressions.c.purpose.in_(lifted),
                        )
                    )
                else:
                    self._suppress(conn, address, channel, scope, now, source=source, detail=wording)
                    targets += [i for i in self._ids_at(conn, address, channel) if i != client_id]
            for target in targets:
                conn.execute(update(clients).where(clients.c.id == target).values(**values))
                shared = "" if target == client_id else f" (same {'number' if channel == 'sms' else 'address'})"
                self.log_consent(target, channel, purpose, action, now, source=source, wording=wording + shared)
        log.info(logfmt(action, client_id=client_id, channel=channel, purpose=purpose, source=source))

    # --- the suppression list -------------------------------------------------------------

    @staticmethod
    def _address(conn: Connection, client_id: int, channel: str) -> str | None:
        column = clients.c.phone if channel == "sms" else clients.c.email
        value = conn.execute(select(column).where(clients.c.id == client_id)).scalar_one_or_none()
        if not value:
            return None
        return str(value) if channel == "sms" else str(value).lower()

    @staticmethod
    def _ids_at(conn: Connection, address: str, channel: str) -> list[int]:
        condition = clients.c.phone == address if channel == "sms" else func.lower(clients.c.email) == address
        return [int(r[0]) for r in conn.execute(select(clients.c.id).where(condition).order_by(clients.c.id))]

    @staticmethod
    def _flags_before(
        conn: Connection, address: str, channel: str, purpose: str, ids: Iterable[int]
    ) -> dict[str, dict[str, bool]]:
        """{client id: {"sms_care": bool, ...}}: the flags a suppression for ``purpose`` covers."""
        names = [f"{channel}_{f}" for f in (("care", "marketing") if purpose == "all" else ("marketing",))]
        wanted = list(ids)
        if not wanted:
            return {}
        rows = conn.execute(
            select(clients.c.id, *(clients.c[f"consent_{n}"] for n in names)).where(clients.c.id.in_(wanted))
        ).all()
        return {str(r[0]): {n: bool(v) for n, v in zip(names, r[1:], strict=True)} for r in rows}

    def _snapshot_into(self, conn: Connection, address: str, channel: str, purpose: str, ids: Iterable[int]) -> None:
        """Add clients not yet in a suppression's consent snapshot (the first STOP's values win)."""
        row = conn.execute(
            select(suppressions.c.id, suppressions.c.consent_before).where(
                suppressions.c.address == address, suppressions.c.channel == channel, suppressions.c.purpose == purpose
            )
        ).first()
        if row is None:
            return
        before: dict[str, dict[str, bool]] = json.loads(row[1] or "{}")
        missing = [i for i in ids if str(i) not in before]
        if missing:
            before |= self._flags_before(conn, address, channel, purpose, missing)
            conn.execute(
                update(suppressions).where(suppressions.c.id == row[0]).values(consent_before=json.dumps(before))
            )

    def _suppress(
        self, conn: Connection, address: str, channel: str, purpose: str, now: datetime, *, source: str, detail: str
    ) -> bool:
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        ids = self._ids_at(conn, address, channel)
        statement = (
            dialect_insert(suppressions)
            .values(
                address=address,
                channel=channel,
                purpose=purpose,
                source=source[:500],
                detail=detail[:2000],
                created_at=now,
                consent_before=json.dumps(self._flags_before(conn, address, channel, purpose, ids)),
            )
            .on_conflict_do_nothing(index_elements=["address", "channel", "purpose"])
            .returning(suppressions.c.id)
        )
        created = bool(conn.execute(statement).fetchall())
        if not created:
            self._snapshot_into(conn, address, channel, purpose, ids)
        return created

    def lift_suppression(
        self, address: str, channel: str, now: datetime, *, source: str, wording: str = ""
    ) -> dict[int, list[str]] | None:
        """Undo the STOP of this address (a START after a STOP): each client on it gets back
        exactly the flags they had before the STOP (the oldest STOP's snapshot wins), each change
        written to the ledger.  A STOP TIPS (a "marketing" suppression) is not undone: START
        answers STOP only.  Returns {client id: flags switched back on}, or None when the
        address had no STOP (nothing changes; the text is an ordinary reply)."""
        key = address if channel == "sms" else address.lower()
        restored: dict[int, list[str]] = {}
        with self.transaction(), self._begin() as conn:
            rows = conn.execute(
                select(suppressions.c.id, suppressions.c.consent_before)
                .where(
                    suppressions.c.address == key,
                    suppressions.c.channel == channel,
                    suppressions.c.purpose == "all",
                )
                .order_by(suppressions.c.id.desc())
            ).all()
            if not rows:
                return None
            before: dict[int, dict[str, bool]] = {}
            for _, snapshot in rows:  # newest first: an older snapshot overrides a newer one
                for client_id, flags in json.loads(snapshot or "{}").items():
                    before.setdefault(int(client_id), {}).update(flags)
            conn.execute(delete(suppressions).where(suppressions.c.id.in_([int(r[0]) for r in rows])))
            for client_id in self._ids_at(conn, key, channel):
                on = sorted(flag for flag, allowed in before.get(client_id, {}).items() if allowed)
                if not on:
                    continue
                conn.execute(
                    update(clients)
                    .where(clients.c.id == client_id)
                    .values(**{f"consent_{flag}": True for flag in on}, updated_at=now)
                )
                purposes = {flag.split("_", 1)[1] for flag in on}
                purpose = "all" if len(purposes) == 2 else purposes.pop()
                self.log_consent(client_id, channel, purpose, "opt_in", now, source=source, wording=wording)
                restored[client_id] = on
        log.info(logfmt("suppression_lifted", channel=channel, clients=len(restored), source=source))
        return restored

    def suppress(
        self, address: str, channel: str, purpose: str, now: datetime, *, source: str, detail: str = ""
    ) -> bool:
        """Put an address on the suppression list (a STOP from a number that is no client yet);
        False when it was there already.  Clients on it now are opted out too."""
        key = address if channel == "sms" else address.lower()
        with self.transaction(), self._begin() as conn:
            created = self._suppress(conn, key, channel, purpose, now, source=source, detail=detail)
            ids = self._ids_at(conn, key, channel)
        for client_id in ids:
            self.enforce_suppressions(client_id, now)
        return created

    def suppressed(self, address: str, channel: str) -> set[str]:
        """The purposes ("all", "marketing") this address is suppressed for."""
        key = address if channel == "sms" else address.lower()
        with self._begin() as conn:
            rows = conn.execute(
                select(suppressions.c.purpose).where(suppressions.c.address == key, suppressions.c.channel == channel)
            ).all()
        return {str(r[0]) for r in rows}

    def enforce_suppressions(self, client_id: int, now: datetime) -> list[str]:
        """Hold a client to the suppression list of their phone and email (a client imported after
        their number said STOP); returns the consent flags switched off, each written to the ledger."""
        switched: list[str] = []
        with self.transaction(), self._begin() as conn:
            row = conn.execute(select(clients).where(clients.c.id == client_id)).mappings().one()
            for channel in ("sms", "email"):
                address = self._address(conn, client_id, channel)
                if address is None:
                    continue
                found = conn.execute(
                    select(suppressions.c.purpose, suppressions.c.source).where(
                        suppressions.c.address == address, suppressions.c.channel == channel
                    )
                ).all()
                for purpose, source in found:
                    flags = ("care", "marketing") if purpose == "all" else ("marketing",)
                    if not any(row[f"consent_{channel}_{f}"] for f in flags):
                        continue
                    self._snapshot_into(conn, address, channel, str(purpose), [client_id])
                    conn.execute(
                        update(clients)
                        .where(clients.c.id == client_id)
                        .values(**{f"consent_{channel}_{f}": False for f in flags}, updated_at=now)
                    )
                    self.log_consent(
                        client_id,
                        channel,
                        str(purpose),
                        "opt_out",
                        now,
                        source="suppression list",
                        wording=f"{address} opted out earlier ({source})",
                    )
                    switched += [f"{channel}_{f}" for f in flags]
        return switched

    # --- booking data freshness -----------------------------------------------------------

    def record_booking_refresh(self, now: datetime, source: str) -> None:
        """Booking data arrived (an import, an API call); rebook nudges wait while it is stale."""
        with self._begin() as conn:
            conn.execute(insert(booking_refreshes).values(at=now, source=source[:500]))

    def booking_data_at(self) -> datetime | None:
        """When booking data last arrived, or None when it never has."""
        with self._begin() as conn:
            value = conn.execute(select(func.max(booking_refreshes.c.at))).scalar_one_or_none()
        return None if value is None else require_aware(value)

    def log_consent(
        self, client_id: int, channel: str, purpose: str, action: str, now: datetime, *, source: str, wording: str = ""
    ) -> None:
        """A ledger entry for a change already made to the client row (by an import)."""
        with self._begin() as conn:
            conn.execute(
                insert(consent_events).values(
                    client_id=client_id,
                    at=now,
                    channel=channel,
                    purpose=purpose,
                    action=action,
                    source=source,
                    wording=wording[:2000],
                )
            )

    # --- inbound texts and delivery callbacks ---------------------------------------------

    def record_inbound(
        self, sid: str, client_id: int | None, sender: str, body: str, now: datetime, kind: str, keyword: str | None
    ) -> bool:
        """Store a text a client sent; False when this MessageSid was seen before (a replay)."""
        with self._begin() as conn:
            dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
            statement = (
                dialect_insert(inbound_messages)
                .values(
                    message_sid=sid,
                    client_id=client_id,
                    from_number=sender,
                    body=body[:1600],
                    received_at=now,
                    kind=kind,
                    keyword=keyword,
                )
                .on_conflict_do_nothing(index_elements=["message_sid"])
                .returning(inbound_messages.c.id)
            )
            return bool(conn.execute(statement).fetchall())

    def mark_forwarded(self, sid: str, now: datetime) -> None:
        with self._begin() as conn:
            conn.execute(
                update(inbound_messages)
                .where(inbound_messages.c.message_sid == sid, inbound_messages.c.forwarded_at.is_(None))
                .values(forwarded_at=now)
            )

    def advance_delivery_status(
        self, message_id: int, status: str, rank: dict[str, int], now: datetime, *, sid: str | None = None
    ) -> int | None:
        """Move a message's delivery status forward only (callbacks arrive in any order).
        Returns the message's client id, or None for an unknown message.  With ``sid`` (the
        callback's MessageSid), a message whose stored provider id is set and differs is left
        alone (None, logged): a callback only ever changes the message it is about."""
        with self._begin() as conn:
            row = conn.execute(
                select(messages.c.delivery_status, messages.c.client_id, messages.c.provider_id).where(
                    messages.c.id == message_id
                )
            ).first()
            if row is None:
                return None
            if sid is not None and row[2] is not None and row[2] != sid:
                log.warning(logfmt("status_sid_mismatch", m=message_id, stored=row[2], callback=sid))
                return None
            if row[1] is None:
                return None  # a message to the clinic (email): no client, no SMS callbacks
            if row[0] is None or rank[status] > rank.get(row[0], -1):
                conn.execute(
                    update(messages).where(messages.c.id == message_id).values(delivery_status=status, updated_at=now)
                )
            return int(row[1])

    def consent_history(self, client_id: int) -> list[dict[str, Any]]:
        with self._begin() as conn:
            rows = conn.execute(
                select(consent_events).where(consent_events.c.client_id == client_id).order_by(consent_events.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def opted_out_by_client(self, client_id: int) -> set[str]:
        """Consent flags (``sms_marketing``...) whose latest ledger entry is an opt-out the
        client or a provider made: an import must never switch those back on."""
        return _locked_flags(self.consent_history(client_id))

    def client_ids(self) -> list[int]:
        with self._begin() as conn:
            return [int(r[0]) for r in conn.execute(select(clients.c.id).order_by(clients.c.id))]

    def client_timezones(self) -> dict[str, str]:
        """Each client's zone under every reference an import may use (id, phone, email)."""
        out: dict[str, str] = {}
        ids: dict[str, str] = {}
        with self._begin() as conn:
            for row in conn.execute(
                select(clients.c.external_id, clients.c.phone, clients.c.email, clients.c.timezone)
            ):
                for ref in (row[2], row[1]):
                    if ref:
                        out.setdefault(ref, row[3])
                ids[row[0]] = row[3]
        return out | ids  # an external id wins a clash with another client's phone or email

    _client = staticmethod(planning_sql.client_from_row)  # one row -> Client mapping for every read

    def client_state(self, client_id: int) -> ClientState:
        with self._begin() as conn:
            return self._client_state(conn, client_id)

    _session = staticmethod(planning_sql.session_from_row)

    def _client_state(self, conn: Connection, client_id: int) -> ClientState:
        crow = conn.execute(select(clients).where(clients.c.id == client_id)).mappings().one()
        client = self._client(crow)
        srows = conn.execute(
            select(sessions).where(sessions.c.client_id == client_id).order_by(sessions.c.start_at)
        ).mappings()
        found = [self._session(r, client.external_id) for r in srows]
        tips = [
            str(r[0])
            for r in conn.execute(
                select(client_tips.c.tip_id)
                .where(client_tips.c.client_id == client_id)
                .order_by(client_tips.c.sent_at, client_tips.c.id)
            )
        ]
        return ClientState(id=client_id, client=client, sessions=found, tips=tips)

    def dispatch_state(
        self, client_ids: Iterable[int], *, sent_since: datetime, due_before: datetime
    ) -> dict[int, DispatchState]:
        """See :meth:`followup.store.port.OutboxStore.dispatch_state`."""
        require_aware(sent_since, "sent_since")
        require_aware(due_before, "due_before")
        ids = sorted(set(client_ids))
        if not ids:
            return {}
        with self._begin() as conn:
            visits_rows, tip_rows, outbox_rows = dispatch_sql.client_state_rows(
                conn, self.dialect, ids, sent_since, due_before
            )
        # Rows read by position (dispatch_sql.CLIENT_SESSION_COLUMNS, in order), made into
        # what planning_sql.client_from_row / session_from_row make.
        found: dict[int, Client] = {}
        visits: dict[int, list[Session]] = {i: [] for i in ids}
        for r in visits_rows:
            client_id = int(r[0])
            client = found.get(client_id)
            if client is None:
                client = found[client_id] = planning_sql.client_from_values(r)
            external_id, start, end, service, therapist, focus, status = r[14:21]
            if external_id is None:
                continue  # a client without sessions
            visits[client_id].append(
                Session(
                    external_id=external_id,
                    client_external_id=client.external_id,
                    start=start,
                    end=end,
                    service=service,
                    therapist=therapist,
                    focus_areas=tuple(f for f in focus.split(",") if f),
                    status=status,
                )
            )
        missing = set(ids) - set(found)
        if missing:
            raise LookupError(f"no client with id {sorted(missing)}")
        tips: dict[int, list[str]] = {i: [] for i in ids}
        for tip in tip_rows:
            tips[int(tip[0])].append(str(tip[1]))
        outbox: dict[int, dict[int, OutboxEntry]] = {i: {} for i in ids}
        for m in outbox_rows:
            outbox[int(m[1])][int(m[0])] = OutboxEntry(
                id=int(m[0]),
                status=m[2],
                purpose=m[3],
                priority=m[4],
                next_attempt_at=m[5],
                updated_at=m[6],
                sent_at=m[7],
                sent_channel=m[8],
                body=m[9],
            )
        return {
            i: DispatchState(
                state=ClientState(id=i, client=found[i], sessions=visits[i], tips=tips[i]), outbox=outbox[i]
            )
            for i in ids
        }

    # --- planning ---------------------------------------------------------------

    def apply_plan(self, client_id: int, result: PlanResult, now: datetime) -> PlanChanges:
        return self.apply_plans([(client_id, result)], now)[client_id]

    def apply_plans(self, plans: Sequence[tuple[int, PlanResult]], now: datetime) -> dict[int, PlanChanges]:
        """See :func:`followup.store.planning_sql.apply_plans`."""
        require_aware(now, "now")
        with self._begin() as conn:
            return planning_sql.apply_plans(conn, self.dialect, plans, now)

    def client_states(self, client_ids: Sequence[int]) -> list[ClientState]:
        with self._begin() as conn:
            return planning_sql.client_states(conn, client_ids)

    def client_ids_after(self, after: int, limit: int) -> list[int]:
        with self._begin() as conn:
            return planning_sql.client_ids_after(conn, after, limit)

    def count_clients_after(self, after: int) -> int:
        with self._begin() as conn:
            return planning_sql.count_clients_after(conn, after)

    def plan_pass(self, name: str) -> PlanPass | None:
        with self._begin() as conn:
            return planning_sql.plan_pass(conn, name)

    def save_plan_pass(self, name: str, state: PlanPass, now: datetime) -> None:
        require_aware(now, "now")
        with self._begin() as conn:
            planning_sql.save_plan_pass(conn, self.dialect, name, state, now)

    def has_message(self, key: str) -> bool:
        with self._begin() as conn:
            found = conn.execute(select(messages.c.id).where(messages.c.idempotency_key == key)).first()
            return found is not None

    def enqueue_to_clinic(self, message: ClinicMessage, now: datetime) -> int | None:
        """See :meth:`followup.store.port.OutboxStore.enqueue_to_clinic`."""
        require_aware(now, "now")
        values: dict[str, Any] = {
            "idempotency_key": message.key,
            "campaign": message.campaign,
            "step": message.step,
            "step_index": 0,
            "client_id": None,
            "session_id": None,
            "channel": "email",
            "purpose": "care",
            "priority": "clinic",
            "due_at": message.due_at,
            "expires_at": message.expires_at,
            "status": "scheduled",
            "why": message.why[:300],
            "attempts": 0,
            "next_attempt_at": message.due_at,
            "fell_back": False,
            "to_address": message.to,
            "subject": message.subject,
            "body": message.text,
            "created_at": now,
            "updated_at": now,
        }
        with self._begin() as conn:
            rows = conn.execute(self._insert_message, values).fetchall()
            if not rows:
                return None
            message_id = int(rows[0][0])
            self._event(conn, message_id, now, "scheduled", f"to {message.to}")
            return message_id

    # --- dispatching ------------------------------------------------------------

    def _select_rows(self) -> Any:
        return _SELECT_ROWS

    @staticmethod
    def _message(row: Any) -> MessageRow:
        """A row of :func:`_rows_select` (columns in the order of ``_MESSAGE_COLUMNS``, then the
        client's and the session's external ids) as a MessageRow."""
        (
            message_id,
            key,
            campaign,
            step,
            step_index,
            client_id,
            session_id,
            channel,
            sent_channel,
            purpose,
            priority,
            due_at,
            expires_at,
            status,
            status_reason,
            why,
            attempts,
            next_attempt_at,
            claimed_by,
            claimed_at,
            provider_id,
            error,
            tip_id,
            subject,
            body,
            sent_at,
            fell_back,
            to_address,
            client_external_id,
            session_external_id,
        ) = row
        return MessageRow(
            id=message_id,
            key=key,
            campaign=campaign,
            step=step,
            step_index=step_index,
            client_id=client_id,
            client_external_id=client_external_id,
            session_id=session_id,
            session_external_id=session_external_id,
            channel=channel,
            sent_channel=sent_channel,
            purpose=purpose,
            priority=priority,
            due_at=due_at,
            expires_at=expires_at,
            status=status,
            status_reason=status_reason,
            why=why,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            claimed_by=claimed_by,
            claimed_at=claimed_at,
            provider_id=provider_id,
            error=error,
            tip_id=tip_id,
            subject=subject,
            body=body,
            sent_at=sent_at,
            fell_back=bool(fell_back),
            to_address=to_address,
        )

    def claim_due(self, now: datetime, limit: int, worker: str) -> list[MessageRow]:
        require_aware(now, "now")
        with self._begin() as conn:
            claimed = [self._message(r) for r in dispatch_sql.claim(conn, self.dialect, now, limit, worker)]
        return sorted(claimed, key=lambda m: (m.next_attempt_at, m.id))

    def release(self, ids: Iterable[int], worker: str) -> None:
        """Give back claimed messages that were not attempted (shutdown mid-batch)."""
        wanted = list(ids)
        if not wanted:
            return
        with self._begin() as conn:
            conn.execute(
                update(messages)
                .where(messages.c.id.in_(wanted), messages.c.status == "sending", messages.c.claimed_by == worker)
                .values(status="scheduled", claimed_by=None, claimed_at=None)
            )

    def stale(self, now: datetime, lease: timedelta) -> list[MessageRow]:
        """Messages whose worker vanished mid-send, and unknown outcomes: to reconcile."""
        with self._begin() as conn:
            return [self._message(r) for r in conn.execute(_STALE, {"claimed_before": now - lease})]

    def take_over(self, message: MessageRow, worker: str, now: datetime) -> bool:
        """Claim a stale or unknown message for reconciliation.

        Compare-and-set on the row as the caller saw it (status and claim): of several
        workers that saw the same stale row, exactly one wins.
        """
        if message.status not in ("sending", "unknown"):
            return False
        with self._begin() as conn:
            return bool(
                conn.execute(
                    update(messages)
                    .where(
                        messages.c.id == message.id,
                        messages.c.status == message.status,
                        messages.c.claimed_by.is_not_distinct_from(message.claimed_by),
                        messages.c.claimed_at.is_not_distinct_from(message.claimed_at),
                    )
                    .values(status="sending", claimed_by=worker, claimed_at=now, updated_at=now)
                ).rowcount
            )

    def finish(self, message_id: int, worker: str | None, outcome: Finish, now: datetime) -> bool:
        """Record what happened to a claimed message; False if another worker owns it now."""
        with self._begin() as conn:
            return bool(self._finish_rows(conn, worker, [(message_id, outcome, now)]))

    def finish_many(self, worker: str, outcomes: Sequence[tuple[int, Finish, datetime]]) -> set[int]:
        """See :meth:`followup.store.port.OutboxStore.finish_many`."""
        if not outcomes:
            return set()
        with self._begin() as conn:
            return self._finish_rows(conn, worker, outcomes)

    def _finish_rows(
        self, conn: Connection, worker: str | None, outcomes: Sequence[tuple[int, Finish, datetime]]
    ) -> set[int]:
        """The outcomes of the rows still ours, their events (a warning before the outcome's
        own) and the tips sent: the same statements for one outcome or a batch."""
        rows: list[dispatch_sql.OutcomeRow] = []
        events: list[dispatch_sql.EventRow] = []
        tips: list[dispatch_sql.TipRow] = []
        for message_id, outcome, now in outcomes:
            sent = outcome.status == "sent"
            rows.append(
                (
                    message_id,
                    outcome.status,
                    outcome.reason,
                    now,
                    int(outcome.status in TERMINAL or outcome.status == "scheduled"),
                    int(outcome.attempted),
                    now if sent else None,
                    outcome.sent_channel,
                    outcome.provider_id,
                    outcome.subject,
                    outcome.body,
                    outcome.tip_id,
                    outcome.error,
                    outcome.next_attempt_at,
                    outcome.fell_back,
                )
            )
            if outcome.warning:
                events.append((message_id, now, "warning", outcome.warning[:2000]))
            detail = outcome.reason or outcome.error or outcome.provider_id or ""
            events.append((message_id, now, outcome.status, detail[:2000]))
            if sent and outcome.tip_id:
                tips.append((message_id, outcome.tip_id, now))
        return dispatch_sql.finish(conn, self.dialect, worker, rows, events, tips)

    @staticmethod
    def _event_row(message_id: int, now: datetime, kind: str, detail: str) -> dict[str, Any]:
        return {"message_id": message_id, "at": now, "kind": kind, "detail": detail[:2000]}

    def _event(self, conn: Connection, message_id: int, now: datetime, kind: str, detail: str) -> None:
        conn.execute(_INSERT_EVENT, self._event_row(message_id, now, kind, detail))

    # --- senders: the shared rate and pauses ----------------------------------------

    def _sender_row(self, conn: Connection, sender: str, now: datetime) -> Any:
        """The sender's row, created if missing, locked until commit (FOR UPDATE on PostgreSQL;
        on SQLite every transaction is BEGIN IMMEDIATE, one writer at a time)."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        conn.execute(
            dialect_insert(sender_slots)
            .values(sender=sender, next_slot_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["sender"])
        )
        return conn.execute(_SENDER_LOCKED, {"sender": sender}).mappings().one()

    def claim_send_slot(self, sender: str, now: datetime, interval: timedelta) -> SendSlot:
        """See :meth:`followup.store.port.OutboxStore.claim_send_slot`."""
        require_aware(now, "now")
        with self._begin() as conn:
            if interval <= timedelta(0):
                row = conn.execute(_SENDER, {"sender": sender}).mappings().first()
                if row is None:
                    return SendSlot(at=now)
            else:
                row = self._sender_row(conn, sender, now)
            if row["paused_until"] is not None and row["paused_until"] > now:
                return SendSlot(
                    at=now, paused_until=row["paused_until"], reason=row["pause_reason"], fault=row["fault"]
                )
            if interval <= timedelta(0):
                return SendSlot(at=now, fault=row["fault"])
            slot = max(row["next_slot_at"], now)
            conn.execute(
                update(sender_slots)
                .where(sender_slots.c.sender == sender)
                .values(next_slot_at=slot + interval, updated_at=now)
            )
            return SendSlot(at=slot, fault=row["fault"])

    def sender_pauses(self, senders: Collection[str], now: datetime) -> dict[str, SendSlot]:
        """See :meth:`followup.store.port.OutboxStore.sender_pauses`."""
        require_aware(now, "now")
        wanted = sorted(set(senders))
        found = {name: SendSlot(at=now) for name in wanted}
        if not wanted:
            return found
        with self._begin() as conn:
            for sender, paused_until, reason, fault in dispatch_sql.sender_rows(conn, self.dialect, wanted):
                if paused_until is not None and paused_until > now:
                    found[sender] = SendSlot(at=now, paused_until=paused_until, reason=reason, fault=fault)
                else:
                    found[sender] = SendSlot(at=now, fault=fault)
        return found

    def pause_sender(
        self, sender: str, until: datetime, now: datetime, *, reason: str, fault: bool, message_id: int | None = None
    ) -> bool:
        """See :meth:`followup.store.port.OutboxStore.pause_sender`."""
        require_aware(until, "until")
        with self._begin() as conn:
            row = self._sender_row(conn, sender, now)
            values: dict[str, Any] = {"updated_at": now}
            if row["paused_until"] is None or row["paused_until"] < until:
                values |= {"paused_until": until, "pause_reason": reason[:2000]}
            alert = fault and row["fault"] is None
            if alert:
                values |= {"fault": reason[:2000], "fault_since": now}
            conn.execute(update(sender_slots).where(sender_slots.c.sender == sender).values(**values))
            if alert and message_id is not None:
                self._event(
                    conn, message_id, now, "owner_alert", f"{sender} paused until {until.isoformat()}: {reason}"
                )
            return alert

    def clear_sender_fault(self, sender: str, now: datetime) -> None:
        with self._begin() as conn:
            conn.execute(
                update(sender_slots)
                .where(sender_slots.c.sender == sender, sender_slots.c.fault.is_not(None))
                .values(fault=None, fault_since=None, updated_at=now)
            )

    # --- reading ------------------------------------------------------------------

    def messages(self, query: MessageQuery) -> list[MessageRow]:
        statement = self._message_statement(query)
        order = (messages.c.due_at, messages.c.id) if query.order == "due" else (messages.c.id,)
        statement = statement.order_by(*order)
        if query.limit:
            statement = statement.limit(query.limit)
        with self._begin() as conn:
            return [self._message(r) for r in conn.execute(statement)]

    def message_pages(self, query: MessageQuery, page: int = 2_000) -> Iterator[list[MessageRow]]:
        """See :meth:`followup.store.port.OutboxStore.message_pages`.  Keyset pagination on
        (due_at, id) or id: each page is its own short read, so a slow reader of a long
        listing holds no lock (on SQLite every transaction takes the write lock)."""
        if page < 1:
            raise ValueError(f"page must be at least 1, not {page}")
        by_due = query.order == "due"
        order = (messages.c.due_at, messages.c.id) if by_due else (messages.c.id,)
        base = self._message_statement(query, walk_due=by_due).order_by(*order)
        left = query.limit or None
        after: MessageRow | None = None
        while left is None or left > 0:
            size = page if left is None else min(page, left)
            statement = base
            if after is not None:
                statement = statement.where(
                    tuple_(messages.c.due_at, messages.c.id) > tuple_(after.due_at, after.id)
                    if by_due
                    else messages.c.id > after.id
                )
            with self._begin() as conn:
                rows = [self._message(r) for r in conn.execute(statement.limit(size))]
            if not rows:
                return
            yield rows
            if len(rows) < size:
                return
            after = rows[-1]
            if left is not None:
                left -= len(rows)

    def count_messages(self, query: MessageQuery) -> int:
        """See :meth:`followup.store.port.OutboxStore.count_messages`."""
        counted = select(func.count()).select_from(self._message_statement(query).subquery())
        with self._begin() as conn:
            total = int(conn.execute(counted).scalar_one())
        return min(total, query.limit) if query.limit else total

    def client_zones(self, client_ids: Iterable[int]) -> dict[int, str]:
        """See :meth:`followup.store.port.IntakeStore.client_zones`."""
        ids = sorted(set(client_ids))
        out: dict[int, str] = {}
        with self._begin() as conn:
            for start in range(0, len(ids), 5_000):  # bound the IN list
                chunk = ids[start : start + 5_000]
                for row in conn.execute(select(clients.c.id, clients.c.timezone).where(clients.c.id.in_(chunk))):
                    out[int(row[0])] = str(row[1])
        return out

    def _message_statement(self, query: MessageQuery, *, walk_due: bool = False) -> Any:
        """The outbox rows ``query`` selects, unordered and unlimited.  ``walk_due``: the caller
        reads them in due order a page at a time, so the status test must not pick the claim
        index (status first): SQLite, without statistics, would then sort every row with that
        status for each page.  Written as ``status || ''`` it cannot use an index, and the rows
        are read along ``ix_messages_due`` instead, each page where the last one ended."""
        statement = self._select_rows()
        if query.client_external_id:
            statement = statement.where(
                messages.c.client_id.in_(select(clients.c.id).where(clients.c.external_id == query.client_external_id))
            )
        if query.statuses:
            status = (messages.c.status + literal("")) if walk_due else messages.c.status
            statement = statement.where(status.in_(list(query.statuses)))
        if query.due_before is not None:
            statement = statement.where(messages.c.due_at < query.due_before)
        if query.due_after is not None:
            statement = statement.where(messages.c.due_at >= query.due_after)
        return statement

    def events(self, message_id: int) -> list[tuple[datetime, str, str]]:
        with self._begin() as conn:
            rows = conn.execute(
                select(delivery_events.c.at, delivery_events.c.kind, delivery_events.c.detail)
                .where(delivery_events.c.message_id == message_id)
                .order_by(delivery_events.c.id)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    def next_due(self) -> datetime | None:
        """When the next scheduled message (or unknown outcome to reconcile) is due."""
        with self._begin() as conn:
            # One index lookup per status (ix_messages_claim: status, next_attempt_at): with
            # ``status IN (...)`` SQLite walked every scheduled row (simulate asks at every event).
            found = [conn.execute(_EARLIEST, {"status": status}).scalar_one() for status in ("scheduled", "unknown")]
        earliest = min((value for value in found if value is not None), default=None)
        return None if earliest is None else UTCDateTime().process_result_value(earliest, self.engine.dialect)

    def booked_sessions_ended(self, by: datetime) -> list[tuple[str, int]]:
        """(external id, client id) of sessions still marked booked whose end has passed."""
        with self._begin() as conn:
            rows = conn.execute(
                select(sessions.c.external_id, sessions.c.client_id).where(
                    sessions.c.status == "booked", sessions.c.end_at <= by
                )
            )
            return [(str(r[0]), int(r[1])) for r in rows]

    def complete_ended_sessions(self, by: datetime, now: datetime) -> list[int]:
        """Mark every session still booked whose end is at or before ``by`` completed, in one
        transaction; the ids of their clients, sorted, each once (``simulate``'s stand-in for
        the booking system saying so)."""
        require_aware(by, "by")
        require_aware(now, "now")
        with self._begin() as conn:
            client_ids = sorted({int(r[0]) for r in conn.execute(_ENDED_CLIENTS, {"by": by})})
            if client_ids:
                conn.execute(_COMPLETE_ENDED, {"by": by, "now": now})
            return client_ids

    def next_session_end(self, after: datetime) -> datetime | None:
        with self._begin() as conn:
            value = conn.execute(_NEXT_SESSION_END, {"after": after}).scalar_one()
            return UTCDateTime().process_result_value(value, self.engine.dialect) if value is not None else None

    def counts(self) -> dict[str, int]:
        with self._begin() as conn:
            rows = conn.execute(select(messages.c.status, func.count()).group_by(messages.c.status))
            return {str(r[0]): int(r[1]) for r in rows}

    def table_counts(self) -> dict[str, int]:
        with self._begin() as conn:
            return {
                table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (
                    clients,
                    sessions,
                    messages,
                    delivery_events,
                    client_tips,
                    suppressions,
                    booking_refreshes,
                )
            }

    def copy_into(self, other: SqlStore) -> None:
        """Copy every row into ``other`` (used by simulate, on an in-memory database)."""
        with self.engine.begin() as source, other.engine.begin() as target:
            for table in _COPIED:
                rows = [dict(r) for r in source.execute(select(table)).mappings()]
                if rows:
                    target.execute(insert(table), rows)

    # --- the report, the replies inbox, the consent export (store/report_sql.py) ----

    def report_facts(
        self, since: datetime, until: datetime, follow: timedelta
    ) -> tuple[list[MessageFact], list[Booking], list[ClientEvent], list[ClientEvent]]:
        with self._begin() as conn:
            return (
                # Messages after ``until`` too: a later touch, not one in the period, gets the
                # credit for a booking (last touch), and a later message is what a reply answered.
                report_sql.report_messages(conn, since, until + follow),
                report_sql.bookings(conn, since, until + follow),
                report_sql.opt_outs(conn, since, until + follow),
                report_sql.reply_events(conn, since, until + follow),
            )

    def replies(self, *, unhandled: bool = False) -> list[Reply]:
        with self._begin() as conn:
            return report_sql.replies(conn, unhandled=unhandled)

    def handle_reply(self, reply_id: int, now: datetime) -> bool | None:
        with self._begin() as conn:
            return report_sql.handle_reply(conn, reply_id, now)

    def consent_records(
        self, since: datetime | None = None, until: datetime | None = None, action: str | None = None
    ) -> list[ConsentRecord]:
        with self._begin() as conn:
            return report_sql.consent_records(conn, since, until, action)

    def scheduled_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        with self._begin() as conn:
            return report_sql.scheduled_counts(conn, since, until)

    # --- the owner dashboard (store/admin_sql.py) ------------------------------------------

    def admin_password_hash(self) -> str | None:
        with self._begin() as conn:
            return admin_sql.password_hash(conn)

    def set_admin_password_hash(self, hashed: str, now: datetime) -> None:
        with self._begin() as conn:
            admin_sql.set_password_hash(conn, hashed, now)

    def message_days(self, since: datetime, until: datetime) -> list[MessageDay]:
        with self._begin() as conn:
            return admin_sql.message_days(conn, since, until)

    def search_clients(self, text: str, phone: str | None = None) -> list[ClientMatch]:
        with self._begin() as conn:
            return admin_sql.search_clients(conn, text, phone)
