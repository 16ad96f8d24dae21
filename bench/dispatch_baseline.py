"""Dispatch against a raw loop: how far ``Dispatcher.run_once`` is from the least a dispatcher can do.

    .venv/bin/python bench/dispatch_baseline.py --db sqlite --sessions 3000
    .venv/bin/python bench/dispatch_baseline.py --db postgresql --sessions 3000

Both sides get the same data, made as ``bench/engine.py`` part a makes it (N clients, one
completed session each, planned with the shipped ``config/``; N ``thanks`` texts due now), each
in a fresh database:

- **raw**: per batch of ``worker_batch_size`` (20), one Core ``UPDATE … RETURNING`` claims the
  batch (the due rows, oldest first, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and returns each
  message's id and its client's first name; the text of ``templates/aftercare_thanks/sms.j2`` is
  rendered with a plain ``jinja2.Environment`` and a dict; one ``executemany`` UPDATE marks the
  batch sent with its body.  No rules, no send window, no caps, no file written, no events.
- **dispatcher**: ``Dispatcher.run_once`` as ``bench/engine.py`` part a runs it (dry-run
  channels writing ``sms.jsonl``, the worker's send window and batch size, a fixed clock).

It prints both rates and dispatcher / raw.  Each side is timed alone, on its own database;
planning is not timed.

``--workers K`` (K > 1) instead times K dispatcher processes on one database (each runs
``Dispatcher.run_once`` until nothing is due; ``FOR UPDATE SKIP LOCKED`` keeps their claims
apart on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), after one process on another database
with the same data, and counts the keys written to ``sms.jsonl`` more than once:

    .venv/bin/python bench/dispatch_baseline.py --db postgresql --sessions 3000 --workers 4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shlex
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import bindparam, literal_column, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import ROOT, database, insert_sessions

from followup.channels.dryrun import DryRunChannel
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName
from followup.core.rules import SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.store.schema import messages
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock


def prepared(url: str, clinic: ClinicConfig, n: int, now: datetime) -> SqlStore:
    store = SqlStore.from_url(url)
    store.upgrade()
    insert_sessions(store, n, now)
    replan_all(store, clinic, now)
    return store


def raw_loop(store: SqlStore, clinic: ClinicConfig, now: datetime, batch: int) -> int:
    """Claim, render, mark sent: the least a dispatcher does.  Returns how many were sent."""
    template = jinja2.Environment().from_string(
        (ROOT / "templates" / "aftercare_thanks" / "sms.j2").read_text(encoding="utf-8")
    )
    business = {"short_name": clinic.settings.business_short_name}
    due = (
        select(messages.c.id)
        .where(messages.c.status == "scheduled", messages.c.next_attempt_at <= bindparam("now"))
        .order_by(messages.c.next_attempt_at, messages.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    # Written out so that it reads the same on both databases (SQLite renders RETURNING's
    # columns unqualified).
    first_name = literal_column("(SELECT clients.first_name FROM clients WHERE clients.id = messages.client_id)")
    claim = (
        update(messages)
        .where(messages.c.id.in_(due))
        .values(status="sending", claimed_by="raw", claimed_at=bindparam("now"), updated_at=bindparam("now"))
        .returning(messages.c.id, first_name)
    )
    mark = (
        update(messages)
        .where(messages.c.id == bindparam("m_id"))
        .values(status="sent", body=bindparam("m_body"), sent_channel="sms", sent_at=bindparam("m_now"))
    )
    sent = 0
    while True:
        with store.engine.begin() as conn:
            claimed = conn.execute(claim, {"now": now}).all()
        if not claimed:
            return sent
        rows: list[dict[str, Any]] = [
            {"m_id": r[0], "m_body": template.render(client={"first_name": r[1]}, business=business), "m_now": now}
            for r in claimed
        ]
        with store.engine.begin() as conn:
            conn.execute(mark, rows)
        sent += len(rows)


def dispatcher_run(store: SqlStore, clinic: ClinicConfig, now: datetime, outbox: Path) -> int:
    settings = clinic.settings
    channels: dict[ChannelName, DryRunChannel] = {
        "sms": DryRunChannel("sms", outbox),
        "email": DryRunChannel("email", outbox, sender=settings.business_email or "followup@localhost"),
    }
    dispatcher = Dispatcher(
        store,
        clinic,
        channels,
        FixedClock(now),
        worker="bench",
        batch_size=settings.worker_batch_size,
        window=SendWindow(settings.send_window_start, settings.send_window_end),
    )
    return dispatcher.run_once()["sent"]


def _worker(url: str, now: datetime, outbox: str, go: Any) -> None:
    clinic = load_clinic(ROOT / "config", ROOT / "templates", env_file=None)
    store = SqlStore.from_url(url)
    go.wait()
    dispatcher_run(store, clinic, now, Path(outbox))
    store.close()


def workers_run(url: str, clinic: ClinicConfig, n: int, now: datetime, processes: int) -> tuple[float, int, int]:
    """(elapsed s, messages sent, keys written more than once) for ``processes`` dispatchers."""
    store = prepared(url, clinic, n, now)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    with tempfile.TemporaryDirectory() as tmp:
        procs = [context.Process(target=_worker, args=(url, now, tmp, go)) for _ in range(processes)]
        for proc in procs:
            proc.start()
        time.sleep(3)  # let every process import and connect before the clock starts
        start = time.perf_counter()
        go.set()
        for proc in procs:
            proc.join()
        elapsed = time.perf_counter() - start
        lines = (Path(tmp) / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    keys = Counter(json.loads(line)["key"] for line in lines)
    sent = store.counts().get("sent", 0)
    store.close()
    return elapsed, sent, sum(1 for count in keys.values() if count > 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1, help="K > 1: K dispatcher processes against 1")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = "command: .venv/bin/python bench/dispatch_baseline.py " + shlex.join(given)
    print(command)
    clinic = load_clinic(ROOT / "config", ROOT / "templates", env_file=None)
    now = datetime.now(UTC).replace(microsecond=0)
    if args.workers > 1:
        for processes in (1, args.workers):
            with database(args.db, args.pg_url, f"w{processes}") as url:
                elapsed, sent, doubles = workers_run(url, clinic, args.sessions, now, processes)
            rate = sent / elapsed
            print(f"{processes} process(es): {sent} sent in {elapsed:.2f} s = {rate:,.0f} msg/s, {doubles} duplicates")
        print(command)
        return 0
    rates: dict[str, float] = {}
    for side in ("raw", "dispatcher"):
        with database(args.db, args.pg_url, side) as url, tempfile.TemporaryDirectory() as tmp:
            store = prepared(url, clinic, args.sessions, now)
            start = time.perf_counter()
            if side == "raw":
                sent = raw_loop(store, clinic, now, clinic.settings.worker_batch_size)
            else:
                sent = dispatcher_run(store, clinic, now, Path(tmp))
            elapsed = time.perf_counter() - start
            store.close()
        if sent != args.sessions:
            print(f"WARNING: {side} sent {sent} of {args.sessions}")
        rates[side] = sent / elapsed
        per = 1e6 * elapsed / max(sent, 1)
        print(f"{side:>10}: {sent} sent in {elapsed:.2f} s = {rates[side]:,.0f} msg/s ({per:,.0f} us/msg)")
    print(f"dispatcher / raw = {rates['dispatcher'] / rates['raw']:.3f}x  ({args.db})")
    print(command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
