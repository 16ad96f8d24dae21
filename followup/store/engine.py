"""Engines for the two supported databases, tuned for the outbox's needs.

SQLite: WAL (readers don't block the writer), a generous busy timeout, and every
transaction opened with ``BEGIN IMMEDIATE`` so that claiming due messages is a
single-writer critical section; Python's sqlite3 would otherwise defer the write lock
and two workers could read the same due rows.  PostgreSQL needs nothing special: the
claim uses ``FOR UPDATE SKIP LOCKED``.

Waiting for the write lock: SQLite's own busy timeout sleeps inside C, where Python cannot
run a signal handler, so a Ctrl-C pressed while another process held the lock (an import, a
worker) took effect only when the lock came free, up to a minute later.  The wait is a
Python loop instead: each ``BEGIN IMMEDIATE`` waits at most ``BUSY_SLICE_MS`` in C and is
retried until ``LOCK_WAIT_SECONDS`` have passed, so a signal is handled within a slice.
With WAL and every transaction beginning with the write lock, ``BEGIN IMMEDIATE`` is where
writers wait; reads never do.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from followup.exceptions import StoreBusyError

log = logging.getLogger("followup.store")

LOCK_WAIT_SECONDS = 60.0  # how long a transaction waits for another writer before "database is locked"
BUSY_SLICE_MS = 200  # one wait inside SQLite's C code, where no signal handler can run


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        memory = database in ("", ":memory:")
        # An in-memory database lives in one connection: share it (simulate runs on one).
        pool = {"poolclass": StaticPool} if memory else {}
        connect_args = {"timeout": BUSY_SLICE_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, echo=echo, connect_args=connect_args, **pool)
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
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        begin_immediate(connection.connection.dbapi_connection)


# Set by a stopping worker (SIGINT/SIGTERM): a wait for the lock gives up at the next slice
# instead of holding the stop until the other process commits (an import can hold it a minute).
_GIVE_UP = threading.Event()


def keep_waiting() -> None:
    """Undo :func:`give_up_waiting` (a worker starting again in the same process)."""
    _GIVE_UP.clear()


def give_up_waiting() -> None:
    """Make every lock wait in this process end now, with :class:`StoreBusyError` (no
    transaction was begun, so nothing is half-written); for a worker that was asked to stop."""
    _GIVE_UP.set()


def begin_immediate(dbapi_connection: sqlite3.Connection, wait: float | None = None) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``wait`` seconds (default ``LOCK_WAIT_SECONDS``) for
    another writer, in slices between which Python handles signals.  The first time it has to
    wait it says so on the ``followup.store`` logger (WARNING: a command run by hand or by cron
    shows it on stderr).  Raises :class:`~followup.exceptions.StoreBusyError` when the wait runs
    out or :func:`give_up_waiting` was called."""
    allowed = LOCK_WAIT_SECONDS if wait is None else wait
    deadline = time.monotonic() + allowed
    told = False
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if _GIVE_UP.is_set():
                raise StoreBusyError(
                    "stopped while waiting for another followup process to finish writing; nothing was written"
                ) from exc
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"the database is locked by another followup process (an import or a worker?); "
                    f"waited {allowed:.0f} s, nothing was written: try again"
                ) from exc
            if not told:
                log.warning(
                    "waiting for another followup process (an import or a worker?) to finish writing "
                    "to the database (up to %.0f s; Ctrl-C stops)",
                    allowed,
                )
                told = True
        time.sleep(0.01)  # a signal handler (KeyboardInterrupt, the worker's stop) runs here
