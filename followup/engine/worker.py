"""``followup run``: APScheduler ticks the dispatcher and the campaign check.

APScheduler holds no message: its jobs only say "look at the outbox now".  Everything
to send is in the ``messages`` table, so a restart loses nothing: overdue messages still
inside their expiry go out on the first tick, expired ones are marked expired.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from followup.channels.base import Channel
from followup.config.loader import ClinicConfig
from followup.core.domain import ChannelName
from followup.core.rules import Caps, SendWindow
from followup.engine.digest import queue_digest
from followup.engine.dispatch import Dispatcher, DispatchStats
from followup.engine.planning import plan_pending
from followup.exceptions import StoreBusyError
from followup.logfmt import logfmt
from followup.store.port import Store
from followup.timeutil import Clock

log = logging.getLogger("followup.worker")


def quiet_scheduler_log() -> None:
    """APScheduler logs two INFO lines a tick ("Added job", "Running job ... executed
    successfully"): every 30 s, they would bury followup's own events in the owner's log.
    It keeps its warnings and errors (a missed or failed job); with the log level at DEBUG
    (``FOLLOWUP_LOG_LEVEL=DEBUG``) it says everything again."""
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("apscheduler").setLevel(logging.NOTSET if debugging else logging.WARNING)


class SystemClock:
    """The only place followup reads the wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerTiming:
    dispatch_every: timedelta = timedelta(seconds=30)
    scan_every: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=15)
    batch_size: int = 20


class _PassProgress:
    """A log line every ``every`` clients of a campaign pass, so a long one is visibly moving."""

    def __init__(self, every: int = 5000) -> None:
        self.every = every
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total
        log.info(logfmt("replan_started", clients=total))

    def advance(self, count: int) -> None:
        before, self.done = self.done, self.done + count
        if before // self.every != self.done // self.every:
            log.info(logfmt("replan_progress", planned=self.done, of=self.total))


class Worker:
    def __init__(
        self,
        store: Store,
        clinic: ClinicConfig,
        channels: Mapping[ChannelName, Channel],
        timing: WorkerTiming | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.clinic = clinic
        self.timing = timing or WorkerTiming()
        self.clock: Clock = clock or SystemClock()  # another clock only in tests
        self.stop = threading.Event()
        settings = clinic.settings
        self.dispatcher = Dispatcher(
            store,
            clinic,
            channels,
            self.clock,
            batch_size=self.timing.batch_size,
            lease=self.timing.lease,
            stop=self.stop,
            window=SendWindow(settings.send_window_start, settings.send_window_end),
            caps=Caps(settings.cap_any_per_day, settings.cap_marketing_per_day),
        )

    def scan(self) -> None:
        """Re-plan every client if the campaigns changed since the last pass (a stopped pass
        resumes); otherwise one row read.  Everything else is planned when its data changes."""
        progress = _PassProgress()
        try:
            result = plan_pending(  # a signal ends it after the batch in hand
                self.store, self.clinic, self.clock.now(), self.stop, on_start=progress.start, on_batch=progress.advance
            )
        except StoreBusyError as exc:  # the pass resumes where it was at the next scan
            log.warning(logfmt("database_busy", phase="scan", detail=str(exc)))
            return
        if not result.ran:
            return
        changes = result.changes
        log.info(
            logfmt(
                "scan_interrupted" if changes.interrupted else "scan",
                reason=result.reason,
                clients=result.clients,
                remaining=result.remaining,
                created=changes.created,
                updated=changes.updated,
                cancelled=changes.cancelled,
                revived=changes.revived,
            )
        )

    def dispatch(self) -> DispatchStats:
        try:
            queue_digest(self.store, self.clinic, self.clock.now())  # Monday 8:00: one indexed read otherwise
            stats = self.dispatcher.run_once()
        except StoreBusyError as exc:  # stopping while another process held the database, or it held it too long
            log.warning(logfmt("database_busy", phase="dispatch", detail=str(exc)))
            return DispatchStats()
        if stats.counts:
            log.info(logfmt("dispatch", **stats.counts))
        return stats

    def once(self) -> DispatchStats:
        """One scan and one dispatch (cron); Ctrl-C or SIGTERM ends either after the client or
        message in hand, with nothing half-written."""
        self._on_signals()
        self.scan()
        return self.dispatch()

    def _on_signals(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info(logfmt("stopping", signal=signal.Signals(signum).name))
            self.stop.set()  # the scan and the dispatcher finish the client/message in hand, then return
            self.store.give_up_waiting()  # not after another process's commit (an import holds SQLite long)

        self.store.give_up_waiting(False)
        if threading.current_thread() is threading.main_thread():  # signals can only be set there
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)

    def run_forever(self) -> None:
        quiet_scheduler_log()
        # The scheduler ticks in background threads; the main thread only waits for a signal,
        # so a signal never lands inside the scheduler's own loop.
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = self.clock.now()
        # Fixed ids: a restarted worker replaces, never duplicates, its jobs.
        scheduler.add_job(
            self.scan,
            "interval",
            seconds=self.timing.scan_every.total_seconds(),
            id="followup-scan",
            replace_existing=True,
            next_run_time=now,
        )
        scheduler.add_job(
            self.dispatch,
            "interval",
            seconds=self.timing.dispatch_every.total_seconds(),
            id="followup-dispatch",
            replace_existing=True,
            next_run_time=now + timedelta(seconds=1),
        )

        self._on_signals()
        log.info(
            logfmt(
                "started",
                dispatch_every=self.timing.dispatch_every.total_seconds(),
                scan_every=self.timing.scan_every.total_seconds(),
                worker=self.dispatcher.worker,
            )
        )
        scheduler.start()
        while not self.stop.wait(1.0):
            pass
        scheduler.shutdown(wait=True)
        log.info(logfmt("stopped", worker=self.dispatcher.worker))
