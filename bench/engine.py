"""Engine benchmarks: planning and dispatch throughput, render overhead, claim latency.

Run by hand from the repository root (not a test; nothing here asserts a speed)::

    .venv/bin/python bench/engine.py --db sqlite
    .venv/bin/python bench/engine.py --db postgresql --sessions 10000 --claim-rows 1000,1000000

a. plan + dispatch: N clients with one completed session each, in a fixed-offset zone where
   it is about noon, the session ended 2h01m ago so the "thanks" step is due and inside the
   send window.  Real code throughout: ``SqlStore``, ``service.replan_all``,
   ``Dispatcher.run_once`` on a ``FixedClock``, ``DryRunChannel`` writing to a temp outbox,
   the shipped ``config/`` and ``templates/``.
b. render overhead: the same ``aftercare_thanks/sms.j2`` text rendered N times by a plain
   ``jinja2.Environment`` with a plain dict, against the project's ``compose()`` and the
   whole dispatch per message.
c. claim latency: K scheduled rows (about 100 due, the rest spread over the next year), the
   median of ``store.claim_due(now, 20, "bench")`` calls (released in between), before and
   after ANALYZE, with the plan of every statement the claim actually issues.
d. (optional, ``--parts d``) the planner's per-row INSERT construction against a prebuilt
   statement.

Each run uses throw-away databases: a temp SQLite file, or ``followup_bench_<pid>_<part>``
created and dropped on the PostgreSQL server of ``--pg-url``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import create_engine, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from followup.channels.dryrun import DryRunChannel
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName, Client, Session
from followup.core.rules import SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.rendering.compose import compose
from followup.store import dispatch_sql
from followup.store.port import MessageQuery
from followup.store.schema import messages
from followup.store.sql import SqlStore
from followup.testing import FixedClock
from followup.timeutil import zone

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
CHUNK = 50_000  # part c: rows per INSERT batch (SQLite)


# --- small helpers -------------------------------------------------------------------


@dataclass
class Results:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # (part, metric, value, unit)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, part: str, metric: str, value: float | int | str, unit: str = "", fmt: str = ".1f") -> None:
        shown = format(value, fmt) if isinstance(value, float) else str(value)
        self.rows.append((part, metric, shown, unit))
        self.data[f"{part}: {metric}"] = value

    def table(self) -> str:
        widths = [max(len(r[i]) for r in [("part", "metric", "value", "unit"), *self.rows]) for i in range(4)]
        lines = []
        for n, row in enumerate([("part", "metric", "value", "unit"), *self.rows]):
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:<{widths[3]}}")
            if n == 0:
                lines.append("-" * len(lines[0]))
        return "\n".join(lines)


def say(message: str) -> None:
    print(message, flush=True)


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon at ``now`` (as in tests/integration/test_concurrency.py)."""
    offset = 12 - now.astimezone(UTC).hour  # hours ahead of UTC
    offset = max(-12, min(14, offset))
    # POSIX sign convention: Etc/GMT-3 is three hours *ahead* of UTC.
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


@contextmanager
def database(kind: str, pg_url: str, label: str) -> Iterator[str]:
    """A fresh, empty database URL; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    base = make_url(pg_url)
    name = f"followup_bench_{os.getpid()}_{label}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_version(kind: str, pg_url: str) -> str:
    if kind == "sqlite":
        import sqlite3  # noqa: PLC0415 - only for the version string

        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(make_url(pg_url).set(database="postgres"))
    try:
        with engine.connect() as conn:
            return f"PostgreSQL {conn.exec_driver_sql('SHOW server_version').scalar_one()}"
    finally:
        engine.dispose()


def phone(n: int) -> str:
    return f"+1{2_025_550_000 + n}"


# --- part a: plan and dispatch ----------------------------------------------------------


def insert_sessions(store: SqlStore, count: int, now: datetime) -> None:
    tz = noon_zone(now)
    ended = now - timedelta(hours=2, minutes=1)  # "thanks" (2h after the end) is due now
    with store.transaction():
        for n in range(count):
            cid = f"c{n:06d}"
            client_id, _ = store.upsert_client(
                Client(external_id=cid, first_name=f"Client{n}", phone=phone(n), timezone=tz), now
            )
            store.upsert_session(
                Session(
                    external_id=f"s{n:06d}",
                    client_external_id=cid,
                    start=ended - timedelta(hours=1),
                    end=ended,
                    service="NMT 60",
                    status="completed",
                ),
                client_id,
                now,
            )


# The functions whose inclusive share of a profiled phase is reported: (file suffix, function).
# "~" is cProfile's file name for C functions (the database drivers' calls).
PROFILE_FOCUS: dict[str, tuple[tuple[str, str], ...]] = {
    "run_once": (
        ("dispatch.py", "process"),
        ("sql.py", "claim_due"),
        ("sql.py", "client_state"),
        ("sql.py", "finish"),
        ("sql.py", "_event"),
        ("rules.py", "decide"),
        ("dispatch.py", "_send"),
        ("compose.py", "compose"),
        ("context.py", "message_context"),
        ("templates.py", "render_sms"),
        ("sms_encoding.py", "smart_encode"),
        ("base.py", "send"),
        ("dryrun.py", "transmit"),
        ("logfmt.py", "logfmt"),
    ),
    "replan_all": (
        ("sql.py", "client_state"),
        ("planner.py", "plan_client"),
        ("sql.py", "apply_plan"),
        ("sql.py", "_insert_ignore"),
    ),
}
PROFILE_LAYERS: tuple[tuple[str, str], ...] = (
    ("sql.py", "_begin"),  # connection checkout (+ pre-ping), BEGIN, COMMIT
    ("_psycopg_common.py", "do_ping"),  # pool_pre_ping on every checkout (PostgreSQL)
    ("psycopg/connection.py", "wait"),  # psycopg waiting on the server: round trips
    ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("coercions.py", "expect"),  # SQLAlchemy Core statement construction
    ("cache_key.py", "_generate_cache_key"),  # SQLAlchemy compiled-statement cache lookups
)


def profile_report(profile: cProfile.Profile, root: str, top: int = 12) -> str:
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = max(ct for (_f, _l, name), (_cc, _nc, _tt, ct, _c) in entries.items() if name == root)

    def share(filename: str, funcname: str) -> str | None:
        found = [
            (nc, ct)
            for (f, _line, name), (_cc, nc, _tt, ct, _c) in entries.items()
            if (f == filename if filename == "~" else f.endswith(filename)) and name == funcname
        ]
        if not found:
            return None
        calls, cum = sum(c for c, _ in found), sum(t for _, t in found)
        label = funcname if filename == "~" else f"{Path(filename).name}:{funcname}"
        return f"  {100 * cum / total:5.1f}%  {cum:7.2f} s  {calls:>8} calls  {label}"

    lines = [f"cProfile of {root}: {total:.2f} s under the profiler", "", "inclusive share (cumulative / total):"]
    lines += [line for f, name in PROFILE_FOCUS.get(root, ()) if (line := share(f, name))]
    lines += ["", "layers underneath (cumulative / total; overlapping):"]
    lines += [line for f, name in PROFILE_LAYERS if (line := share(f, name))]
    lines += ["", f"top {top} by own time (tottime):"]
    for (f, line, name), (_cc, nc, tt, ct, _c) in sorted(entries.items(), key=lambda i: i[1][2], reverse=True)[:top]:
        where = f"{Path(f).name}:{line}({name})" if line else name
        lines.append(f"  {100 * tt / total:5.1f}%  own {tt:6.2f} s  cum {ct:6.2f} s  {nc:>8} calls  {where}")
    return "\n".join(lines)


def profiled(enabled: bool, func: Callable[[], Any]) -> tuple[Any, float, cProfile.Profile | None]:
    if not enabled:
        value, seconds = timed(func)
        return value, seconds, None
    profile = cProfile.Profile()
    profile.enable()
    try:
        value, seconds = timed(func)
    finally:
        profile.disable()
    return value, seconds, profile


class ClaimTimer:
    """Times each ``store.claim_due`` the dispatcher makes (wraps the instance's method)."""

    def __init__(self, store: SqlStore) -> None:
        self.real = store.claim_due
        self.samples: list[tuple[float, int]] = []  # (seconds, rows claimed)
        store.claim_due = self  # type: ignore[method-assign]

    def __call__(self, now: datetime, limit: int, worker: str) -> Any:
        start = time.perf_counter()
        claimed = self.real(now, limit, worker)
        self.samples.append((time.perf_counter() - start, len(claimed)))
        return claimed

    def summary(self, total: float) -> str:
        ms = [1000 * s for s, n in self.samples if n]
        if not ms:
            return "no claims"
        tenth = max(len(ms) // 10, 1)
        return (
            f"claim_due inside run_once: {len(self.samples)} calls, {sum(s for s, _ in self.samples):.2f} s "
            f"({100 * sum(s for s, _ in self.samples) / total:.1f}% of dispatch); ms per non-empty claim: "
            f"first {ms[0]:.2f}, median {statistics.median(ms):.2f}, max {max(ms):.2f}, "
            f"mean of first tenth {statistics.mean(ms[:tenth]):.2f}, of last tenth {statistics.mean(ms[-tenth:]):.2f}"
        )


def part_a(args: argparse.Namespace, clinic: ClinicConfig, results: Results) -> dict[str, float]:
    n = args.sessions
    say(f"\n== a. plan and dispatch {n} sessions ({args.db}) ==")
    with database(args.db, args.pg_url, "dispatch") as url, tempfile.TemporaryDirectory(prefix="followup-out-") as tmp:
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        say(f"now={now.isoformat()} client zone={noon_zone(now)} (local {now.astimezone(zone(noon_zone(now))):%H:%M})")

        _, insert_s = timed(lambda: insert_sessions(store, n, now))
        say(f"inserted {n} clients + {n} sessions in {insert_s:.2f} s")

        changes, plan_s, plan_profile = profiled(args.profile, lambda: replan_all(store, clinic, now))
        planned = changes.created
        by_status = store.counts()
        due = len(store.messages(MessageQuery(statuses=("scheduled",), due_before=now + timedelta(seconds=1))))
        say(f"planned {planned} messages in {plan_s:.2f} s ({by_status}); {due} due now")

        if args.analyze:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            say("ANALYZE done (--analyze)")
        outbox = Path(tmp) / "outbox"
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
        claims = ClaimTimer(store)
        stats, dispatch_s, dispatch_profile = profiled(args.profile, dispatcher.run_once)
        store.claim_due = claims.real  # type: ignore[method-assign]
        sent = stats["sent"]
        lines = (outbox / "sms.jsonl").read_bytes().count(b"\n") if (outbox / "sms.jsonl").exists() else 0
        say(f"dispatched in {dispatch_s:.2f} s: {dict(stats.counts)}; sms.jsonl has {lines} lines")
        if sent != due or lines != sent:
            say(f"WARNING: expected {due} sent, got {sent} ({lines} outbox lines)")
        say(claims.summary(dispatch_s))
        store.close()

    label = "a" + (" analyzed" if args.analyze else "") + (" (profiled)" if args.profile else "")
    results.add(label, "insert clients+sessions", insert_s, "s")
    results.add(label, "insert rate", n / insert_s, "sessions/s")
    results.add(label, "messages planned", planned)
    results.add(label, "plan (replan_all)", plan_s, "s")
    results.add(label, "plan rate", planned / plan_s, "messages/s")
    results.add(label, "plan rate per client", n / plan_s, "clients/s")
    results.add(label, "messages sent", sent)
    results.add(label, "dispatch (run_once)", dispatch_s, "s")
    results.add(label, "dispatch rate", sent / dispatch_s, "messages/s")
    per_message_us = 1e6 * dispatch_s / max(sent, 1)
    results.add(label, "dispatch per message", per_message_us, "us")
    for profile, root in ((plan_profile, "replan_all"), (dispatch_profile, "run_once")):
        if profile is not None:
            say("\n" + profile_report(profile, root))
    return {"dispatch_us": per_message_us}


# --- part b: render overhead --------------------------------------------------------------


def part_b(args: argparse.Namespace, clinic: ClinicConfig, results: Results, dispatch_us: float | None) -> None:
    n = args.sessions
    say(f"\n== b. render overhead, {n} renders ==")
    source = (ROOT / "templates" / "aftercare_thanks" / "sms.j2").read_text(encoding="utf-8")
    env = jinja2.Environment()  # the plain, unsandboxed baseline on purpose
    template = env.from_string(source)
    context = {"client": {"first_name": "Client1"}, "business": {"short_name": clinic.settings.business_short_name}}
    template.render(context)

    def bare() -> None:
        for _ in range(n):
            template.render(context)

    _, bare_s = timed(bare)
    bare_us = 1e6 * bare_s / n

    now = datetime.now(UTC).replace(microsecond=0)
    client = Client(external_id="c000001", first_name="Client1", phone=phone(1), timezone=noon_zone(now))
    ended = now - timedelta(hours=2, minutes=1)
    session = Session("s000001", "c000001", ended - timedelta(hours=1), ended, "NMT 60", status="completed")

    def project() -> str | None:
        return compose(
            clinic,
            client=client,
            session=session,
            visit_count=1,
            campaign_name="post_session_care",
            step_index=0,
            channel="sms",
            now=now,
        ).sms

    say(f"bare jinja2 output:  {template.render(context)!r}")
    say(f"compose() output:    {project()!r}")

    def composed() -> None:
        for _ in range(n):
            project()

    _, compose_s = timed(composed)
    compose_us = 1e6 * compose_s / n

    results.add("b", "bare jinja2 render", bare_us, "us/message", ".2f")
    results.add("b", "compose() (sandbox+context+layout+encode)", compose_us, "us/message", ".1f")
    results.add("b", "compose / bare", compose_us / bare_us, "x", ".1f")
    if dispatch_us is not None:
        results.add("b", "dispatch per message (from a)", dispatch_us, "us/message", ".1f")
        results.add("b", "dispatch / bare", dispatch_us / bare_us, "x", ".0f")
        results.add("b", "dispatch overhead over bare render", dispatch_us - bare_us, "us/message", ".1f")
        results.add("b", "render share of dispatch (compose/dispatch)", 100 * compose_us / dispatch_us, "%", ".1f")


# --- part c: claim latency vs table size ---------------------------------------------------


def bulk_insert(store: SqlStore, client_id: int, rows: int, due: int, tied: bool, now: datetime) -> None:
    """``rows`` scheduled messages for one client: the first ``due`` are due (a minute apart, or all at
    the same instant with ``tied``), the rest spread over the next year."""
    due = min(due, rows)
    spread = 365 * 86400 / max(rows - due, 1)  # seconds between consecutive future rows
    step = 0 if tied else 1  # minutes between consecutive due rows
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    """
                    INSERT INTO messages (idempotency_key, campaign, step, step_index, client_id, channel, purpose,
                        priority, due_at, expires_at, status, why, attempts, next_attempt_at, fell_back,
                        created_at, updated_at)
                    SELECT 'bench/' || g, 'post_session_care', 'thanks', 0, :client_id, 'preferred', 'care',
                        'aftercare', t, t + interval '6 hours', 'scheduled', 'bench row', 0, t, false, :now, :now
                    FROM (
                        SELECT g, CASE WHEN g <= :due
                            THEN CAST(:now AS timestamptz) - ((:due - g) * :step + 1) * interval '1 minute'
                            ELSE CAST(:now AS timestamptz) + (g - :due) * :spread * interval '1 second' END AS t
                        FROM generate_series(1, :rows) AS g
                    ) AS s
                    """
                ),
                {"client_id": client_id, "now": now, "due": due, "step": step, "spread": spread, "rows": rows},
            )
        return
    with store.engine.begin() as conn:
        for start in range(0, rows, CHUNK):
            batch = []
            for g in range(start + 1, min(start + CHUNK, rows) + 1):
                if g <= due:
                    t = now - timedelta(minutes=(due - g) * step + 1)
                else:
                    t = now + timedelta(seconds=(g - due) * spread)
                batch.append(
                    {
                        "idempotency_key": f"bench/{g}",
                        "campaign": "post_session_care",
                        "step": "thanks",
                        "step_index": 0,
                        "client_id": client_id,
                        "session_id": None,
                        "channel": "preferred",
                        "purpose": "care",
                        "priority": "aftercare",
                        "due_at": t,
                        "expires_at": t + timedelta(hours=6),
                        "status": "scheduled",
                        "why": "bench row",
                        "attempts": 0,
                        "next_attempt_at": t,
                        "fell_back": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(messages), batch)


def capture_claim(store: SqlStore, now: datetime) -> list[tuple[str, Any]]:
    """The statements one ``claim_due`` sends to the driver (SQL and parameters).  The claim
    runs on the driver's cursor (followup/store/dispatch_sql.py), so its cursor is wrapped."""
    seen: list[tuple[str, Any]] = []
    real = dispatch_sql._cursor

    class Recording:
        def __init__(self, cursor: Any) -> None:
            self.cursor = cursor

        def execute(self, statement: str, parameters: Any = ()) -> Any:
            seen.append((statement, parameters))
            self.cursor.execute(statement, parameters)
            return self

        def __iter__(self) -> Any:
            return iter(self.cursor.fetchall())

        def fetchall(self) -> Any:
            return self.cursor.fetchall()

    dispatch_sql._cursor = lambda conn: Recording(real(conn))  # type: ignore[assignment]
    try:
        claimed = store.claim_due(now, 20, "bench")
    finally:
        dispatch_sql._cursor = real
    store.release([m.id for m in claimed], "bench")
    return seen


def explain(store: SqlStore, statement: str, parameters: Any) -> str:
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
            out = "\n".join(str(r[0]) for r in rows)
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node] - 1) + str(detail))
            out = "\n".join(lines)
        conn.rollback()  # EXPLAIN ANALYZE runs the statement (locks, the UPDATE): undo it
    return out


def time_claims(store: SqlStore, now: datetime, calls: int) -> tuple[list[float], int]:
    for _ in range(3):  # warm-up (caches, prepared statements)
        store.release([m.id for m in store.claim_due(now, 20, "bench")], "bench")
    samples = []
    claimed = 0
    for _ in range(calls):
        start = time.perf_counter()
        got = store.claim_due(now, 20, "bench")
        samples.append(time.perf_counter() - start)
        claimed = len(got)
        store.release([m.id for m in got], "bench")
    return sorted(1000 * s for s in samples), claimed


def part_c(args: argparse.Namespace, results: Results) -> None:
    sizes = [int(s) for s in args.claim_rows.split(",") if s.strip()]
    for rows in sizes:
        due = min(args.claim_due, rows)
        shape = f"{due} due{' at one instant' if args.claim_tied else ', a minute apart'}"
        say(f"\n== c. claim latency, {rows} scheduled rows, {shape} ({args.db}) ==")
        with database(args.db, args.pg_url, f"claim{rows}") as url:
            store = SqlStore.from_url(url)
            store.upgrade()
            if store.dialect == "postgresql":  # keep autovacuum's ANALYZE out of the "no statistics" timing
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ALTER TABLE messages SET (autovacuum_enabled = false)")
            now = datetime.now(UTC).replace(microsecond=0)
            client_id, _ = store.upsert_client(Client(external_id="bench", first_name="Bench", phone=phone(0)), now)
            _, build_s = timed(lambda: bulk_insert(store, client_id, rows, due, args.claim_tied, now))  # noqa: B023
            say(f"inserted {rows} rows in {build_s:.1f} s; counts {store.counts()}")
            tag = f"c rows={rows:,}" + (" tied" if args.claim_tied else "")
            results.add(tag, "build table", build_s, "s")
            for state in ("no statistics", "after ANALYZE"):
                if state == "after ANALYZE":
                    with store.engine.begin() as conn:
                        conn.exec_driver_sql("ANALYZE")
                statements = capture_claim(store, now)
                ms, claimed = time_claims(store, now, args.claim_calls)
                say(f"\n-- {state}: claim_due(20) median {statistics.median(ms):.2f} ms ({claimed} rows per claim)")
                for statement, parameters in statements:
                    shown = " ".join(statement.split())
                    say(f"\n{shown[:300]}{' ...' if len(shown) > 300 else ''}\n  params={parameters}")
                    plan = explain(store, statement, parameters)
                    say("  " + plan.replace("\n", "\n  "))
                    results.data[f"{tag} [{state}] plan: {shown[:60]}"] = plan
                results.add(tag, f"claim_due(20) median of {len(ms)} [{state}]", statistics.median(ms), "ms", ".2f")
                results.add(tag, f"  min / p90 [{state}]", f"{ms[0]:.2f} / {ms[int(0.9 * (len(ms) - 1))]:.2f}", "ms")
            store.close()


# --- part d (optional): what building the planner's INSERT per row costs ------------------


def part_d(args: argparse.Namespace, results: Results) -> None:
    """``apply_plan`` builds ``insert(messages).values(**row)...`` for every planned message; SQLAlchemy
    then generates a cache key over ~20 bound values each time.  Compare with one prebuilt statement
    executed with the row as parameters (same SQL, same database, same transaction shape)."""
    n = args.sessions
    say(f"\n== d. planner INSERT: statement built per row vs prebuilt, {n} rows each ({args.db}) ==")
    with database(args.db, args.pg_url, "insert") as url:
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        client_id, _ = store.upsert_client(Client(external_id="bench", first_name="Bench", phone=phone(0)), now)
        dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert

        def row(i: int) -> dict[str, Any]:
            return {
                "idempotency_key": f"bench/{i}",
                "campaign": "post_session_care",
                "step": "thanks",
                "step_index": 0,
                "client_id": client_id,
                "session_id": None,
                "channel": "preferred",
                "purpose": "care",
                "priority": "aftercare",
                "due_at": now,
                "expires_at": now + timedelta(hours=6),
                "status": "scheduled",
                "why": "bench row",
                "attempts": 0,
                "next_attempt_at": now,
                "fell_back": False,
                "created_at": now,
                "updated_at": now,
            }

        def per_row() -> None:  # the shape of SqlStore._insert_ignore
            with store.engine.begin() as conn:
                for i in range(n):
                    statement = (
                        dialect_insert(messages)
                        .values(**row(i))
                        .on_conflict_do_nothing(index_elements=["idempotency_key"])
                        .returning(messages.c.id)
                    )
                    conn.execute(statement).fetchall()

        prebuilt = (
            dialect_insert(messages).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(messages.c.id)
        )

        def once() -> None:
            with store.engine.begin() as conn:
                for i in range(n, 2 * n):
                    conn.execute(prebuilt, row(i)).fetchall()

        _, per_row_s = timed(per_row)
        _, once_s = timed(once)
        store.close()
    results.add("d", "INSERT built per row (as apply_plan)", 1e6 * per_row_s / n, "us/row", ".0f")
    results.add("d", "INSERT prebuilt, row as parameters", 1e6 * once_s / n, "us/row", ".0f")
    results.add("d", "per-row building / prebuilt", per_row_s / once_s, "x", ".1f")


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions (= clients) for parts a and b")
    parser.add_argument("--claim-rows", default="1000,1000000", help="comma-separated table sizes for part c")
    parser.add_argument("--claim-calls", type=int, default=50, help="timed claim_due calls per table size")
    parser.add_argument("--claim-due", type=int, default=100, help="part c: how many of the rows are due")
    parser.add_argument("--claim-tied", action="store_true", help="part c: the due rows share one next_attempt_at")
    parser.add_argument("--analyze", action="store_true", help="part a: ANALYZE after planning, before dispatch")
    parser.add_argument("--parts", default="a,b,c", help="which parts to run: a,b,c (default) and d (optional)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server for --db postgresql (database ignored)")
    parser.add_argument("--profile", action="store_true", help="run part a's dispatch under cProfile (slower)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    command = ".venv/bin/python " + shlex.join(["bench/engine.py", *(argv if argv is not None else sys.argv[1:])])

    started = datetime.now().astimezone()
    say(f"{command}")
    say(
        f"{started:%Y-%m-%d %H:%M %Z}; {platform.python_implementation()} {platform.python_version()}; "
        f"{server_version(args.db, args.pg_url)}; {os.cpu_count()} CPUs; {platform.machine()}"
    )
    clinic = load_clinic(ROOT / "config", ROOT / "templates", env_file=None)
    results = Results()
    dispatch_us = None
    if "a" in parts:
        dispatch_us = part_a(args, clinic, results)["dispatch_us"]
    if "b" in parts:
        part_b(args, clinic, results, dispatch_us)
    if "c" in parts:
        part_c(args, results)
    if "d" in parts:
        part_d(args, results)

    say(f"\n== results ({args.db}, {started:%Y-%m-%d}) ==")
    say(results.table())
    say(f"\ncommand: {command}")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "date": started.isoformat(), **results.data}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
