"""New planned messages go into the outbox with planning's own INSERT (an unnest of arrays on
PostgreSQL, a DB-API multi-row VALUES on SQLite; see :mod:`followup.store.planning_sql`), not
SQLAlchemy's per-row insert.  What it stores must be exactly what a plain Core insert of the same
values stores, on both databases, whatever the batch size; a key already taken is skipped and
not counted.  Runs once per database (``db_url``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from followup.core.domain import Client, Session
from followup.core.planner import Planned, PlanResult
from followup.store.port import MessageQuery, PlanChanges
from followup.store.schema import messages
from followup.store.sql import SqlStore
from followup.timeutil import UTC, zone

NY = zone("America/New_York")
KOLKATA = zone("Asia/Kolkata")
NOW = datetime(2026, 11, 1, 1, 30, 15, 250_000, tzinfo=NY)  # microseconds, and the DST fold's first pass


def add_client(store: SqlStore, external_id: str, sessions: tuple[str, ...] = ()) -> int:
    client_id, _ = store.upsert_client(Client(external_id=external_id, first_name="Ana"), NOW)
    for sid in sessions:
        start = NOW - timedelta(hours=3)
        session = Session(
            external_id=sid,
            client_external_id=external_id,
            start=start,
            end=start + timedelta(hours=1),
            service="NMT 60",
            status="completed",
        )
        store.upsert_session(session, client_id, NOW)
    return client_id


def message(key: str, due: datetime, *, session: str | None = None, held_out: bool = False, **kw: Any) -> Planned:
    values: dict[str, Any] = {
        "campaign": "post",
        "step": "thanks",
        "step_index": 1,
        "client_external_id": "c1",
        "channel": "both",
        "purpose": "marketing",
        "priority": "nudge",
        "why": "2h after session s1 was completed",
    }
    values.update(kw)
    return Planned(
        key=key,
        session_external_id=session,
        due_at=due,
        expires_at=due + timedelta(hours=6, microseconds=7),
        held_out=held_out,
        **values,
    )


def stored(store: SqlStore, key: str) -> dict[str, Any]:
    """The row as the database holds it (driver values, no SQLAlchemy type conversion), without
    the columns that differ between two inserts of the same values."""
    columns = ", ".join(c.name for c in messages.columns if c.name not in ("id", "idempotency_key"))
    with store.engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT {columns} FROM messages WHERE idempotency_key = :k"),
            {"k": key},
        ).mappings()
        (row,) = list(found)
    return dict(row)


def core_insert(store: SqlStore, key: str, client_id: int, session_id: int | None, plan: Planned) -> None:
    """The same message through SQLAlchemy's own insert and type conversion: the reference."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(messages).values(
                idempotency_key=key,
                campaign=plan.campaign,
                step=plan.step,
                step_index=plan.step_index,
                client_id=client_id,
                session_id=session_id,
                channel=plan.channel,
                purpose=plan.purpose,
                priority=plan.priority,
                due_at=plan.due_at,
                expires_at=plan.expires_at,
                status="cancelled" if plan.held_out else "scheduled",
                status_reason="held out" if plan.held_out else None,
                why=plan.why,
                attempts=0,
                next_attempt_at=plan.due_at,
                fell_back=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )


def session_id(store: SqlStore, key: str) -> int | None:
    with store.engine.connect() as conn:
        found = conn.execute(select(messages.c.session_id).where(messages.c.idempotency_key == key)).scalar_one()
    return None if found is None else int(found)


@pytest.mark.parametrize(
    "due",
    [
        NOW + timedelta(hours=2),  # New York, in the fold
        datetime(2026, 11, 1, 1, 30, tzinfo=NY).replace(fold=1) + timedelta(days=1, microseconds=1),
        datetime(2026, 12, 24, 23, 59, 59, 999_999, tzinfo=KOLKATA),  # a UTC date before the local one
        datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
    ],
)
def test_a_planned_row_is_stored_as_a_core_insert_stores_it(store: SqlStore, due: datetime) -> None:
    cid = add_client(store, "c1", sessions=("s1",))
    plans = PlanResult(planned=[message("k-session", due, session="s1"), message("k-held", due, held_out=True)])
    assert store.apply_plan(cid, plans, NOW) == PlanChanges(created=2)
    assert session_id(store, "k-session") is not None and session_id(store, "k-held") is None
    for key, plan, sid in (
        ("k-session", plans.planned[0], session_id(store, "k-session")),
        ("k-held", plans.planned[1], None),
    ):
        core_insert(store, f"ref-{key}", cid, sid, plan)
        assert stored(store, key) == stored(store, f"ref-{key}")
    mine = stored(store, "k-held")
    assert (mine["status"], mine["status_reason"], mine["attempts"]) == ("cancelled", "held out", 0)
    # The read side agrees too: the same instants, read back aware.
    read = {m.key: m for m in store.messages(MessageQuery())}
    assert read["k-session"].due_at.timestamp() == due.timestamp() and read["k-session"].due_at.utcoffset() is not None
    assert read["k-held"].expires_at.timestamp() == (due + timedelta(hours=6, microseconds=7)).timestamp()


def test_many_clients_and_rows_in_one_batch_are_all_created_and_counted_per_client(store: SqlStore) -> None:
    # Over the SQLite statement's row limit (500) several times, with uneven clients.
    ids = {f"c{n}": add_client(store, f"c{n}") for n in range(7)}
    plans = []
    for n, (external, cid) in enumerate(ids.items()):
        count = 1 + n * 101  # 1 .. 607 rows
        items = [
            message(f"{external}/{i}", NOW + timedelta(minutes=i), client_external_id=external) for i in range(count)
        ]
        plans.append((cid, PlanResult(planned=items)))
    changes = store.apply_plans(plans, NOW)
    assert {cid: c.created for cid, c in changes.items()} == {cid: 1 + n * 101 for n, cid in enumerate(ids.values())}
    with store.engine.connect() as conn:
        rows = conn.execute(select(messages.c.idempotency_key, messages.c.client_id, messages.c.due_at)).all()
    assert len(rows) == sum(1 + n * 101 for n in range(7))
    # Instants as timestamps: NOW is in the DST fold, where no two zones' datetimes are == (PEP 495).
    by_key = {key: (client_id, due.timestamp()) for key, client_id, due in rows}
    assert by_key["c6/606"] == (ids["c6"], (NOW + timedelta(minutes=606)).timestamp())
    assert by_key["c0/0"] == (ids["c0"], NOW.timestamp())
    # A second pass with the same plans creates nothing.
    assert all(c == PlanChanges() for c in store.apply_plans(plans, NOW).values())


def test_a_key_another_row_holds_is_skipped_and_not_counted(store: SqlStore) -> None:
    first = add_client(store, "c1")
    other = add_client(store, "c2")
    due = NOW + timedelta(hours=2)
    # The key is taken by another client's row (the plan's read of this client's rows misses it,
    # as it would miss a row a concurrent worker inserted): ON CONFLICT skips it.
    assert store.apply_plan(other, PlanResult(planned=[message("taken", due)]), NOW) == PlanChanges(created=1)
    plans = PlanResult(planned=[message("taken", due), message("free", due)])
    assert store.apply_plan(first, plans, NOW) == PlanChanges(created=1)
    with store.engine.connect() as conn:
        owners = dict(conn.execute(select(messages.c.idempotency_key, messages.c.client_id)).all())
    assert owners == {"taken": other, "free": first}
