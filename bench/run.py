"""One benchmark command (issue 12, item 7): every figure next to its baseline, measured in the
same run, with the ratio and the goal.

    .venv/bin/python bench/run.py --quick                  # smoke run, a few minutes
    .venv/bin/python bench/run.py                          # full sizes (long: see bench/README.md)
    .venv/bin/python bench/run.py --only dispatch,help --db sqlite --json /tmp/bench.json

Rows (``--only`` takes these names, or a family such as ``dispatch`` or ``idle``):

  dispatch-<db>   Dispatcher.run_once, dry-run, msg/s   vs a raw claim-render-mark loop      >= 0.5x
  planning-<db>   replan_all, messages/s                vs batched Core insert of the rows   >= 0.5x
  idle-<db>       `run --once`, nothing due, 500k rows  vs the same with 1k rows (wall)      <= 2x
  rss-<db>        max RSS of that `run --once`          vs the same with 1k rows             <= 1.1x
  simulate        `simulate --days 30`, time/message    vs dispatch time/message (SQLite)    <= 2x
  help            `followup --help`, median wall        vs `python -c pass`                  <= 15x
  workers         4 dry-run worker processes, msg/s     vs 1 worker (PostgreSQL)             >= 3x, 0 duplicates
  import-<db>     `import clients`, 1M rows, rows/s     vs batched Core insert of the rows   >= 0.3x, RSS <= 300 MB

Progress goes to stderr; the header (command, machine, date) and the table to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import data
import jinja2
from engine import DEFAULT_PG_URL, database, noon_zone
from sqlalchemy import Engine, bindparam, delete, func, insert, select, update

from followup.channels.dryrun import DryRunChannel
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName, Client, Consent, Session
from followup.core.planner import plan_client
from followup.core.rules import Caps, SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import CAMPAIGNS_PASS, campaigns_fingerprint, replan_all
from followup.store.port import PlanPass
from followup.store.schema import client_tips, clients, delivery_events, messages, sessions
from followup.store.sql import SqlStore
from followup.testing import FixedClock

VENV_BIN = Path(sys.executable).parent
FOLLOWUP = str(VENV_BIN / "followup")
BATCH = 5_000  # rows per Core executemany when seeding
THANKS_SMS = ROOT / "templates" / "aftercare_thanks" / "sms.j2"
STARTED = time.perf_counter()


@dataclass(frozen=True)
class Sizes:
    dispatch: int  # due messages for dispatch-<db>
    planning: int  # clients for planning-<db> (about 1.5 sessions each)
    idle_big: int  # scheduled rows for idle/rss
    idle_small: int
    sim_clients: int
    sim_sessions: int
    help_runs: int
    worker_messages: int
    import_rows: int


FULL = Sizes(10_000, 5_000, 500_000, 1_000, 2_000, 5_000, 15, 8_000, 1_000_000)
QUICK = Sizes(500, 200, 10_000, 1_000, 20, 50, 5, 400, 2_000)
FAMILIES = ("dispatch", "planning", "idle", "rss", "simulate", "help", "workers", "import")
PER_DB = ("dispatch", "planning", "idle", "rss", "import")


# --- output --------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass
class Row:
    key: str
    figure: str
    baseline_label: str
    goal: str
    baseline: float | None = None
    measured: float | None = None
    unit: str = ""
    ratio: float | None = None
    result: str = "MISS"  # PASS, MISS, TIMEOUT, ERROR, SKIP
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def judge(self, ratio: float, ok: bool, *more_ok: bool) -> None:
        self.ratio = ratio
        self.result = "PASS" if ok and all(more_ok) else "MISS"


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    head = ("row", "figure", "baseline", "measured", "unit", "ratio", "goal", "result")
    body = [
        (
            r.key,
            r.figure,
            fmt(r.baseline),
            fmt(r.measured),
            r.unit,
            "-" if r.ratio is None else f"{r.ratio:.3f}x" if r.ratio < 0.1 else f"{r.ratio:.2f}x",
            r.goal,
            r.result,
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    right = {2, 3, 5}
    lines = []
    for n, line in enumerate((head, *body)):
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(line)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    notes = [f"  {r.key}: baseline = {r.baseline_label}; " + "; ".join(r.notes) for r in rows]
    return "\n".join(lines) + "\n\nnotes:\n" + "\n".join(notes)


# --- machine -----------------------------------------------------------------------------


def machine(pg_url: str, with_pg: bool) -> dict[str, str]:
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "postgresql": "not used",
        "commit": git_commit(),
    }
    if with_pg:
        try:
            from sqlalchemy import create_engine  # noqa: PLC0415
            from sqlalchemy.engine import make_url  # noqa: PLC0415

            engine = create_engine(make_url(pg_url).set(database="postgres"))
            with engine.connect() as conn:
                info["postgresql"] = str(conn.exec_driver_sql("SHOW server_version").scalar_one())
            engine.dispose()
        except Exception as exc:
            info["postgresql"] = f"unreachable ({type(exc).__name__})"
    return info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


# --- subprocesses with wall time and max RSS ---------------------------------------------


@dataclass
class Proc:
    rc: int | None
    wall: float
    max_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool


def peak_rss_kb(pid: int) -> int:
    """``VmHWM`` of a running process: the high-water mark of its own memory since its ``exec``."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_cli(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float) -> Proc:
    """Run ``argv``; wall time and the child's max RSS, also when it is killed on timeout.

    The RSS is the child's ``VmHWM``, polled while it runs.  Not ``ru_maxrss`` from ``wait4``:
    Linux carries the high-water mark of the memory a child had before ``exec`` into it, and a
    child forked (or vforked) from this process starts with this process's memory, so that figure
    is never below the benchmark's own peak (it read 133 MB for every `run --once`)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        timed_out = False
        peak = 0
        while True:
            peak = max(peak, peak_rss_kb(proc.pid))
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                timed_out = True
                peak = max(peak, peak_rss_kb(proc.pid))
                proc.send_signal(signal.SIGKILL)
                pid, status = os.waitpid(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Proc(
            rc=None if timed_out else proc.returncode,
            wall=wall,
            max_rss_mb=peak / 1024,  # kilobytes on Linux
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=timed_out,
        )


@dataclass
class Clinic:
    """A clinic folder (a copy of the repo's config/ and templates/) and the environment for the CLI."""

    home: Path
    clinic: ClinicConfig

    @classmethod
    def make(cls, home: Path) -> Clinic:
        import shutil  # noqa: PLC0415

        shutil.copytree(ROOT / "config", home / "config")
        shutil.copytree(ROOT / "templates", home / "templates")
        return cls(home, load_clinic(home / "config", home / "templates", env_file=None))

    def argv(self, *args: str) -> list[str]:
        return [FOLLOWUP, *args, "--config", str(self.home / "config"), "--templates", str(self.home / "templates")]

    def env(self, url: str, outbox: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
        env |= {
            "FOLLOWUP_DATABASE_URL": url,
            "FOLLOWUP_DELIVERY": "dryrun",
            "FOLLOWUP_OUTBOX_DIR": str(outbox),
            "FOLLOWUP_WEB_PORT": "0",
            "FOLLOWUP_LOG_LEVEL": "INFO",
        }
        return env


# --- seeding: real schema, Core executemany, the pure planner for the message rows ---------


def client_values(c: data.ClientRow, now: datetime) -> dict[str, Any]:
    return {
        "external_id": c.external_id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "email": c.email,
        "timezone": c.timezone,
        "language": c.language,
        "preferred_channel": c.preferred_channel,
        "consent_sms_care": True,
        "consent_sms_marketing": c.sms_marketing,
        "consent_email_care": True,
        "consent_email_marketing": c.email_marketing,
        "created_at": now,
        "updated_at": now,
    }


def domain_client(c: data.ClientRow) -> Client:
    return Client(
        external_id=c.external_id,
        first_name=c.first_name,
        last_name=c.last_name,
        phone=c.phone,
        email=c.email,
        timezone=c.timezone,
        language=c.language,
        preferred_channel=c.preferred_channel,  # type: ignore[arg-type]
        consent=Consent(sms_marketing=c.sms_marketing, email_marketing=c.email_marketing),
    )


def domain_session(s: data.SessionRow) -> Session:
    return Session(
        external_id=s.external_id,
        client_external_id=s.client,
        start=s.start,
        end=s.end,
        service=s.service,
        therapist=s.therapist,
        focus_areas=s.focus,
        status=s.status,  # type: ignore[arg-type]
    )


def seed(
    engine: Engine,
    clinic: ClinicConfig,
    chunks: Iterable[tuple[list[data.ClientRow], list[data.SessionRow]]],
    now: datetime,
    *,
    plan: bool = True,
    target: int | None = None,
) -> int:
    """Insert clients and sessions chunk by chunk (Core executemany); with ``plan``, also the
    message rows the planner calls for, built as ``SqlStore.apply_plan`` builds a new client's
    (so a later scan finds nothing to change).  Stops after ``target`` message rows.  Returns
    the number of message rows."""
    total = 0
    for chunk_clients, chunk_sessions in chunks:
        with engine.begin() as conn:
            conn.execute(insert(clients), [client_values(c, now) for c in chunk_clients])
            ids = dict(
                conn.execute(
                    select(clients.c.external_id, clients.c.id).where(
                        clients.c.external_id.in_([c.external_id for c in chunk_clients])
                    )
                ).all()
            )
            if chunk_sessions:
                conn.execute(
                    insert(sessions),
                    [
                        {
                            "external_id": s.external_id,
                            "client_id": ids[s.client],
                            "start_at": s.start,
                            "end_at": s.end,
                            "service": s.service,
                            "therapist": s.therapist,
                            "focus_areas": ",".join(s.focus),
                            "status": s.status,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for s in chunk_sessions
                    ],
                )
            if not plan:
                continue
            session_ids = dict(
                conn.execute(
                    select(sessions.c.external_id, sessions.c.id).where(sessions.c.client_id.in_(list(ids.values())))
                ).all()
            )
            by_client: dict[str, list[Session]] = {}
            for s in chunk_sessions:
                by_client.setdefault(s.client, []).append(domain_session(s))
            rows: list[dict[str, Any]] = []
            for c in chunk_clients:
                result = plan_client(clinic.campaigns, domain_client(c), by_client.get(c.external_id, []), now)
                rows += [
                    {
                        "idempotency_key": p.key,
                        "campaign": p.campaign,
                        "step": p.step,
                        "step_index": p.step_index,
                        "client_id": ids[c.external_id],
                        "session_id": session_ids.get(p.session_external_id) if p.session_external_id else None,
                        "channel": p.channel,
                        "purpose": p.purpose,
                        "priority": p.priority,
                        "due_at": p.due_at,
                        "expires_at": p.expires_at,
                        "status": "scheduled",
                        "why": p.why,
                        "attempts": 0,
                        "next_attempt_at": p.due_at,
                        "fell_back": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p in result.planned
                    if p.expires_at > now
                ]
            for start in range(0, len(rows), BATCH):
                conn.execute(insert(messages), rows[start : start + BATCH])
            total += len(rows)
        if target is not None and total >= target:
            break
    return total


def chunked(
    client_rows: Iterable[data.ClientRow],
    sessions_for: Callable[[data.ClientRow, int], list[data.SessionRow]],
    size: int = 1_000,
) -> Iterator[tuple[list[data.ClientRow], list[data.SessionRow]]]:
    chunk: list[data.ClientRow] = []
    chunk_sessions: list[data.SessionRow] = []
    for n, c in enumerate(client_rows):
        chunk.append(c)
        chunk_sessions += sessions_for(c, n)
        if len(chunk) >= size:
            yield chunk, chunk_sessions
            chunk, chunk_sessions = [], []
    if chunk:
        yield chunk, chunk_sessions


def due_now_chunks(
    count: int, seed_: int, now: datetime
) -> Iterator[tuple[list[data.ClientRow], list[data.SessionRow]]]:
    """``count`` clients where it is about noon, each with a session that ended 2h01m ago: the
    ``thanks`` step (2h after the end) of each is due now and inside the send window.  Every
    client prefers SMS, so that the dispatcher sends the very template the raw loop renders
    (``aftercare_thanks/sms.j2``, or its ``es/`` variant for a Spanish speaker): the baseline is
    "the same template", not an email."""
    ended = now - timedelta(hours=2, minutes=1)

    def one(c: data.ClientRow, n: int) -> list[data.SessionRow]:
        return [
            data.SessionRow(
                f"s{n + 1:07d}", c.external_id, ended - timedelta(hours=1), ended, "Deep tissue 60", "", "completed", ()
            )
        ]

    texted = (replace(c, preferred_channel="sms") for c in data.clients(count, seed_, timezone=noon_zone(now)))
    return chunked(texted, one)


def idle_chunks(seed_: int, now: datetime, rows: int) -> Iterator[tuple[list[data.ClientRow], list[data.SessionRow]]]:
    """Clients with a session that ended 5-55 minutes ago (aftercare, tips, nudges and win-backs all
    still ahead: the first is 2h after the end) and, for half of them, a booked session over the
    next year (its reminder).  Nothing is due now."""
    import random  # noqa: PLC0415

    rng = random.Random(seed_)

    def two(c: data.ClientRow, n: int) -> list[data.SessionRow]:
        ended = (now - timedelta(minutes=rng.randrange(5, 56))).replace(second=0, microsecond=0)
        out = [
            data.SessionRow(
                f"s{n + 1:07d}a", c.external_id, ended - timedelta(hours=1), ended, "Swedish 60", "", "completed", ()
            )
        ]
        if n % 2:
            start = (now + timedelta(days=rng.randrange(3, 365), hours=rng.randrange(0, 8))).replace(
                minute=0, second=0, microsecond=0
            )
            out.append(
                data.SessionRow(
                    f"s{n + 1:07d}b", c.external_id, start, start + timedelta(hours=1), "Swedish 60", "", "booked", ()
                )
            )
        return out

    # chunks of ~1% of the target (about 7.5 rows a client), so seeding stops close to it
    return chunked(data.clients(10_000_000, seed_), two, size=max(5, min(1_000, rows // 750)))


def count_due(engine: Engine, now: datetime) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(messages.c.status == "scheduled", messages.c.next_attempt_at <= now)
            ).scalar_one()
        )


# --- dispatch -------------------------------------------------------------------------------


def make_dispatcher(store: SqlStore, clinic: ClinicConfig, outbox: Path, now: datetime, worker: str) -> Dispatcher:
    """As ``Worker`` builds it (batch size, send window, caps), on a fixed clock, dry-run channels."""
    settings = clinic.settings
    channels: dict[ChannelName, DryRunChannel] = {
        "sms": DryRunChannel("sms", outbox),
        "email": DryRunChannel("email", outbox, sender=settings.business_email or "followup@localhost"),
    }
    return Dispatcher(
        store,
        clinic,
        channels,
        FixedClock(now),
        worker=worker,
        batch_size=settings.worker_batch_size,
        window=SendWindow(settings.send_window_start, settings.send_window_end),
        caps=Caps(settings.cap_any_per_day, settings.cap_marketing_per_day),
    )


def raw_loop(engine: Engine, now: datetime, batch: int, short_name: str, outbox: Path) -> int:
    """The baseline: one UPDATE ... RETURNING claims a batch, a bare jinja2 render of the same
    template file, the lines appended to a file, one executemany marks the batch sent."""
    # The same template as the Dispatcher sends each client: the file of the client's language
    # (about half the generated clients speak Spanish: templates/aftercare_thanks/es/sms.j2).
    environment = jinja2.Environment()
    by_language = {
        "en": environment.from_string(THANKS_SMS.read_text(encoding="utf-8")),
        "es": environment.from_string((THANKS_SMS.parent / "es" / THANKS_SMS.name).read_text(encoding="utf-8")),
    }
    due = (
        select(messages.c.id)
        .where(messages.c.status == "scheduled", messages.c.next_attempt_at <= now)
        .order_by(messages.c.next_attempt_at, messages.c.id)
        .limit(batch)
    )
    if engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        update(messages)
        .where(messages.c.id.in_(due.scalar_subquery()))
        .values(status="sending", claimed_by="raw", claimed_at=now, updated_at=now)
        .returning(messages.c.id, messages.c.client_id)
    )
    mark = (
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(status="sent", body=bindparam("text"), sent_at=now, updated_at=now)
    )
    sent = 0
    outbox.mkdir(parents=True, exist_ok=True)
    with open(outbox / "raw.jsonl", "a", encoding="utf-8") as sink:
        while True:
            with engine.begin() as conn:
                claimed = conn.execute(claim).all()
                if not claimed:
                    break
                names = {
                    r[0]: (r[1], r[2])
                    for r in conn.execute(
                        select(clients.c.id, clients.c.first_name, clients.c.language).where(
                            clients.c.id.in_({r[1] for r in claimed})
                        )
                    )
                }
            marks = [
                {
                    "mid": mid,
                    "text": by_language.get(names[cid][1], by_language["en"]).render(
                        client={"first_name": names[cid][0]}, business={"short_name": short_name}
                    ),
                }
                for mid, cid in claimed
            ]
            sink.write("".join(json.dumps({"id": m["mid"], "body": m["text"]}) + "\n" for m in marks))
            with engine.begin() as conn:
                conn.execute(mark, marks)
            sent += len(marks)
    return sent


def reset_sent(engine: Engine, now: datetime) -> None:
    """Put what a pass sent back to scheduled, as if it had never gone (for the next pass)."""
    with engine.begin() as conn:
        conn.execute(delete(client_tips))
        conn.execute(delete(delivery_events))
        conn.execute(
            update(messages)
            .where(messages.c.status != "scheduled", messages.c.next_attempt_at <= now)
            .values(
                status="scheduled",
                claimed_by=None,
                claimed_at=None,
                body=None,
                subject=None,
                sent_at=None,
                sent_channel=None,
                provider_id=None,
                status_reason=None,
                attempts=0,
                updated_at=now,
            )
        )


def measure_dispatch(db: str, args: argparse.Namespace, clinic: ClinicConfig, count: int) -> dict[str, Any]:
    with database(db, args.pg_url, "dispatch") as url, tempfile.TemporaryDirectory(prefix="followup-run-") as tmp:
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        progress(f"dispatch-{db}: seeding {count} clients with a due message")
        seed(store.engine, clinic, due_now_chunks(count, args.seed, now), now)
        due = count_due(store.engine, now)
        progress(f"dispatch-{db}: {due} due; raw claim-render-mark loop")
        raw_sent, raw_s = timed(
            lambda: raw_loop(
                store.engine,
                now,
                clinic.settings.worker_batch_size,
                clinic.settings.business_short_name,
                Path(tmp) / "raw",
            )
        )
        reset_sent(store.engine, now)
        progress(f"dispatch-{db}: raw {raw_sent} in {raw_s:.1f} s; Dispatcher.run_once")
        dispatcher = make_dispatcher(store, clinic, Path(tmp) / "outbox", now, "bench")
        stats, run_s = timed(dispatcher.run_once)
        store.close()
    sent = stats["sent"]
    progress(f"dispatch-{db}: sent {sent} in {run_s:.1f} s ({dict(stats.counts)})")
    return {
        "due": due,
        "raw_sent": raw_sent,
        "raw_s": raw_s,
        "sent": sent,
        "run_s": run_s,
        "counts": dict(stats.counts),
    }


def row_dispatch(db: str, args: argparse.Namespace, clinic: ClinicConfig, cache: dict[str, Any]) -> Row:
    row = Row(
        f"dispatch-{db}",
        f"Dispatcher.run_once, dry-run, {args.sizes.dispatch:,} due",
        "raw loop: Core UPDATE..RETURNING claim, jinja2 render of aftercare_thanks/(es/)sms.j2, executemany mark",
        ">= 0.5x",
        unit="msg/s",
    )
    m = measure_dispatch(db, args, clinic, args.sizes.dispatch)
    cache[f"dispatch-{db}"] = m
    row.baseline = m["raw_sent"] / m["raw_s"]
    row.measured = m["sent"] / m["run_s"] if m["sent"] else 0.0
    row.judge(row.measured / row.baseline, row.measured / row.baseline >= 0.5, m["sent"] == m["due"])
    row.notes.append(
        f"{m['due']} due, raw sent {m['raw_sent']} in {m['raw_s']:.2f} s, "
        f"Dispatcher {m['counts']} in {m['run_s']:.2f} s"
    )
    row.notes.append(f"Dispatcher {1e6 * m['run_s'] / max(m['sent'], 1):,.0f} us/message")
    if m["sent"] != m["due"]:
        row.notes.append("NOT every due message was sent")
    row.extra = m
    return row


# --- planning ---------------------------------------------------------------------------------


def row_planning(db: str, args: argparse.Namespace, clinic: ClinicConfig) -> Row:
    n = args.sizes.planning
    row = Row(
        f"planning-{db}",
        f"replan_all over {n:,} clients",
        "batched SQLAlchemy Core insert (5,000 a statement) of the same message rows",
        ">= 0.5x",
        unit="msg/s",
    )
    with database(db, args.pg_url, "planning") as url:
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        client_rows = list(data.clients(n, args.seed, languages=tuple(clinic.settings.languages)))
        session_rows = list(
            data.sessions(
                [c.external_id for c in client_rows],
                n * 3 // 2,
                args.seed,
                first=now - timedelta(days=20),
                last=now + timedelta(days=30),
                now=now,
            )
        )
        progress(f"planning-{db}: seeding {n} clients, {len(session_rows)} sessions (no messages)")
        seed(store.engine, clinic, [(client_rows, session_rows)], now, plan=False)
        progress(f"planning-{db}: replan_all")
        changes, plan_s = timed(lambda: replan_all(store, clinic, now))
        created = changes.created
        with store.engine.begin() as conn:
            rows = [dict(r) for r in conn.execute(select(messages)).mappings()]
            for r in rows:
                del r["id"]
            conn.execute(delete(delivery_events))
            conn.execute(delete(messages))
        progress(f"planning-{db}: {created} created in {plan_s:.1f} s; Core insert of the same {len(rows)} rows")

        def core_insert() -> None:
            with store.engine.begin() as conn:
                for start in range(0, len(rows), BATCH):
                    conn.execute(insert(messages), rows[start : start + BATCH])

        _, insert_s = timed(core_insert)
        store.close()
    row.baseline = len(rows) / insert_s
    row.measured = created / plan_s
    row.judge(row.measured / row.baseline, row.measured / row.baseline >= 0.5)
    row.notes.append(
        f"{len(session_rows):,} sessions; replan_all created {created:,} in {plan_s:.2f} s; "
        f"Core insert {insert_s:.2f} s"
    )
    row.extra = {"created": created, "plan_s": plan_s, "insert_s": insert_s, "clients": n}
    return row


# --- run --once with nothing due: wall and RSS ---------------------------------------------------


def measure_idle(db: str, args: argparse.Namespace, home: Clinic, rows: int) -> dict[str, Any]:
    with database(db, args.pg_url, f"idle{rows}") as url, tempfile.TemporaryDirectory(prefix="followup-idle-") as tmp:
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        progress(f"idle-{db}: seeding {rows:,} scheduled rows")
        made, seed_s = timed(
            lambda: seed(store.engine, home.clinic, idle_chunks(args.seed, now, rows), now, target=rows)
        )
        with store.engine.connect() as conn:
            n_clients = conn.execute(select(func.count()).select_from(clients)).scalar_one()
        # The steady state: these rows came from the planner with these campaigns, so the
        # campaign pass a worker makes on its first start (to learn which campaigns the rows
        # were planned with) is recorded as done, as it is after that first start.
        last_client = max(store.client_ids(), default=0)
        fingerprint = campaigns_fingerprint(home.clinic.campaigns)
        store.save_plan_pass(CAMPAIGNS_PASS, PlanPass(fingerprint, last_client, now, now), now)
        if db == "postgresql":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        due = count_due(store.engine, now + timedelta(minutes=30))
        store.close()
        progress(f"idle-{db}: {made:,} rows for {n_clients:,} clients in {seed_s:.1f} s ({due} due); run --once")
        proc = run_cli(
            home.argv("run", "--once", "--no-serve"),
            # Nothing due means nothing: on a Monday the weekly owner digest would be due and
            # composed in this run (measured on its own, not as the idle figure).
            env=home.env(url, Path(tmp) / "outbox") | {"FOLLOWUP_DIGEST_ENABLED": "false"},
            cwd=Path(tmp),
            timeout=args.timeout,
        )
    scan = [line for line in proc.stderr.splitlines() + proc.stdout.splitlines() if "event=scan" in line]
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    progress(
        f"idle-{db}: {rows:,} rows: {'TIMEOUT' if proc.timed_out else f'rc {proc.rc}'} {proc.wall:.1f} s, "
        f"{proc.max_rss_mb:.0f} MB; {last}"
    )
    return {
        "rows": made,
        "clients": n_clients,
        "due": due,
        "wall": proc.wall,
        "rss_mb": proc.max_rss_mb,
        "rc": proc.rc,
        "timed_out": proc.timed_out,
        "output": last,
        "scan": scan[-1] if scan else "",
        "stderr_tail": proc.stderr[-500:] if proc.rc else "",
    }


def rows_idle(db: str, args: argparse.Namespace, home: Clinic, wanted: set[str]) -> list[Row]:
    big, small = args.sizes.idle_big, args.sizes.idle_small
    s = measure_idle(db, args, home, small)
    b = measure_idle(db, args, home, big)
    out = []
    detail = [
        f"{x['rows']:,} rows / {x['clients']:,} clients: {x['wall']:.2f} s, {x['rss_mb']:.0f} MB, rc {x['rc']}, "
        f"'{x['output']}' {x['scan'].split(' ', 2)[-1] if x['scan'] else ''}".rstrip()
        for x in (s, b)
    ]
    failed = [x for x in (s, b) if x["rc"] != 0]
    if f"idle-{db}" in wanted:
        row = Row(
            f"idle-{db}",
            f"`run --once`, nothing due, {big:,} scheduled rows, wall",
            f"the same with {small:,} rows",
            "<= 2x",
            baseline=s["wall"],
            measured=b["wall"],
            unit="s",
        )
        row.judge(b["wall"] / s["wall"], b["wall"] / s["wall"] <= 2)
        row.notes += detail
        out.append(row)
    if f"rss-{db}" in wanted:
        row = Row(
            f"rss-{db}",
            f"`run --once` max RSS, {big:,} scheduled rows",
            f"the same with {small:,} rows",
            "<= 1.1x",
            baseline=s["rss_mb"],
            measured=b["rss_mb"],
            unit="MB",
        )
        row.judge(b["rss_mb"] / s["rss_mb"], b["rss_mb"] / s["rss_mb"] <= 1.1)
        row.notes += detail
        out.append(row)
    for row in out:
        row.extra = {"small": s, "big": b}
        if failed:
            row.result = "TIMEOUT" if any(x["timed_out"] for x in failed) else "ERROR"
            row.notes += [f"failed: {x['stderr_tail']}" for x in failed if x["stderr_tail"]]
    return out


# --- simulate -------------------------------------------------------------------------------------


def row_simulate(args: argparse.Namespace, home: Clinic, cache: dict[str, Any]) -> Row:
    nc, ns = args.sizes.sim_clients, args.sizes.sim_sessions
    row = Row(
        "simulate",
        f"`simulate --days 30`, {nc:,} clients / {ns:,} sessions, per message",
        "dispatch dry-run time per message (SQLite, Dispatcher.run_once)",
        "<= 2x",
        unit="us/msg",
    )
    if "dispatch-sqlite" not in cache:
        progress("simulate: measuring the baseline (a small SQLite dispatch)")
        cache["dispatch-sqlite"] = measure_dispatch("sqlite", args, home.clinic, min(args.sizes.dispatch, 2_000))
    d = cache["dispatch-sqlite"]
    base_us = 1e6 * d["run_s"] / max(d["sent"], 1)
    with tempfile.TemporaryDirectory(prefix="followup-sim-") as tmp_name:
        tmp = Path(tmp_name)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        client_rows = list(data.clients(nc, args.seed, languages=tuple(home.clinic.settings.languages)))
        data.write_clients_csv(tmp / "clients.csv", nc, args.seed, languages=tuple(home.clinic.settings.languages))
        data.write_sessions_csv(
            tmp / "sessions.csv",
            data.sessions(
                [c.external_id for c in client_rows],
                ns,
                args.seed,
                first=now - timedelta(days=60),
                last=now + timedelta(days=30),
                now=now,
            ),
        )
        progress(f"simulate: {nc} clients, {ns} sessions; followup simulate --days 30 --json")
        proc = run_cli(
            home.argv(
                "simulate",
                "--days",
                "30",
                "--json",
                "--start",
                now.isoformat(),
                "--clients",
                str(tmp / "clients.csv"),
                "--sessions",
                str(tmp / "sessions.csv"),
            ),
            env=home.env(f"sqlite:///{tmp}/unused.db", tmp / "outbox"),
            cwd=tmp,
            timeout=args.timeout,
        )
    row.baseline = base_us
    if proc.timed_out or proc.rc != 0:
        row.result = "TIMEOUT" if proc.timed_out else "ERROR"
        row.notes.append(f"after {proc.wall:.1f} s; {proc.stderr[-300:]}")
        return row
    results = json.loads(proc.stdout)
    produced = len(results)
    sent = sum(1 for r in results if r.get("status") == "sent")
    row.measured = 1e6 * proc.wall / max(produced, 1)
    row.judge(row.measured / base_us, row.measured / base_us <= 2)
    row.notes.append(
        f"{produced:,} messages produced ({sent:,} sent) in {proc.wall:.2f} s wall (CLI subprocess), "
        f"max RSS {proc.max_rss_mb:.0f} MB; baseline from {d['sent']:,} dispatched"
    )
    row.extra = {
        "wall": proc.wall,
        "produced": produced,
        "sent": sent,
        "status": dict(Counter(r.get("status") for r in results)),
    }
    return row


# --- followup --help ---------------------------------------------------------------------------------


def row_help(args: argparse.Namespace) -> Row:
    n = args.sizes.help_runs
    row = Row(
        "help", f"`followup --help`, median of {n}", "`python -c pass`, median of the same count", "<= 15x", unit="ms"
    )
    progress(f"help: {n} x python -c pass, {n} x followup --help")
    python = [run_cli([sys.executable, "-c", "pass"], timeout=args.timeout).wall for _ in range(n)]
    helps = [run_cli([FOLLOWUP, "--help"], timeout=args.timeout, cwd=ROOT).wall for _ in range(n)]
    row.baseline = 1000 * statistics.median(python)
    row.measured = 1000 * statistics.median(helps)
    row.judge(row.measured / row.baseline, row.measured / row.baseline <= 15)
    row.notes.append(
        f"min {1000 * min(python):.1f} / {1000 * min(helps):.1f} ms, "
        f"max {1000 * max(python):.1f} / {1000 * max(helps):.1f} ms"
    )
    return row


# --- several worker processes -----------------------------------------------------------------------


def child_worker(spec_json: str) -> int:
    """``bench/run.py --child-worker SPEC``: one dispatcher process; waits for the common start."""
    spec = json.loads(spec_json)
    clinic = load_clinic(Path(spec["config"]), Path(spec["templates"]), env_file=None)
    store = SqlStore.from_url(spec["url"])
    now = datetime.fromisoformat(spec["now"])
    dispatcher = make_dispatcher(store, clinic, Path(spec["outbox"]), now, spec["worker"])
    delay = spec["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    start = time.time()
    stats = dispatcher.run_once()
    end = time.time()
    store.close()
    print(json.dumps({"worker": spec["worker"], "start": start, "end": end, "counts": dict(stats.counts)}))
    return 0


def run_workers(url: str, home: Clinic, outbox: Path, now: datetime, count: int, timeout: float) -> dict[str, Any]:
    start_at = time.time() + 3.0 + 0.5 * count  # after every child has imported and connected
    with ExitStack() as stack:
        outs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(count)]
        return _run_workers(url, home, outbox, now, start_at, outs, timeout)


def _run_workers(
    url: str, home: Clinic, outbox: Path, now: datetime, start_at: float, outs: Sequence[IO[bytes]], timeout: float
) -> dict[str, Any]:
    count = len(outs)
    procs = []
    for k, out in enumerate(outs):
        spec = {
            "url": url,
            "config": str(home.home / "config"),
            "templates": str(home.home / "templates"),
            "outbox": str(outbox),
            "now": now.isoformat(),
            "worker": f"bench-{count}-{k}",
            "start_at": start_at,
        }
        procs.append(subprocess.Popen([sys.executable, __file__, "--child-worker", json.dumps(spec)], stdout=out))
    deadline = time.time() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    reports = []
    for out in outs:
        out.seek(0)
        text = out.read().decode().strip()
        if text:
            reports.append(json.loads(text.splitlines()[-1]))
    sent = sum(r["counts"].get("sent", 0) for r in reports)
    # from the first worker's start (start_at, unless a child was late) to the last one's end
    wall = max((r["end"] for r in reports), default=start_at) - min((r["start"] for r in reports), default=start_at)
    return {"sent": sent, "wall": wall, "reports": reports, "complete": len(reports) == count}


def duplicates(engine: Engine, outbox: Path) -> dict[str, int]:
    with engine.connect() as conn:
        events = conn.execute(
            select(delivery_events.c.message_id)
            .where(delivery_events.c.kind == "sent")
            .group_by(delivery_events.c.message_id)
            .having(func.count() > 1)
        ).all()
        sent_rows = conn.execute(select(func.count()).where(messages.c.status == "sent")).scalar_one()
    lines: Counter[int] = Counter()
    sms = outbox / "sms.jsonl"
    if sms.exists():
        for line in sms.read_text(encoding="utf-8").splitlines():
            lines[json.loads(line)["message_id"]] += 1
    emails = len(list((outbox / "email").glob("*.eml"))) if (outbox / "email").exists() else 0
    return {
        "sent_rows": int(sent_rows),
        "events_dup": len(events),
        "sms_lines": sum(lines.values()),
        "sms_dup": sum(1 for v in lines.values() if v > 1),
        "emails": emails,
    }


def row_workers(args: argparse.Namespace, home: Clinic) -> Row:
    n, k = args.sizes.worker_messages, args.workers
    row = Row(
        "workers",
        f"{k} dry-run worker processes, PostgreSQL, {n:,} due",
        "1 worker process, same messages",
        ">= 3x, 0 dup",
        unit="msg/s",
    )
    with (
        database("postgresql", args.pg_url, "workers") as url,
        tempfile.TemporaryDirectory(prefix="followup-w-") as tmp,
    ):
        store = SqlStore.from_url(url)
        store.upgrade()
        now = datetime.now(UTC).replace(microsecond=0)
        progress(f"workers: seeding {n} due messages")
        seed(store.engine, home.clinic, due_now_chunks(n, args.seed, now), now)
        due = count_due(store.engine, now)
        found: dict[int, dict[str, Any]] = {}
        for count in (1, k):
            outbox = Path(tmp) / f"outbox{count}"
            progress(f"workers: {count} process(es)")
            r = run_workers(url, home, outbox, now, count, args.timeout)
            r["dup"] = duplicates(store.engine, outbox)
            progress(f"workers: {count}: sent {r['sent']} in {r['wall']:.1f} s; {r['dup']}")
            found[count] = r
            reset_sent(store.engine, now)
        store.close()
    one, many = found[1], found[k]
    row.baseline = one["sent"] / one["wall"] if one["wall"] > 0 else None
    row.measured = many["sent"] / many["wall"] if many["wall"] > 0 else None
    dups = many["dup"]["events_dup"] + many["dup"]["sms_dup"] + one["dup"]["events_dup"] + one["dup"]["sms_dup"]
    if row.baseline and row.measured:
        ratio = row.measured / row.baseline
        row.judge(ratio, ratio >= 3, dups == 0, many["sent"] == due, many["complete"])
    for count, r in found.items():
        per = ", ".join(f"{x['counts'].get('sent', 0)}" for x in r["reports"])
        row.notes.append(
            f"{count} worker(s): sent {r['sent']:,}/{due:,} in {r['wall']:.2f} s (per worker {per}); "
            f"duplicates: {r['dup']['events_dup']} in delivery_events, {r['dup']['sms_dup']} in sms.jsonl "
            f"({r['dup']['sms_lines']:,} lines, {r['dup']['emails']:,} .eml)"
        )
    row.notes.append(f"{os.cpu_count()} cores on this machine")
    row.extra = {"due": due, "runs": {str(c): r for c, r in found.items()}, "duplicates": dups}
    return row


# --- import clients ---------------------------------------------------------------------------------


def core_import(engine: Engine, path: Path, now: datetime) -> int:
    """The baseline: read the same CSV with the csv module and insert the clients with Core, 5,000 a
    statement (phones to E.164 by digits only, yes/no to booleans; no validation, no ledger)."""
    n = 0
    with engine.begin() as conn, path.open(encoding="utf-8", newline="") as f:
        batch: list[dict[str, Any]] = []
        for rec in csv.DictReader(f):
            digits = "".join(ch for ch in rec["phone"] if ch.isdigit())
            batch.append(
                {
                    "external_id": rec["external_id"],
                    "first_name": rec["first_name"],
                    "last_name": rec["last_name"],
                    "phone": "+1" + digits[-10:],
                    "email": rec["email"].lower(),
                    "timezone": rec["timezone"],
                    "language": rec["language"],
                    "preferred_channel": rec["preferred_channel"],
                    "consent_sms_care": True,
                    "consent_sms_marketing": rec["sms_marketing"] == "yes",
                    "consent_email_care": True,
                    "consent_email_marketing": rec["email_marketing"] == "yes",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) >= BATCH:
                conn.execute(insert(clients), batch)
                n += len(batch)
                batch = []
        if batch:
            conn.execute(insert(clients), batch)
            n += len(batch)
    return n


def row_import(db: str, args: argparse.Namespace, home: Clinic) -> Row:
    n = args.sizes.import_rows
    row = Row(
        f"import-{db}",
        f"`import clients`, {n:,} rows, rows/s",
        "csv.DictReader + batched Core insert of the same rows (5,000 a statement)",
        ">= 0.3x, RSS <= 300 MB",
        unit="rows/s",
    )
    with tempfile.TemporaryDirectory(prefix="followup-import-") as tmp_name:
        tmp = Path(tmp_name)
        progress(f"import-{db}: writing {n:,} client rows")
        path = data.write_clients_csv(
            tmp / "clients.csv", n, args.seed, languages=tuple(home.clinic.settings.languages)
        )
        with database(db, args.pg_url, "importcore") as url:
            store = SqlStore.from_url(url)
            store.upgrade()
            progress(f"import-{db}: Core insert baseline")
            done, core_s = timed(lambda: core_import(store.engine, path, datetime.now(UTC)))
            store.close()
        progress(f"import-{db}: {done:,} in {core_s:.1f} s; followup import clients (timeout {args.timeout:.0f} s)")
        with database(db, args.pg_url, "import") as url:
            store = SqlStore.from_url(url)
            store.upgrade()
            store.close()
            proc = run_cli(
                home.argv("import", "clients", str(path)),
                env=home.env(url, tmp / "outbox"),
                cwd=tmp,
                timeout=args.timeout,
            )
            engine = SqlStore.from_url(url)
            with engine.engine.connect() as conn:
                imported = int(conn.execute(select(func.count()).select_from(clients)).scalar_one())
            engine.close()
    row.baseline = done / core_s
    row.extra = {"core_s": core_s, "wall": proc.wall, "rss_mb": proc.max_rss_mb, "imported": imported, "rc": proc.rc}
    summary = [line for line in proc.stdout.splitlines() if line.strip()][-3:]
    if proc.timed_out:
        row.result = "TIMEOUT"
        row.notes.append(
            f"killed after {proc.wall:.0f} s at {proc.max_rss_mb:.0f} MB max RSS; {imported:,} rows were in the table"
        )
        return row
    row.measured = imported / proc.wall if proc.wall else None
    if proc.rc != 0 or not row.measured:
        row.result = "ERROR"
        row.notes.append(f"rc {proc.rc}: {proc.stderr[-300:]}")
        return row
    ratio = row.measured / row.baseline
    row.judge(ratio, ratio >= 0.3, proc.max_rss_mb <= 300)
    row.notes.append(
        f"Core {core_s:.1f} s; import {proc.wall:.1f} s wall, max RSS {proc.max_rss_mb:.0f} MB, "
        f"{imported:,} in the table; " + " / ".join(s.strip() for s in summary)[:300]
    )
    return row


# --- main ---------------------------------------------------------------------------------------------


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def wanted_rows(only: str | None, dbs: list[str]) -> list[str]:
    keys = []
    for family in FAMILIES:
        if family in PER_DB:
            keys += [f"{family}-{db}" for db in dbs]
        elif family == "workers":
            if "postgresql" in dbs:
                keys.append("workers")
        else:
            keys.append(family)
    if not only:
        return keys
    asked = {x.strip() for x in only.split(",") if x.strip()}
    unknown = asked - set(keys) - set(FAMILIES)
    if unknown:
        raise SystemExit(f"--only: unknown row(s) {sorted(unknown)}; rows: {', '.join(keys)}")
    return [k for k in keys if k in asked or k.split("-")[0] in asked]


def write_json(path: Path, command: str, info: dict[str, str], sizes: Sizes, results: list[Row]) -> None:
    document = {
        "command": command,
        "machine": info,
        "sizes": asdict(sizes),
        "seconds": time.perf_counter() - STARTED,
        "rows": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(document, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-worker"]:
        return child_worker(argv[1])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few minutes")
    parser.add_argument("--only", help="comma-separated rows or families (dispatch, planning-sqlite, help, ...)")
    parser.add_argument("--db", default="sqlite,postgresql", help="databases for the per-database rows")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (the database part is ignored)")
    parser.add_argument("--json", type=Path, help="also write every row and the machine to this JSON file")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to each CLI subprocess")
    parser.add_argument("--import-rows", type=int, help="rows for import-<db> (default 1,000,000; --quick 20,000)")
    parser.add_argument("--idle-rows", type=int, help="scheduled rows for idle/rss (default 500,000; --quick 20,000)")
    parser.add_argument("--dispatch-messages", type=int, help="due messages for dispatch-<db> (default 10,000)")
    parser.add_argument("--planning-clients", type=int, help="clients for planning-<db> (default 5,000)")
    parser.add_argument("--worker-messages", type=int, help="due messages for workers (default 8,000)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes for the workers row")
    parser.add_argument("--seed", type=int, default=12, help="seed of the generated data")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    overrides = {
        "import_rows": args.import_rows,
        "idle_big": args.idle_rows,
        "dispatch": args.dispatch_messages,
        "planning": args.planning_clients,
        "worker_messages": args.worker_messages,
    }
    args.sizes = Sizes(**(asdict(sizes) | {k: v for k, v in overrides.items() if v is not None}))
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if set(dbs) - {"sqlite", "postgresql"}:
        parser.error("--db takes sqlite and/or postgresql")
    keys = wanted_rows(args.only, dbs)
    command = shlex.join([os.path.relpath(sys.executable, Path.cwd()), os.path.relpath(__file__, Path.cwd()), *argv])
    info = machine(args.pg_url, "postgresql" in dbs)
    header = [
        f"command: {command}",
        f"date: {info['date']}; commit {info['commit']}",
        f"machine: {info['cores']} cores ({info['cpu']}), {info['ram']} RAM; {info['python']}; "
        f"SQLite {info['sqlite']}; PostgreSQL {info['postgresql']}",
        f"sizes: {asdict(args.sizes)}; timeout {args.timeout:.0f} s per subprocess",
        f"rows: {', '.join(keys)}",
    ]
    print("\n".join(header), flush=True)
    progress("starting; progress on stderr, the table on stdout at the end")

    results: list[Row] = []
    cache: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="followup-clinic-") as home_dir:
        home = Clinic.make(Path(home_dir))
        for key in keys:
            family, _, db = key.partition("-")
            if family == "rss" and f"idle-{db}" in keys:
                continue  # measured together with idle-<db>
            progress(f"== {key} ==")
            try:
                if family == "dispatch":
                    results.append(row_dispatch(db, args, home.clinic, cache))
                elif family == "planning":
                    results.append(row_planning(db, args, home.clinic))
                elif family in ("idle", "rss"):
                    results += rows_idle(db, args, home, set(keys))
                elif family == "simulate":
                    results.append(row_simulate(args, home, cache))
                elif family == "help":
                    results.append(row_help(args))
                elif family == "workers":
                    results.append(row_workers(args, home))
                elif family == "import":
                    results.append(row_import(db, args, home))
            except Exception as exc:
                progress(f"{key}: ERROR {type(exc).__name__}: {exc}")
                results.append(Row(key, key, "-", "-", result="ERROR", notes=[f"{type(exc).__name__}: {exc}"[:300]]))
            if results:
                progress(f"{results[-1].key}: {results[-1].result} ({fmt(results[-1].ratio)}x)")
            if args.json:  # after every row: a long run that is stopped keeps what it measured
                write_json(args.json, command, info, args.sizes, results)

    elapsed = time.perf_counter() - STARTED
    print()
    print(table(results))
    print(f"\n{sum(r.result == 'PASS' for r in results)}/{len(results)} PASS; took {elapsed / 60:.1f} min")
    print(f"command: {command}")
    if args.json:
        write_json(args.json, command, info, args.sizes, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
