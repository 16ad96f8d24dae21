"""``followup simulate``: every message every client would get, on a virtual clock."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.imports import MapOpt, column_mapping
from followup.engine.ingest import import_clients, import_sessions
from followup.engine.simulate import simulate
from followup.engine.worker import SystemClock
from followup.intake import CLIENT_FIELDS, SESSION_FIELDS, MappingError, read_clients, read_sessions
from followup.timeutil import zone
from followup.wiring import memory_store, open_store


def _start(text: str | None, default_tz: str) -> datetime:
    if text is None:
        return SystemClock().now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(
            f"--start: {text!r} is not an ISO date or datetime (e.g. 2026-12-01 or 2026-12-01T09:00)", markup=False
        )
        raise typer.Exit(EXIT_INVALID) from None
    return value if value.tzinfo else value.replace(tzinfo=zone(default_tz))


def command(
    start: Annotated[
        str | None, typer.Option("--start", help="ISO date/time (default: now; no offset = default_timezone).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help="How many days to run.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    clients: Annotated[Path | None, typer.Option("--clients", help="Simulate from this clients CSV.")] = None,
    sessions: Annotated[Path | None, typer.Option("--sessions", help="...and this sessions CSV.")] = None,
    client_map: MapOpt = None,
    session_map: Annotated[
        list[str] | None, typer.Option("--session-map", help="field=Column for the sessions CSV, repeatable.")
    ] = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Run the campaigns on a virtual clock over a copy of the data: nothing is sent and the
    database is not changed.  The same planner, rules and rendering as the worker.

    Example: followup simulate --start 2026-12-01 --days 30 --json
    """
    clinic = load(config, templates)
    settings = clinic.settings
    begin = _start(start, settings.default_timezone)
    memory = memory_store()
    if clients is not None or sessions is not None:
        if clients is None or sessions is None:
            err.print("--clients and --sessions go together", markup=False)
            raise typer.Exit(EXIT_INVALID)
        try:
            parsed_clients = read_clients(
                clients,
                column_mapping(clinic, "clients", None, client_map, CLIENT_FIELDS),
                default_region=settings.default_region,
                default_timezone=settings.default_timezone,
                default_language=settings.default_language,
                languages=settings.languages,
            )
            import_clients(memory, parsed_clients, begin)
            parsed_sessions = read_sessions(
                sessions,
                column_mapping(clinic, "sessions", None, session_map, SESSION_FIELDS),
                default_region=settings.default_region,
                default_timezone=settings.default_timezone,
                focus_areas=clinic.tips.focus_areas,
                client_timezones=memory.client_timezones(),
            )
        except MappingError as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(EXIT_INVALID) from None
        summary = import_sessions(memory, clinic, parsed_sessions, begin)
        for line in [*parsed_clients.errors, *summary.errors]:
            err.print(str(line), markup=False)
    else:
        open_store(clinic).copy_into(memory)
    results = simulate(memory, clinic, begin, days)
    if as_json:
        print(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=1))
        return
    table = Table(
        title=f"Simulated {days} days from {begin.isoformat()} ({len(results)} messages)", title_justify="left"
    )
    for column in ("send at (client time)", "client", "campaign", "step", "channel", "status", "text"):
        table.add_column(column)
    for r in results:
        text = r.subject if r.channel == "email" and r.subject else (r.body or r.reason or "")
        table.add_row(
            r.send_at.isoformat()[:16].replace("T", " "), r.client, r.campaign, r.step, r.channel, r.status, text[:80]
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("simulate")(command)
