"""Waiting for SQLite's write lock in Python, not inside SQLite's C busy wait: a Ctrl-C
pressed while another process holds the database (an import, a worker) takes effect at
once, and a wait that runs out is the owner's message, not a traceback.  (SQLite only:
PostgreSQL's lock waits are interrupted by the server.)"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from followup.core.domain import Client
from followup.exceptions import StoreBusyError
from followup.store import engine as store_engine
from followup.store.sql import SqlStore
from tests.conftest import ClinicFactory
from tests.integration.test_concurrency import worker


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process's writer, as far as SQLite can tell: a connection holding the lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_wait_that_runs_out_is_a_store_busy_error_and_the_store_works_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "busy.db"
    store = SqlStore.from_url(f"sqlite:///{path}")
    store.upgrade()
    monkeypatch.setattr(store_engine, "LOCK_WAIT_SECONDS", 0.3)
    now = datetime.now(UTC)
    with write_lock(path), pytest.raises(StoreBusyError, match="locked by another followup process"):
        store.upsert_client(Client(external_id="c1", first_name="Ana"), now)
    client_id, outcome = store.upsert_client(Client(external_id="c1", first_name="Ana"), now)
    assert outcome == "created" and store.client_external_id(client_id) == "c1"  # nothing half-done
    store.close()


def test_the_wait_lets_the_writer_in_once_the_lock_is_free(tmp_path: Path) -> None:
    path = tmp_path / "wait.db"
    store = SqlStore.from_url(f"sqlite:///{path}")
    store.upgrade()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    # The lock comes free after several of the store's C-level slices: the store keeps waiting.
    release = threading.Timer(4 * store_engine.BUSY_SLICE_MS / 1000, lambda: other.execute("ROLLBACK"))
    release.start()
    store.upsert_client(Client(external_id="c2", first_name="Luz"), datetime.now(UTC))
    release.join()
    assert not release.is_alive()
    assert [c.client.external_id for c in store.client_states(store.client_ids_after(0, 10))] == ["c2"]
    other.close()
    store.close()


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to see the database opened")
def test_ctrl_c_while_another_process_holds_the_database_stops_the_command_at_once(
    tmp_path: Path, make_clinic: ClinicFactory
) -> None:
    config, templates = make_clinic()
    path = tmp_path / "held.db"
    SqlStore.from_url(f"sqlite:///{path}").upgrade()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env |= {"FOLLOWUP_DATABASE_URL": f"sqlite:///{path}", "FOLLOWUP_OUTBOX_DIR": str(tmp_path / "outbox")}
    with write_lock(path):
        proc = subprocess.Popen(
            [sys.executable, "-m", "followup", "run", "--once", "--config", str(config), "--templates", str(templates)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not _has_open(proc.pid, path):  # connected: it is now waiting for the lock
                assert proc.poll() is None and time.monotonic() < deadline, "the command never opened the database"
                time.sleep(0.05)
            time.sleep(0.5)  # well inside the wait (which would last a minute)
            proc.send_signal(signal.SIGINT)
            asked = time.monotonic()
            _, stderr = proc.communicate(timeout=30)
            took = time.monotonic() - asked
        finally:
            if proc.poll() is None:
                proc.kill()
    assert took < 2.0, f"took {took:.2f} s to stop"  # before: when the lock came free, up to 60 s
    assert proc.returncode == 130
    assert "Traceback" not in stderr, stderr


def test_a_worker_told_to_stop_while_another_process_holds_the_database_stops_at_once(
    tmp_path: Path, make_clinic: ClinicFactory
) -> None:
    config, templates = make_clinic()
    path = tmp_path / "worker.db"
    SqlStore.from_url(f"sqlite:///{path}").upgrade()
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    w = worker(f"sqlite:///{path}", config, templates, outbox, once=False, FOLLOWUP_WORKER_DISPATCH_SECONDS="0.2")
    try:
        deadline = time.monotonic() + 60
        while "event=started" not in w.log.read_text(errors="replace"):
            assert w.proc.poll() is None and time.monotonic() < deadline, w.log.read_text(errors="replace")[-2000:]
            time.sleep(0.05)
        with write_lock(path):  # an import, say, holding the database for a minute
            while "waiting for another followup process" not in w.log.read_text(errors="replace"):
                assert w.proc.poll() is None and time.monotonic() < deadline, w.log.read_text(errors="replace")[-2000:]
                time.sleep(0.05)
            w.proc.send_signal(signal.SIGINT)
            asked = time.monotonic()
            w.proc.wait(timeout=30)
            took = time.monotonic() - asked
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
    log = w.log.read_text(errors="replace")
    assert took < 2.0, f"took {took:.2f} s to stop"  # before: when the other process committed
    assert w.proc.returncode == 0, log[-2000:]
    assert "event=database_busy" in log and "event=stopped" in log, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
