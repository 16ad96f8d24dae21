"""The dispatcher's statements per claimed batch, written out once per dialect and run on the
database driver's own cursor.

A batch of 20 messages costs a fixed number of statements: the claim (one on PostgreSQL, two
on SQLite), the batch's client state (three reads), the senders' pauses (one), and the
outcomes (one on PostgreSQL; on SQLite a read of the rows still ours and one ``executemany``
each for the rows, their events and the tips sent).  Through SQLAlchemy Core each statement
paid for its parameters, the expansion of its ``IN`` list and its result processing, about
as much again as the database's own work (bench/README.md, "Third round"); here a list of ids
is one parameter (``json_each(?)`` on SQLite, ``= ANY(%s)`` on PostgreSQL), so every text is
fixed and the driver parses nothing new, and the few timestamps are converted by hand.

Timestamps, as :class:`followup.store.schema.UTCDateTime` stores them: on SQLite the text
``YYYY-MM-DD HH:MM:SS.ffffff`` of the naive UTC time (text order is time order, which the
comparisons rely on); on PostgreSQL ``timestamptz``.  Both come back as aware UTC datetimes.

The statements join the caller's transaction: they run on the connection SQLAlchemy holds
(``BEGIN IMMEDIATE`` on SQLite, row locks until commit on PostgreSQL).
"""

# S608: every text here is built at import from this module's constants; values are always
# parameters, never part of a text.
# ruff: noqa: S608

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from followup.store.port import CLINIC

# --- writing the statements once per dialect -----------------------------------------------

_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")


def _for(dialect: str, text: str) -> str:
    """``text`` (SQLite's named style, ``:name``; ``IDS(:name)`` for an id list; ``:name::type[]``
    for an array, PostgreSQL only) for ``dialect``."""
    if dialect == "postgresql":
        text = re.sub(r"IN IDS\(:([a-z_]+)\)", r"= ANY(:\1)", text).replace("%", "%%")
        # An array sent in binary (%(name)b): psycopg's text form of an array costs a regex
        # per element (see planning_sql).
        text = re.sub(r"(?<![:\w]):([a-z_]+)::([a-z]+)\[\]", r"CAST(%(\1)b AS \2[])", text)
        return _NAMED.sub(r"%(\1)s", text)
    return re.sub(r"IDS\(:([a-z_]+)\)", r"(SELECT value FROM json_each(:\1))", text)


def _ids(dialect: str, values: Iterable[int]) -> Any:
    """A list of ids as the one parameter :func:`_for`'s ``IDS(...)`` takes."""
    wanted = [int(v) for v in values]
    return wanted if dialect == "postgresql" else json.dumps(wanted)


def utc_in(dialect: str, value: datetime | None) -> Any:
    """A timestamp as the driver takes it (see the module docstring)."""
    if value is None or dialect == "postgresql":
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# Stored texts already parsed (SQLite): a batch reads a few hundred timestamps, and many are
# the same instant (the rows one plan or one batch wrote share their ``now``).  Datetimes are
# immutable, so sharing one is safe; the memo is emptied when it grows past its limit.
_PARSED: dict[str, datetime] = {}
_PARSED_LIMIT = 4096


def utc_out(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (text on SQLite, ``timestamptz`` on PostgreSQL)."""
    if value is None:
        return None
    if value.__class__ is str:
        found = _PARSED.get(value)
        if found is None:
            if len(_PARSED) >= _PARSED_LIMIT:
                _PARSED.clear()
            found = _PARSED[value] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return found
    aware: datetime = value.astimezone(UTC)
    return aware


def _cursor(conn: Connection) -> Any:
    """The driver's cursor on the connection SQLAlchemy holds (its transaction included)."""
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


# --- the claim ------------------------------------------------------------------------------

# The columns a MessageRow is made of, in the order SqlStore._message reads them, then the
# client's and the session's external ids (correlated primary-key lookups, not joins: without
# statistics SQLite may put the clients table on the outside of a join).
MESSAGE_COLUMNS = (
    "id",
    "idempotency_key",
    "campaign",
    "step",
    "step_index",
    "client_id",
    "session_id",
    "channel",
    "sent_channel",
    "purpose",
    "priority",
    "due_at",
    "expires_at",
    "status",
    "status_reason",
    "why",
    "attempts",
    "next_attempt_at",
    "claimed_by",
    "claimed_at",
    "provider_id",
    "error",
    "tip_id",
    "subject",
    "body",
    "sent_at",
    "fell_back",
    "to_address",
)
_TIMES = tuple(i for i, name in enumerate(MESSAGE_COLUMNS) if name.endswith("_at"))
_FELL_BACK = MESSAGE_COLUMNS.index("fell_back")
_ROW = (
    ", ".join(f"messages.{name}" for name in MESSAGE_COLUMNS)
    + ", coalesce((SELECT clients.external_id FROM clients WHERE clients.id = messages.client_id), :clinic)"
    + ", (SELECT sessions.external_id FROM sessions WHERE sessions.id = messages.session_id)"
)
# Oldest first along ix_messages_claim (status, next_attempt_at, id).
_DUE = (
    "SELECT messages.id FROM messages WHERE messages.status = 'scheduled' AND messages.next_attempt_at <= :now "
    "ORDER BY messages.next_attempt_at, messages.id LIMIT :limit"
)
_MARK = "SET status = 'sending', claimed_by = :worker, claimed_at = :now, updated_at = :now"
# PostgreSQL: one statement.  The due rows are picked and locked once (a MATERIALIZED CTE is
# evaluated once; as a plain subquery of the UPDATE the planner may re-run it and claim more),
# rows another worker holds are skipped.
_CLAIM_PG = _for(
    "postgresql",
    f"WITH picked AS MATERIALIZED ({_DUE} FOR UPDATE SKIP LOCKED) "
    f"UPDATE messages {_MARK} FROM picked WHERE messages.id = picked.id RETURNING {_ROW}",
)
# SQLite: the write lock is held from BEGIN IMMEDIATE, so reading the ids first is safe.
_CLAIM_IDS_SQLITE = _for("sqlite", _DUE)
_CLAIM_SQLITE = _for("sqlite", f"UPDATE messages {_MARK} WHERE messages.id IN IDS(:ids) RETURNING {_ROW}")


def message_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A claimed row with its timestamps and flag as SqlStore._message expects them."""
    values = list(row)
    for i in _TIMES:
        values[i] = utc_out(values[i])
    values[_FELL_BACK] = bool(values[_FELL_BACK])
    return tuple(values)


def claim(conn: Connection, dialect: str, now: datetime, limit: int, worker: str) -> list[tuple[Any, ...]]:
    """Claim up to ``limit`` due messages for ``worker``: rows in :data:`MESSAGE_COLUMNS` order
    plus the client's and the session's external ids (unordered)."""
    cur = _cursor(conn)
    at = utc_in(dialect, now)
    if dialect == "postgresql":
        cur.execute(_CLAIM_PG, {"now": at, "limit": limit, "worker": worker, "clinic": CLINIC})
        return [message_row(r) for r in cur.fetchall()]
    ids = [r[0] for r in cur.execute(_CLAIM_IDS_SQLITE, {"now": at, "limit": limit})]
    if not ids:
        return []
    cur.execute(_CLAIM_SQLITE, {"ids": _ids(dialect, ids), "now": at, "worker": worker, "clinic": CLINIC})
    return [message_row(r) for r in cur.fetchall()]


# --- the batch's client state ---------------------------------------------------------------

# Read by position in SqlStore.dispatch_state: clients with their sessions, one row per
# session (the session's columns NULL for a client without any).
CLIENT_SESSION_COLUMNS = (
    "clients.id",
    "clients.external_id",
    "clients.first_name",
    "clients.last_name",
    "clients.phone",
    "clients.email",
    "clients.timezone",
    "clients.language",
    "clients.preferred_channel",
    "clients.consent_sms_care",
    "clients.consent_sms_marketing",
    "clients.consent_email_care",
    "clients.consent_email_marketing",
    "clients.language_source",  # the clients' columns as planning_sql.client_from_values reads them
    "sessions.external_id",
    "sessions.start_at",
    "sessions.end_at",
    "sessions.service",
    "sessions.therapist",
    "sessions.focus_areas",
    "sessions.status",
)
_STATE_CLIENTS = (
    f"SELECT {', '.join(CLIENT_SESSION_COLUMNS)} FROM clients "
    "LEFT OUTER JOIN sessions ON sessions.client_id = clients.id "
    "WHERE clients.id IN IDS(:ids) ORDER BY clients.id, sessions.start_at"
)
_STATE_TIPS = (
    "SELECT client_tips.client_id, client_tips.tip_id FROM client_tips "
    "WHERE client_tips.client_id IN IDS(:ids) ORDER BY client_tips.sent_at, client_tips.id"
)
# The status as an expression (status || ''): an index on status (ix_messages_claim) is then
# no use to this query and it goes by client (ix_messages_client_id).  Without statistics
# SQLite chose the claim index for each OR branch and walked every scheduled row due within a
# day, for every batch (15 ms a batch at 27,000 scheduled rows).
OUTBOX_COLUMNS = (
    "id",
    "client_id",
    "status",
    "purpose",
    "priority",
    "next_attempt_at",
    "updated_at",
    "sent_at",
    "sent_channel",
    "body",
)
_STATE_OUTBOX = (
    f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM messages WHERE client_id IN IDS(:ids) AND ("
    "((status || '') IN ('sent', 'unconfirmed', 'unknown') AND coalesce(sent_at, updated_at) >= :sent_since)"
    " OR ((status || '') IN ('scheduled', 'sending') AND next_attempt_at < :due_before))"
)
_STATE = {d: tuple(_for(d, s) for s in (_STATE_CLIENTS, _STATE_TIPS, _STATE_OUTBOX)) for d in ("sqlite", "postgresql")}


def client_state_rows(
    conn: Connection, dialect: str, client_ids: Sequence[int], sent_since: datetime, due_before: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows SqlStore.dispatch_state is made of: clients with their sessions (the
    sessions' start and end converted), the tips sent (client id, tip id, oldest first), and
    the messages the caps and the duplicate guard may look at (timestamps converted)."""
    clients_sql, tips_sql, outbox_sql = _STATE[dialect]
    ids = _ids(dialect, client_ids)
    cur = _cursor(conn)
    cur.execute(clients_sql, {"ids": ids})
    visits = [(*r[:15], utc_out(r[15]), utc_out(r[16]), *r[17:]) for r in cur.fetchall()]
    cur.execute(tips_sql, {"ids": ids})
    tips = [tuple(r) for r in cur.fetchall()]
    cur.execute(
        outbox_sql,
        {"ids": ids, "sent_since": utc_in(dialect, sent_since), "due_before": utc_in(dialect, due_before)},
    )
    outbox = [(*r[:5], utc_out(r[5]), utc_out(r[6]), utc_out(r[7]), *r[8:]) for r in cur.fetchall()]
    return visits, tips, outbox


_SENDERS = {
    d: _for(d, "SELECT sender, paused_until, pause_reason, fault FROM sender_slots WHERE sender IN IDS(:senders)")
    for d in ("sqlite", "postgresql")
}


def sender_rows(
    conn: Connection, dialect: str, senders: Sequence[str]
) -> list[tuple[str, datetime | None, str | None, str | None]]:
    """(sender, paused until, pause reason, fault) of each of ``senders`` that has a row."""
    cur = _cursor(conn)
    wanted: Any = list(senders) if dialect == "postgresql" else json.dumps(list(senders))
    cur.execute(_SENDERS[dialect], {"senders": wanted})
    return [(r[0], utc_out(r[1]), r[2], r[3]) for r in cur.fetchall()]


# --- the outcomes ---------------------------------------------------------------------------

# Values an outcome may leave unset keep what the row has (COALESCE), as Finish promises;
# with their PostgreSQL array types.
KEPT_IF_NONE = {
    "sent_channel": "text",
    "provider_id": "text",
    "subject": "text",
    "body": "text",
    "tip_id": "text",
    "error": "text",
    "next_attempt_at": "timestamptz",
    "fell_back": "boolean",
}
# The columns of an outcome row (OutcomeRow), in order, with their PostgreSQL array types.
OUTCOME_COLUMNS = {
    "id": "integer",
    "status": "text",
    "reason": "text",
    "at": "timestamptz",
    "release": "integer",  # 1: a terminal or rescheduled outcome gives the claim back
    "tried": "integer",  # 1: a delivery was attempted
    "sent_at": "timestamptz",
    **KEPT_IF_NONE,
}
_OUTCOME_TIMES = tuple(i for i, name in enumerate(OUTCOME_COLUMNS) if OUTCOME_COLUMNS[name] == "timestamptz")
_SET = ", ".join(
    [
        "status = v.status",
        "status_reason = v.reason",
        "updated_at = v.at",
        # "unknown" keeps who tried (the claim), to reconcile
        "claimed_by = CASE WHEN v.release = 1 THEN NULL ELSE messages.claimed_by END",
        "claimed_at = CASE WHEN v.release = 1 THEN NULL ELSE messages.claimed_at END",
        "attempts = messages.attempts + v.tried",
        "sent_at = coalesce(v.sent_at, messages.sent_at)",
        *(f"{name} = coalesce(v.{name}, messages.{name})" for name in KEPT_IF_NONE),
    ]
)
# The rows still ours: claimed by this worker (any worker when None), not finished meanwhile.
_STILL_OURS = (
    "messages.status IN ('sending', 'unknown') AND (CAST(:worker AS text) IS NULL OR messages.claimed_by = :worker)"
)

# SQLite: the write lock is held from BEGIN IMMEDIATE; read which rows are still ours, then
# one executemany each (the loop runs in C).
_OWNED_SQLITE = _for(
    "sqlite", f"SELECT messages.id, messages.client_id FROM messages WHERE messages.id IN IDS(:ids) AND {_STILL_OURS}"
)
_FINISH_SQLITE = "UPDATE messages SET " + _SET.replace("v.", ":") + " WHERE messages.id = :id"
_EVENT_SQLITE = "INSERT INTO delivery_events (message_id, at, kind, detail) VALUES (?, ?, ?, ?)"
_TIP_SQLITE = "INSERT INTO client_tips (client_id, tip_id, message_id, sent_at) VALUES (?, ?, ?, ?)"

# PostgreSQL: one statement, each column an array (unnest), whatever the batch's size.  The
# UPDATE locks the rows and re-checks them if another transaction changed them meanwhile.
_FINISH_PG = _for(
    "postgresql",
    "WITH v AS (SELECT * FROM unnest("
    + ", ".join(f":o_{name}::{kind}[]" for name, kind in OUTCOME_COLUMNS.items())
    + ") AS v("
    + ", ".join(OUTCOME_COLUMNS)
    + ")), "
    f"done AS (UPDATE messages SET {_SET} FROM v WHERE messages.id = v.id AND {_STILL_OURS} "
    "RETURNING messages.id, messages.client_id), "
    "ev AS (INSERT INTO delivery_events (message_id, at, kind, detail) "
    "SELECT e.message_id, e.at, e.kind, e.detail FROM unnest(:e_id::integer[], :e_at::timestamptz[], "
    ":e_kind::text[], :e_detail::text[]) WITH ORDINALITY AS e(message_id, at, kind, detail, n) "
    "WHERE e.message_id IN (SELECT id FROM done) ORDER BY e.n), "
    "tips AS (INSERT INTO client_tips (client_id, tip_id, message_id, sent_at) "
    "SELECT done.client_id, t.tip_id, t.message_id, t.sent_at "
    "FROM unnest(:t_id::integer[], :t_tip::text[], :t_at::timestamptz[]) AS t(message_id, tip_id, sent_at) "
    "JOIN done ON done.id = t.message_id) "
    "SELECT id FROM done",
)

OutcomeRow = tuple[Any, ...]  # the values of OUTCOME_COLUMNS, in order
EventRow = tuple[int, datetime, str, str]  # message id, at, kind, detail
TipRow = tuple[int, str, datetime]  # message id, tip id, sent at


def finish(
    conn: Connection,
    dialect: str,
    worker: str | None,
    outcomes: Sequence[OutcomeRow],
    events: Sequence[EventRow],
    tips: Sequence[TipRow],
) -> set[int]:
    """Store the outcomes of messages still ours (claimed by ``worker``, any worker when
    None, and still sending or unknown), with the events and tips of those messages only.
    Returns the ids stored; the others were taken over or finished by someone else."""
    cur = _cursor(conn)
    if dialect == "postgresql":
        columns = list(zip(*outcomes, strict=True)) if outcomes else [() for _ in OUTCOME_COLUMNS]
        params: dict[str, Any] = {
            f"o_{name}": list(values) for name, values in zip(OUTCOME_COLUMNS, columns, strict=True)
        }
        e_columns = list(zip(*events, strict=True)) if events else [(), (), (), ()]
        t_columns = list(zip(*tips, strict=True)) if tips else [(), (), ()]
        params.update(
            {
                "worker": worker,
                "e_id": list(e_columns[0]),
                "e_at": list(e_columns[1]),
                "e_kind": list(e_columns[2]),
                "e_detail": list(e_columns[3]),
                "t_id": list(t_columns[0]),
                "t_tip": list(t_columns[1]),
                "t_at": list(t_columns[2]),
            }
        )
        cur.execute(_FINISH_PG, params)
        return {int(r[0]) for r in cur.fetchall()}
    wanted = [row[0] for row in outcomes]
    cur.execute(_OWNED_SQLITE, {"ids": _ids(dialect, wanted), "worker": worker})
    client_of = {int(r[0]): r[1] for r in cur.fetchall()}
    if not client_of:
        return set()
    names = list(OUTCOME_COLUMNS)
    rows = []
    for row in outcomes:
        if row[0] not in client_of:
            continue
        values = list(row)
        for i in _OUTCOME_TIMES:
            values[i] = utc_in(dialect, values[i])
        rows.append(dict(zip(names, values, strict=True)))
    cur.executemany(_FINISH_SQLITE, rows)
    cur.executemany(
        _EVENT_SQLITE,
        [(m, utc_in(dialect, at), kind, detail) for m, at, kind, detail in events if m in client_of],
    )
    if tips:
        cur.executemany(
            _TIP_SQLITE,
            [(client_of[m], tip, m, utc_in(dialect, at)) for m, tip, at in tips if m in client_of],
        )
    return set(client_of)
