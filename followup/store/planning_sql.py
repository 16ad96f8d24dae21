"""Planning on SQL, a batch of clients at a time: read their state, reconcile their plans.

Per batch the cost is a fixed number of statements (three reads of state; one read of the
sessions and messages the plans touch; one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for
the new messages, in slices of :data:`_SQLITE_ROWS` rows on SQLite; one UPDATE per changed
message and one multi-row INSERT of the cancellation events), each of a fixed text whatever the
number of clients or rows on PostgreSQL (``= ANY(array)``, ``unnest``), so psycopg parses
nothing new per batch.  Planning one message at a time with a statement built per row cost
about 10 times a plain batched insert (bench/README.md).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Integer, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from followup.core.domain import Client, Consent, Session
from followup.core.holdout import HELD_OUT
from followup.core.planner import PlanResult
from followup.store.port import ClientState, PlanChanges, PlanPass
from followup.store.schema import client_tips, clients, delivery_events, messages, plan_passes, sessions

CONSENT_COLUMNS = ("sms_care", "sms_marketing", "email_care", "email_marketing")

# Planner-made cancellations may be undone when the plan wants the message again
# (a rebooking that is itself cancelled brings the nudges back).
# "held out" too: a client leaves the holdout group when the campaign's holdout is lowered.
PLANNER_REASONS = ("rebooked", "session cancelled", "session done", "no longer planned", "a later visit", HELD_OUT)

# The columns apply_plans compares and rewrites.  Two UPDATE shapes, each compiled once: one
# that also moves the next attempt (the due time changed, or a revival), one that leaves it
# alone, since the dispatcher may have deferred the message since the plan read it.
_REPLANNED = ("due_at", "expires_at", "why", "priority", "purpose", "step_index", "status", "status_reason")


def _update(*columns: str) -> Any:
    return (
        update(messages)
        .where(messages.c.id == bindparam("b_id"), messages.c.status == bindparam("b_status"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


_UPDATE_MOVED = _update(*_REPLANNED, "next_attempt_at", "updated_at")
_UPDATE_KEPT = _update(*_REPLANNED, "updated_at")


# The columns of a planned message, in the order :func:`_insert_new` takes its rows.
_NEW_COLUMNS = (
    "idempotency_key",
    "campaign",
    "step",
    "step_index",
    "client_id",
    "session_id",
    "channel",
    "purpose",
    "priority",
    "due_at",
    "expires_at",
    "status",
    "status_reason",
    "why",
    "attempts",
    "next_attempt_at",
    "fell_back",
    "created_at",
    "updated_at",
)
_COLUMN_LIST = ", ".join(_NEW_COLUMNS)
_CONFLICT = "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, client_id"

# PostgreSQL: one array per column, unnested into rows: a statement of fixed text whatever the
# number of rows, its arrays sent in binary (``%(name)b``; psycopg's text form of an array of
# strings costs a regex per element).  A multi-row VALUES (SQLAlchemy's insertmanyvalues) is a
# new text of 19 placeholders a row each batch, and psycopg's parsing of those texts cost more
# than the inserts themselves (bench/README.md, planning-postgresql).
_PG_ARRAY_TYPES = {
    "step_index": "INTEGER",
    "client_id": "INTEGER",
    "session_id": "INTEGER",
    "attempts": "INTEGER",
    "fell_back": "BOOLEAN",
    "due_at": "TIMESTAMP WITH TIME ZONE",
    "expires_at": "TIMESTAMP WITH TIME ZONE",
    "next_attempt_at": "TIMESTAMP WITH TIME ZONE",
    "created_at": "TIMESTAMP WITH TIME ZONE",
    "updated_at": "TIMESTAMP WITH TIME ZONE",
}
# Built from the constant names above only, never from data: S608 does not apply.
_PG_INSERT = (
    f"INSERT INTO {messages.name} ({_COLUMN_LIST}) SELECT * FROM unnest("  # noqa: S608
    + ", ".join(f"CAST(%({name})b AS {_PG_ARRAY_TYPES.get(name, 'VARCHAR')}[])" for name in _NEW_COLUMNS)
    + f") {_CONFLICT}"
)

# SQLite: a multi-row VALUES of DB-API parameters, up to this many rows a statement (SQLite
# allows 32,766 parameters a statement since 3.32; 19 a row).
_SQLITE_ROWS = 500


def _sqlite_insert(rows: int) -> str:
    values = ", ".join(["(" + ", ".join("?" * len(_NEW_COLUMNS)) + ")"] * rows)
    return f"INSERT INTO {messages.name} ({_COLUMN_LIST}) VALUES {values} {_CONFLICT}"  # noqa: S608 - constants only


def _insert_new(conn: Connection, dialect: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert ``rows`` (tuples in :data:`_NEW_COLUMNS` order, values as the driver takes them:
    see :func:`_to_db`), skipping any whose idempotency key exists; the client id of each row
    inserted."""
    if dialect == "postgresql":
        columns = {name: [row[i] for row in rows] for i, name in enumerate(_NEW_COLUMNS)}
        return [int(r[1]) for r in conn.exec_driver_sql(_PG_INSERT, columns)]
    inserted: list[int] = []
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        flat = tuple(value for row in chunk for value in row)
        inserted.extend(int(r[1]) for r in conn.exec_driver_sql(_sqlite_insert(len(chunk)), flat))
    return inserted


def _to_db(conn: Connection) -> tuple[Callable[[datetime], Any], Any]:
    """How this connection's driver takes a timestamp and ``False``: the columns' own SQLAlchemy
    bind processors (UTC; on SQLite a naive UTC text), applied by hand since the inserts above
    bypass SQLAlchemy's per-row processing."""
    return _to_db_for(conn.dialect)


@functools.lru_cache(maxsize=8)
def _to_db_for(dialect: Dialect) -> tuple[Callable[[datetime], Any], Any]:
    # dialect_impl: the type as this dialect runs it (on SQLite, DateTime's text format).
    stamp = messages.c.due_at.type.dialect_impl(dialect).bind_processor(dialect)
    boolean = messages.c.fell_back.type.dialect_impl(dialect).bind_processor(dialect)
    assert stamp is not None  # UTCDateTime always has one
    return stamp, (boolean(False) if boolean is not None else False)


def _same(a: Any, b: Any) -> bool:
    """Equality that holds across time zones: Python never calls an aware datetime in a DST
    fold or gap equal to one in another zone, even at the same instant (PEP 495)."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.timestamp() == b.timestamp()
    return bool(a == b)


def _among(dialect: str, column: Any) -> Any:
    """``column IN :ids``; on PostgreSQL ``column = ANY(:ids)``: one parameter and a fixed text,
    where an IN list is a new text of ``len(ids)`` placeholders that psycopg parses each time."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


@functools.cache
def _reads(dialect: str) -> dict[str, Any]:
    """The reads of a batch of clients, built once per dialect: a statement built per call
    (and its cache key) cost as much as running it, and simulate plans one client at a time
    at every session end."""
    return {
        "clients": _STATE_CLIENT.where(_among(dialect, clients.c.id)),
        "sessions": _STATE_SESSION.where(_among(dialect, sessions.c.client_id)),
        "tips": select(client_tips.c.client_id, client_tips.c.tip_id)
        .where(_among(dialect, client_tips.c.client_id))
        .order_by(client_tips.c.sent_at, client_tips.c.id),
        "session_ids": select(sessions.c.client_id, sessions.c.external_id, sessions.c.id).where(
            _among(dialect, sessions.c.client_id)
        ),
        "messages": select(
            messages.c.id,
            messages.c.client_id,
            messages.c.idempotency_key,
            *(messages.c[name] for name in _REPLANNED),
        ).where(_among(dialect, messages.c.client_id)),
    }


def client_from_row(row: Any) -> Client:
    return Client(
        external_id=row["external_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        email=row["email"],
        timezone=row["timezone"],
        language=row["language"],
        preferred_channel=row["preferred_channel"],
        consent=Consent(**{name: bool(row[f"consent_{name}"]) for name in CONSENT_COLUMNS}),
        language_source=row.get("language_source"),
    )


def client_from_values(r: Sequence[Any]) -> Client:
    """A client from a row read by position: id, external id, first and last name, phone,
    email, time zone, language, preferred channel, the four consent flags, language source
    (the columns of _STATE_CLIENT, and the first 14 of dispatch_sql.CLIENT_SESSION_COLUMNS)."""
    return Client(
        external_id=r[1],
        first_name=r[2],
        last_name=r[3],
        phone=r[4],
        email=r[5],
        timezone=r[6],
        language=r[7],
        preferred_channel=r[8],
        consent=Consent(
            sms_care=bool(r[9]), sms_marketing=bool(r[10]), email_care=bool(r[11]), email_marketing=bool(r[12])
        ),
        language_source=r[13],
    )


def session_from_row(row: Any, client_external_id: str) -> Session:
    return Session(
        external_id=row["external_id"],
        client_external_id=client_external_id,
        start=row["start_at"],
        end=row["end_at"],
        service=row["service"],
        therapist=row["therapist"],
        focus_areas=tuple(f for f in row["focus_areas"].split(",") if f),
        status=row["status"],
    )


# The columns client_states reads, by position (a row mapping costs a lookup per column, and
# the timestamps it does not need a conversion each).
_STATE_CLIENT = select(
    clients.c.id,
    clients.c.external_id,
    clients.c.first_name,
    clients.c.last_name,
    clients.c.phone,
    clients.c.email,
    clients.c.timezone,
    clients.c.language,
    clients.c.preferred_channel,
    clients.c.consent_sms_care,
    clients.c.consent_sms_marketing,
    clients.c.consent_email_care,
    clients.c.consent_email_marketing,
    clients.c.language_source,
)
_STATE_SESSION = select(
    sessions.c.client_id,
    sessions.c.external_id,
    sessions.c.start_at,
    sessions.c.end_at,
    sessions.c.service,
    sessions.c.therapist,
    sessions.c.focus_areas,
    sessions.c.status,
).order_by(sessions.c.start_at, sessions.c.id)


def client_states(conn: Connection, client_ids: Sequence[int]) -> list[ClientState]:
    """The state of each client in ``client_ids`` (missing ids are left out), in that order:
    three SELECTs whatever the number of clients."""
    if not client_ids:
        return []
    wanted = list(dict.fromkeys(client_ids))
    reads = _reads(conn.dialect.name)
    found = {int(r[0]): client_from_values(r) for r in conn.execute(reads["clients"], {"ids": wanted}).all()}
    by_client: dict[int, list[Session]] = defaultdict(list)
    for r in conn.execute(reads["sessions"], {"ids": wanted}).all():
        owner = int(r[0])
        by_client[owner].append(
            Session(
                external_id=r[1],
                client_external_id=found[owner].external_id,
                start=r[2],
                end=r[3],
                service=r[4],
                therapist=r[5],
                focus_areas=tuple(f for f in r[6].split(",") if f),
                status=r[7],
            )
        )
    tips: dict[int, list[str]] = defaultdict(list)
    for client_id, tip_id in conn.execute(reads["tips"], {"ids": wanted}).all():
        tips[int(client_id)].append(str(tip_id))
    return [
        ClientState(id=cid, client=found[cid], sessions=by_client[cid], tips=tips[cid])
        for cid in wanted
        if cid in found
    ]


def apply_plans(
    conn: Connection, dialect: str, plans: Sequence[tuple[int, PlanResult]], now: datetime
) -> dict[int, PlanChanges]:
    """Reconcile each client's outbox rows with its plan: insert new messages (never one already
    expired), re-time or revive unsent ones, cancel the ones the plan blocks or no longer has.

    ``plans`` is ``[(client id, plan)]``; returns the changes per client id.  Idempotent: a
    second call with the same plans changes nothing (new rows are keyed by their idempotency
    key, updates and cancellations only touch rows still in the status they were read in).
    """
    out = {client_id: PlanChanges() for client_id, _ in plans}
    if not plans:
        return out
    ids = list(out)
    reads = _reads(dialect)
    session_ids: dict[tuple[int, str], int] = {
        (int(r[0]), str(r[1])): int(r[2]) for r in conn.execute(reads["session_ids"], {"ids": ids})
    }
    existing: dict[int, dict[str, Any]] = defaultdict(dict)
    for r in conn.execute(reads["messages"], {"ids": ids}).mappings():
        existing[int(r["client_id"])][r["idempotency_key"]] = r

    stamp, false = _to_db(conn)
    db_now = stamp(now)
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[int, dict[str, Any], bool]] = []  # (client id, parameters, revived)
    cancels: list[tuple[int, int, str]] = []  # (client id, message id, reason)
    expirations: list[tuple[int, int, str]] = []  # (client id, message id, reason)
    for client_id, result in plans:
        rows = existing[client_id]
        planned_keys = set()
        for plan in result.planned:
            planned_keys.add(plan.key)
            row = rows.get(plan.key)
            if plan.held_out and row is not None:
                # Recorded as held out once; a scheduled one (the holdout was raised) is withheld.
                if row["status"] == "scheduled":
                    cancels.append((client_id, int(row["id"]), HELD_OUT))
                continue
            if row is None:
                if plan.expires_at <= now:
                    continue  # too late already (e.g. importing last year's sessions): never create
                session_id = (
                    session_ids.get((client_id, plan.session_external_id)) if plan.session_external_id else None
                )
                due = stamp(plan.due_at)
                # A holdout client's message is written as withheld, never sent: the outbox
                # stays the one record of who would have got what.  (Columns: _NEW_COLUMNS.)
                inserts.append(
                    (
                        plan.key,
                        plan.campaign,
                        plan.step,
                        plan.step_index,
                        client_id,
                        session_id,
                        plan.channel,
                        plan.purpose,
                        plan.priority,
                        due,
                        stamp(plan.expires_at),
                        "cancelled" if plan.held_out else "scheduled",
                        HELD_OUT if plan.held_out else None,
                        plan.why,
                        0,
                        due,
                        false,
                        db_now,
                        db_now,
                    )
                )
                continue
            revivable = (
                row["status"] == "cancelled"
                and (row["status_reason"] or "").startswith(PLANNER_REASONS)
                and plan.expires_at > now
            )
            if row["status"] != "scheduled" and not revivable:
                continue
            new: dict[str, Any] = {
                "due_at": plan.due_at,
                "expires_at": plan.expires_at,
                "why": plan.why,
                "priority": plan.priority,
                "purpose": plan.purpose,
                "step_index": plan.step_index,
                "status": "scheduled",
                "status_reason": None if revivable else row["status_reason"],
            }
            if not revivable and all(_same(row[k], v) for k, v in new.items()):
                continue
            if not revivable and plan.expires_at <= now:
                # A campaign edit moved it into the past: it could only be claimed to be expired
                # (thousands of log lines at the next tick for one shortened offset); say so now.
                reason = f"re-timed by a campaign edit to {plan.due_at.isoformat()}, already past its expiry"
                expirations.append((client_id, int(row["id"]), reason))
                continue
            params = {f"v_{k}": v for k, v in new.items()} | {
                "v_updated_at": now,
                "b_id": row["id"],
                "b_status": row["status"],
            }
            if revivable or not _same(row["due_at"], plan.due_at):
                params["v_next_attempt_at"] = plan.due_at
            updates.append((client_id, params, revivable))
        for key, row in rows.items():
            if row["status"] != "scheduled" or key in planned_keys:
                continue
            if key in result.blocked:
                reason = result.blocked[key]
            elif row["expires_at"] <= now:
                continue  # the dispatcher marks it expired
            else:
                reason = "no longer planned (campaign or session changed)"
            cancels.append((client_id, int(row["id"]), reason))

    if inserts:
        for client_id in _insert_new(conn, dialect, inserts):
            out[client_id].created += 1
    for client_id, params, revived in updates:
        done = conn.execute(_UPDATE_MOVED if "v_next_attempt_at" in params else _UPDATE_KEPT, params).rowcount
        if revived:
            out[client_id].revived += done
        else:
            out[client_id].updated += done
    events = []
    for status, ended in (("cancelled", cancels), ("expired", expirations)):
        for client_id, message_id, reason in ended:
            done = conn.execute(
                _UPDATE_STATUS,
                {"b_id": message_id, "v_status": status, "v_status_reason": reason, "v_updated_at": now},
            ).rowcount
            if done:
                out[client_id].cancelled += done  # no longer to be sent, either way
                events.append({"message_id": message_id, "at": now, "kind": status, "detail": reason[:2000]})
    if events:
        conn.execute(insert(delivery_events), events)
    return out


_UPDATE_STATUS = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.status == "scheduled")
    .values(
        status=bindparam("v_status"), status_reason=bindparam("v_status_reason"), updated_at=bindparam("v_updated_at")
    )
)


def client_ids_after(conn: Connection, after: int, limit: int) -> list[int]:
    """Up to ``limit`` client ids greater than ``after``, ascending (primary-key range scan)."""
    query = select(clients.c.id).where(clients.c.id > after).order_by(clients.c.id).limit(limit)
    return [int(r[0]) for r in conn.execute(query)]


def count_clients_after(conn: Connection, after: int) -> int:
    return int(conn.execute(select(func.count()).select_from(clients).where(clients.c.id > after)).scalar_one())


def plan_pass(conn: Connection, name: str) -> PlanPass | None:
    row = conn.execute(select(plan_passes).where(plan_passes.c.name == name)).mappings().first()
    if row is None:
        return None
    return PlanPass(
        fingerprint=row["fingerprint"],
        cursor=int(row["cursor"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def save_plan_pass(conn: Connection, dialect: str, name: str, state: PlanPass, now: datetime) -> None:
    values: dict[str, Any] = {
        "fingerprint": state.fingerprint,
        "cursor": state.cursor,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "updated_at": now,
    }
    # An upsert: two workers starting together both save, and neither may fail on the key.
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(plan_passes).values(name=name, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
