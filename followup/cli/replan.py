"""``followup replan``: re-plan every client with the campaigns as they are now."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from followup.cli.common import ConfigOpt, TemplatesOpt, err, load, out
from followup.engine.planning import plan_pending
from followup.engine.worker import SystemClock
from followup.wiring import open_store


def command(
    restart: Annotated[
        bool, typer.Option("--all", help="Start over from the first client even if nothing changed.")
    ] = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Re-plan every client after a campaign edit, in batches, with a progress bar.

    The worker does this by itself when it starts with edited campaigns; run it by hand to
    watch it.  Ctrl-C stops after the batch in hand; the next run (or worker) resumes there.
    With nothing changed since the last full pass it does nothing, unless --all.

    Example: followup replan
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # the batch in hand is finished and saved, then the pass returns

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    columns = (TextColumn("re-planning"), BarColumn(), MofNCompleteColumn(), TextColumn("clients"))
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("re-planning", total=None)
        result = plan_pending(
            store,
            clinic,
            SystemClock().now(),
            stop,
            on_start=lambda n: progress.update(task, total=n),
            on_batch=lambda n: progress.advance(task, n),
            restart=restart,
        )
    changes = result.changes
    if not result.ran:
        out.print("campaigns unchanged since the last full pass: nothing to re-plan (--all to force)", markup=False)
        return
    counts = (
        f"created {changes.created}, updated {changes.updated}, "
        f"cancelled {changes.cancelled}, revived {changes.revived}"
    )
    if changes.interrupted:
        out.print(
            f"stopped after {result.clients} clients ({counts}); {result.remaining} left: "
            "run `followup replan` again to resume",
            markup=False,
        )
        raise typer.Exit(130)
    resumed = " (resumed)" if result.resumed else ""
    out.print(f"re-planned {result.clients} clients{resumed}: {counts}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("replan")(command)
