"""The owner dashboard's reads and its one credential write, on SQL.

Plain functions of a connection, called by thin :class:`followup.store.sql.SqlStore` methods
(the ``AdminStore`` port of :mod:`followup.store.port`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select, update

from followup.store.port import ClientMatch, MessageDay
from followup.store.schema import admin_credentials, clients, messages

OWNER = "owner"
SEARCH_LIMIT = 50


def password_hash(conn: Connection, name: str = OWNER) -> str | None:
    """The stored hash string of account ``name``; None before ``followup admin set-password``."""
    row = conn.execute(select(admin_credentials.c.password_hash).where(admin_credentials.c.name == name)).first()
    return None if row is None else str(row[0])


def set_password_hash(conn: Connection, hashed: str, now: datetime, name: str = OWNER) -> None:
    """Store (insert or replace) the hash of account ``name``."""
    done = conn.execute(
        update(admin_credentials).where(admin_credentials.c.name == name).values(password_hash=hashed, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(admin_credentials).values(name=name, password_hash=hashed, updated_at=now))


def message_days(conn: Connection, since: datetime, until: datetime) -> list[MessageDay]:
    """Each client message sent, or unsent and due, in [since, until): its moment (``sent_at``,
    else ``due_at``; aware UTC) and status.  The caller buckets them by the clinic's day
    (a SQL ``date()`` would bucket by UTC, or need each database's own time-zone function)."""
    m = messages.c
    moment = func.coalesce(m.sent_at, m.due_at)
    rows = conn.execute(
        select(m.sent_at, m.due_at, m.status)
        .where(
            m.client_id.is_not(None),
            ((m.sent_at >= since) & (m.sent_at < until))
            | (m.sent_at.is_(None) & (m.due_at >= since) & (m.due_at < until)),
        )
        .order_by(moment)
    )
    return [MessageDay(r[0] if r[0] is not None else r[1], str(r[2])) for r in rows]


def _like(text: str) -> str:
    """``text`` as a LIKE pattern that matches it anywhere, its own ``%`` and ``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_clients(conn: Connection, text: str, phone: str | None) -> list[ClientMatch]:
    """Clients whose id, first or last name, full name or email contains ``text`` (any case),
    or whose phone is ``phone`` (E.164, already normalised by the caller), by name; at most
    :data:`SEARCH_LIMIT`."""
    c = clients.c
    pattern = _like(text.strip())
    full = func.lower(c.first_name + " " + c.last_name)
    conditions: list[ColumnElement[bool]] = [
        func.lower(c.external_id).like(pattern, escape="\\"),
        full.like(pattern, escape="\\"),
        func.lower(func.coalesce(c.email, "")).like(pattern, escape="\\"),
    ]
    if phone:
        conditions.append(c.phone == phone)
    rows = conn.execute(
        select(c.id, c.external_id, c.first_name, c.last_name, c.phone, c.email)
        .where(or_(*conditions))
        .order_by(c.first_name, c.last_name, c.id)
        .limit(SEARCH_LIMIT)
    )
    return [ClientMatch(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), r[4], r[5]) for r in rows]
