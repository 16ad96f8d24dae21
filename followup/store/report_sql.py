"""The report's reads (and the replies inbox's one write) on SQL: facts for
:mod:`followup.core.report`, the replies inbox and the consent ledger export.

Plain functions of a connection, called by thin :class:`followup.store.sql.SqlStore` methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from followup.core.holdout import HELD_OUT
from followup.core.report import Booking, ClientEvent, MessageFact
from followup.core.rules import MessageFacts, choose_channel
from followup.core.sms_encoding import analyse
from followup.store.planning_sql import client_from_row
from followup.store.port import ConsentRecord, Reply
from followup.store.schema import clients, consent_events, inbound_messages, messages, sessions


def _reachable(conn: Connection, held: list[Any]) -> set[int]:
    """Ids of the held-out messages whose client the campaign could reach now: a phone or
    email with consent for it, decided by the dispatcher's own rule (``choose_channel``)."""
    if not held:
        return set()
    ids = {int(r["client_id"]) for r in held}
    people = {
        int(r["id"]): client_from_row(r) for r in conn.execute(select(clients).where(clients.c.id.in_(ids))).mappings()
    }
    out = set()
    for r in held:
        facts = MessageFacts(
            campaign=r["campaign"],
            step_index=int(r["step_index"]),
            channel=r["channel"],
            purpose=r["purpose"],
            due_at=r["due_at"],
            expires_at=r["due_at"],
            session_external_id=None,
        )
        if isinstance(choose_channel(facts, people[int(r["client_id"])]), str):
            out.add(int(r["id"]))
    return out


def report_messages(conn: Connection, since: datetime, until: datetime) -> list[MessageFact]:
    """Client messages due or sent in [since, until), as report facts (SMS segments counted on
    the body that was sent; a held-out message says whether its client was reachable)."""
    m = messages.c
    rows = list(
        conn.execute(
            select(
                m.id,
                m.campaign,
                m.step,
                m.step_index,
                m.client_id,
                m.purpose,
                m.status,
                m.status_reason,
                m.due_at,
                m.sent_at,
                m.sent_channel,
                m.delivery_status,
                m.body,
                m.error,
                m.channel,
            )
            .where(
                m.client_id.is_not(None),
                ((m.sent_at >= since) & (m.sent_at < until))
                | (m.sent_at.is_(None) & (m.due_at >= since) & (m.due_at < until)),
            )
            .order_by(m.id)
        ).mappings()
    )
    reachable = _reachable(conn, [r for r in rows if r["status"] == "cancelled" and r["status_reason"] == HELD_OUT])
    return [
        MessageFact(
            id=int(r["id"]),
            campaign=r["campaign"],
            step=r["step"],
            step_index=int(r["step_index"]),
            client_id=int(r["client_id"]),
            purpose=r["purpose"],
            status=r["status"],
            reason=r["status_reason"],
            due_at=r["due_at"],
            sent_at=r["sent_at"],
            sent_channel=r["sent_channel"],
            delivery_status=r["delivery_status"],
            segments=analyse(r["body"]).segments if r["sent_channel"] == "sms" and r["body"] else 0,
            error=r["error"],
            reachable=r["status_reason"] != HELD_OUT or int(r["id"]) in reachable,
        )
        for r in rows
    ]


def bookings(conn: Connection, since: datetime, until: datetime) -> list[Booking]:
    """Sessions that became known (``created_at``) in [since, until), booked or since completed
    (a cancelled booking is no rebooking)."""
    s = sessions.c
    rows = conn.execute(
        select(s.client_id, s.external_id, s.created_at, s.start_at).where(
            s.created_at >= since, s.created_at < until, s.status.in_(("booked", "completed"))
        )
    )
    return [Booking(int(r[0]), str(r[1]), r[2], r[3]) for r in rows]


def opt_outs(conn: Connection, since: datetime, until: datetime) -> list[ClientEvent]:
    c = consent_events.c
    rows = conn.execute(select(c.client_id, c.at).where(c.action == "opt_out", c.at >= since, c.at < until))
    return [ClientEvent(int(r[0]), r[1]) for r in rows]


def reply_events(conn: Connection, since: datetime, until: datetime) -> list[ClientEvent]:
    """Texts from known clients that were not keywords, received in [since, until)."""
    i = inbound_messages.c
    rows = conn.execute(
        select(i.client_id, i.received_at).where(
            i.client_id.is_not(None), i.kind == "reply", i.received_at >= since, i.received_at < until
        )
    )
    return [ClientEvent(int(r[0]), r[1]) for r in rows]


def replies(conn: Connection, *, unhandled: bool = False) -> list[Reply]:
    """Every text clients sent that was not a keyword, newest first, each with the message it
    answered (the last SMS sent to that client at or before it: a text answers a text)."""
    i = inbound_messages.c
    query = (
        select(
            i.id,
            i.client_id,
            i.from_number,
            i.body,
            i.received_at,
            i.handled_at,
            clients.c.external_id,
            clients.c.first_name,
            clients.c.last_name,
        )
        .select_from(inbound_messages.outerjoin(clients, clients.c.id == i.client_id))
        .where(i.kind == "reply")
        .order_by(i.received_at.desc(), i.id.desc())
    )
    if unhandled:
        query = query.where(i.handled_at.is_(None))
    out = []
    for r in conn.execute(query).mappings():
        answered: Any = None
        if r["client_id"] is not None:
            m = messages.c
            answered = (
                conn.execute(
                    select(m.id, m.campaign, m.step, m.sent_at, m.sent_channel, m.body)
                    .where(
                        m.client_id == r["client_id"],
                        m.sent_channel == "sms",
                        m.sent_at.is_not(None),
                        m.sent_at <= r["received_at"],
                    )
                    .order_by(m.sent_at.desc(), m.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        out.append(
            Reply(
                id=int(r["id"]),
                client=r["external_id"],
                client_name=" ".join(p for p in (r["first_name"], r["last_name"]) if p) or None,
                sender=r["from_number"],
                text=r["body"],
                received_at=r["received_at"],
                handled_at=r["handled_at"],
                answered_id=None if answered is None else int(answered["id"]),
                answered_campaign=None if answered is None else answered["campaign"],
                answered_step=None if answered is None else answered["step"],
                answered_at=None if answered is None else answered["sent_at"],
                answered_body=None if answered is None else answered["body"],
            )
        )
    return out


def handle_reply(conn: Connection, reply_id: int, now: datetime) -> bool | None:
    """Mark a reply handled: True, False when it was already, None when there is no such reply."""
    i = inbound_messages.c
    found = conn.execute(select(i.handled_at).where(i.id == reply_id, i.kind == "reply")).first()
    if found is None:
        return None
    if found[0] is not None:
        return False
    conn.execute(update(inbound_messages).where(and_(i.id == reply_id, i.handled_at.is_(None))).values(handled_at=now))
    return True


def consent_records(
    conn: Connection, since: datetime | None = None, until: datetime | None = None, action: str | None = None
) -> list[ConsentRecord]:
    """The consent ledger, oldest first: all of it, or the entries in [``since``, ``until``),
    of one ``action`` (``opt_out``...) when given."""
    c = consent_events.c
    query = (
        select(clients.c.external_id, c.channel, c.purpose, c.action, c.source, c.wording, c.at)
        .select_from(consent_events.join(clients, clients.c.id == c.client_id))
        .order_by(c.at, c.id)
    )
    if since is not None:
        query = query.where(c.at >= since)
    if until is not None:
        query = query.where(c.at < until)
    if action is not None:
        query = query.where(c.action == action)
    rows = conn.execute(query)
    return [ConsentRecord(str(r[0]), r[1], r[2], r[3], r[4], r[5] or "", r[6]) for r in rows]


def scheduled_counts(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    """Client messages scheduled with a due time in [``since``, ``until``), per planned channel
    (``sms`` / ``email`` / ``preferred``): one grouped count, whatever the outbox's size."""
    m = messages.c
    query = (
        select(m.channel, func.count())
        .where(m.status == "scheduled", m.client_id.is_not(None), m.due_at >= since, m.due_at < until)
        .group_by(m.channel)
    )
    return {str(channel): int(n) for channel, n in conn.execute(query)}
