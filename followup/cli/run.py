"""``followup run``: the scheduled worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from followup.cli.common import ConfigOpt, TemplatesOpt, fail, load, out
from followup.cli.logs import configure_logging
from followup.engine.demo_data import load_sample_data
from followup.engine.worker import SystemClock, Worker, WorkerTiming
from followup.exceptions import ConfigError
from followup.wiring import make_channels, open_store


def command(
    once: Annotated[
        bool, typer.Option("--once", help="One campaign check and one dispatch, then exit (for cron).")
    ] = False,
    sample_data: Annotated[
        bool,
        typer.Option(
            "--sample-data",
            help="First import the shipped sample clients and sessions (config/sample/), moved to the current week.",
        ),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="Also serve the web app (webhooks, unsubscribe pages) on FOLLOWUP_WEB_PORT."
        ),
    ] = True,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Run the worker: send due messages every 30 s; re-plan after a campaign edit (FOLLOWUP_WORKER_*).

    Stop it with Ctrl-C or SIGTERM: the message in hand is finished first.

    Example: followup run --once
    """
    clinic = load(config, templates, allow_starter=sample_data)
    settings = clinic.settings
    configure_logging(settings.log_level, settings.secret_values())
    try:
        channels = make_channels(clinic)
    except ConfigError as exc:
        fail(exc)
    store = open_store(clinic)
    if sample_data:
        for summary in load_sample_data(store, clinic, SystemClock().now()):
            out.print(summary.line(), markup=False)
    timing = WorkerTiming(
        dispatch_every=timedelta(seconds=settings.worker_dispatch_seconds),
        scan_every=timedelta(seconds=settings.worker_scan_seconds),
        lease=timedelta(seconds=settings.worker_lease_seconds),
        batch_size=settings.worker_batch_size,
    )
    worker = Worker(store, clinic, channels, timing)
    if once:
        stats = worker.once()
        out.print(
            "dispatch: " + (", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items())) or "nothing due"),
            markup=False,
        )
        return
    if serve and settings.web_port:
        # FastAPI and uvicorn only where the web app is served (a cron `run --once` never pays them)
        from followup.cli.serve import serve_in_background, web_server  # noqa: PLC0415

        serve_in_background(web_server(clinic, store, settings.web_host, settings.web_port))
        out.print(
            f"web app on http://{settings.web_host}:{settings.web_port} (public: {settings.public_base_url})",
            markup=False,
        )
    out.print(
        f"followup worker: {settings.delivery} delivery"
        + (f" into {settings.outbox_dir}/" if settings.delivery == "dryrun" else "")
        + f", database {store.engine.url.render_as_string()}. Ctrl-C to stop.",
        markup=False,
    )
    worker.run_forever()


def register(app: typer.Typer) -> None:
    app.command("run")(command)
