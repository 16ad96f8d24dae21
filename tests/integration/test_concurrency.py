"""Several worker processes, and a worker killed mid-dispatch: every message exactly once.

Real processes (``followup run --once`` as the owner would run it from cron) against a
real database; the dry-run outbox is the witness: each message's key must appear in
``sms.jsonl`` exactly once, and every row must end up ``sent``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.config.loader import load_clinic
from followup.core.domain import Client, Session
from followup.engine.planning import replan_all
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from tests.conftest import ClinicFactory

MESSAGES = 1000


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon right now: inside any send window."""
    offset = 12 - now.astimezone(UTC).hour  # hours ahead of UTC
    offset = max(-12, min(14, offset))
    # POSIX sign convention: Etc/GMT-3 is three hours *ahead* of UTC.
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


def prepare(db_url: str, config: Path, templates: Path, count: int = MESSAGES) -> SqlStore:
    clinic = load_clinic(config, templates, env_file=None)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    now = datetime.now(UTC)
    tz = noon_zone(now)
    ended = now - timedelta(hours=2, minutes=1)  # "thanks" (2h after) is due now
    with store.transaction():
        for n in range(count):
            cid = f"c{n:05d}"
            client_id, _ = store.upsert_client(
                Client(external_id=cid, first_name=f"Client{n}", phone=f"+1305555{n:04d}", timezone=tz), now
            )
            store.upsert_session(
                Session(
                    external_id=f"s{n:05d}",
                    client_external_id=cid,
                    start=ended - timedelta(hours=1),
                    end=ended,
                    service="NMT 60",
                    status="completed",
                ),
                client_id,
                now,
            )
    replan_all(store, clinic, now)
    due = store.messages(MessageQuery(statuses=("scheduled",), due_before=now))
    assert len(due) == count
    return store


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self, timeout: float = 600) -> str:
        self.proc.wait(timeout=timeout)
        return self.log.read_text(encoding="utf-8")


def worker(db_url: str, config: Path, templates: Path, outbox: Path, *, once: bool = True, **env: str) -> Worker:
    """Start a worker process.  Its log goes to a file: a pipe that nobody reads while the
    worker runs would fill up and block it mid-write."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    environment |= {
        "FOLLOWUP_DATABASE_URL": db_url,
        "FOLLOWUP_OUTBOX_DIR": str(outbox),
        "FOLLOWUP_WORKER_BATCH_SIZE": "10",
        "FOLLOWUP_WORKER_DISPATCH_SECONDS": "0.5",
        "FOLLOWUP_WEB_PORT": "0",
        # Client messages only: on a Monday the owner's digest would be one more email.
        "FOLLOWUP_DIGEST_ENABLED": "false",
    } | env
    args = ["run", "--once"] if once else ["run"]
    log = outbox.parent / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "followup", *args, "--config", str(config), "--templates", str(templates)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            cwd=outbox.parent,
        )
    return Worker(proc, log)


def run_until_sent(
    store: SqlStore, workers: list[Worker], sent: int, *, deadline_s: float, output_timeout: float
) -> list[str]:
    """Wait until ``sent`` messages are sent (or a worker dies, or the deadline passes), then stop
    every worker with SIGTERM and return their logs; each must have exited 0."""
    deadline = time.monotonic() + deadline_s
    try:
        while time.monotonic() < deadline:
            if store.counts().get("sent", 0) >= sent or any(w.proc.poll() is not None for w in workers):
                break
            time.sleep(0.25)
    finally:
        for w in workers:
            w.proc.send_signal(signal.SIGTERM)
        outputs = [w.output(timeout=output_timeout) for w in workers]
    for w, log in zip(workers, outputs, strict=True):
        assert w.proc.returncode == 0, log[-3000:]
    return outputs


def assert_each_sent_once(store: SqlStore, outbox: Path) -> None:
    lines = (outbox / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    keys = Counter(json.loads(line)["key"] for line in lines)
    doubles = {k: n for k, n in keys.items() if n > 1}
    assert not doubles, f"sent more than once: {list(doubles.items())[:5]}"
    rows = [m for m in store.messages(MessageQuery()) if m.step == "thanks"]
    assert len(rows) == MESSAGES
    assert Counter(m.status for m in rows) == {"sent": MESSAGES}
    assert set(keys) == {m.key for m in rows}


@pytest.mark.parametrize("processes", [pytest.param(2, id="2-workers")])
def test_workers_on_sqlite_deliver_each_message_once(
    sqlite_url: str, make_clinic: ClinicFactory, tmp_path: Path, processes: int
) -> None:
    _run_workers(sqlite_url, make_clinic, tmp_path, processes)


@pytest.mark.parametrize("processes", [pytest.param(4, id="4-workers")])
def test_workers_on_postgresql_deliver_each_message_once(
    pg_url: str, make_clinic: ClinicFactory, tmp_path: Path, processes: int
) -> None:
    _run_workers(pg_url, make_clinic, tmp_path, processes)


def _run_workers(db_url: str, make_clinic: ClinicFactory, tmp_path: Path, processes: int) -> None:
    config, templates = make_clinic()
    store = prepare(db_url, config, templates)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    # Long-running workers, as deployed: their dispatch ticks overlap from the first second.
    workers = [worker(db_url, config, templates, outbox, once=False) for _ in range(processes)]
    outputs = run_until_sent(store, workers, MESSAGES, deadline_s=300, output_timeout=120)
    assert_each_sent_once(store, outbox)
    busy = [log.count("event=sent ") for log in outputs]
    assert sum(busy) == MESSAGES
    assert sum(1 for n in busy if n) >= 2, f"the workers did not overlap: {busy}"
    store.close()


def test_worker_killed_mid_dispatch_loses_nothing_and_doubles_nothing(
    db_url: str, make_clinic: ClinicFactory, tmp_path: Path
) -> None:
    config, templates = make_clinic()
    store = prepare(db_url, config, templates)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    victim = worker(db_url, config, templates, outbox)
    sms = outbox / "sms.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sms.exists() and len(sms.read_bytes().splitlines()) >= 100:
            break
        time.sleep(0.01)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=60)
    assert victim.proc.returncode == -signal.SIGKILL
    written = len(sms.read_bytes().splitlines())
    assert written < MESSAGES, "the worker finished before it could be killed"
    stuck = store.messages(MessageQuery(statuses=("sending",)))
    time.sleep(1.5)  # past the restarted worker's lease
    survivor = worker(db_url, config, templates, outbox, FOLLOWUP_WORKER_LEASE_SECONDS="1")
    stderr = survivor.output()
    assert survivor.proc.returncode == 0, stderr[-3000:]
    assert_each_sent_once(store, outbox)
    if stuck:  # the kill usually lands with a claimed batch in hand: those were reconciled
        assert "event=reconciled_" in stderr
    store.close()
