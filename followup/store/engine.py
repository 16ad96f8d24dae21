"""Engines for the two supported databases, tuned for the outbox's needs.

SQLite: WAL (readers don't block the writer), a generous busy timeout, and every
transaction opened with ``BEGIN IMMEDIATE`` so that claiming due messages is a
single-writer critical section; Python's sqlite3 would otherwise defer the write lock
and two workers could read the same due rows.  PostgreSQL needs nothing special: the
claim uses ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        memory = database in ("", ":memory:")
        # An in-memory database lives in one connection: share it (simulate runs on one).
        pool = {"poolclass": StaticPool} if memory else {}
        engine = create_engine(url, echo=echo, connect_args={"timeout": 60, "check_same_thread": False}, **pool)
        _sqlite_tuning(engine, memory=memory)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_tuning(engine: Engine, *, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
