"""``followup simulate``: every message every client would get, on a virtual clock.

Every time printed names its zone: the table shows each send time in the client's zone
with the abbreviation of that moment (``2026-12-10 09:00 PST``; EDT and EST apart), the
times inside a reason the same way in words (``not sent by Thu Dec 3, 8:00 AM EST``), and
the start in the clinic's zone; the JSON gives ISO 8601 with the UTC offset and adds the
client's IANA zone as ``timezone``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.imports import MapOpt, column_mapping
from followup.cli.times import readable_reason, table_time
from followup.engine.ingest import import_clients, import_sessions
from followup.engine.planning import CAMPAIGNS_PASS, campaigns_fingerprint
from followup.engine.simulate import EDITED_OUT, SimulatedMessage, simulate
from followup.engine.worker import SystemClock
from followup.intake import CLIENT_FIELDS, SESSION_FIELDS, MappingError, read_clients, read_sessions
from followup.store.port import PlanPass
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


def _zone_name(moment: datetime) -> str:
    """The IANA name of ``moment``'s zone (the client's: simulate returns client-local times)."""
    return str(getattr(moment.tzinfo, "key", moment.tzinfo))


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
        # The copy starts empty and each client is planned as its sessions are imported, with
        # these campaigns: no later full pass is needed (a worker's first start on a real
        # database cannot know this of clients imported before it; simulate can).
        fingerprint = campaigns_fingerprint(clinic.campaigns)
        memory.save_plan_pass(CAMPAIGNS_PASS, PlanPass(fingerprint, 0, begin, begin), begin)
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
                focus_names=clinic.tips.focus_names(),
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
        entries = [r.as_json() | {"timezone": _zone_name(r.send_at)} for r in results]
        print(json.dumps(entries, ensure_ascii=False, indent=1))
        return
    shown_begin = table_time(begin.astimezone(zone(settings.default_timezone)))
    table = Table(title=f"Simulated {days} days from {shown_begin} ({len(results)} messages)", title_justify="left")
    for column in ("send at (client's time)", "client", "campaign", "step", "channel", "status", "text"):
        table.add_column(column)
    for r in results:
        table.add_row(table_time(r.send_at), r.client, r.campaign, r.step, r.channel, r.status, _text(r, begin.year))
    out.print(table)
    edited = sum(1 for r in results if r.reason == EDITED_OUT)
    if edited:
        out.print(
            f"The campaigns changed since the worker last planned: {edited} message(s) planned with them before "
            "are cancelled here, as the worker will do when it next starts.",
            markup=False,
        )
    out.print(
        "Assumes the booking data stays as it is now (no new bookings, no stale-data hold on nudges); "
        "the worker holds rebook nudges while the last import is older than [intake] max_staleness.",
        markup=False,
    )


def _text(r: SimulatedMessage, year: int) -> str:
    """What the table says of a message: why, when it did not go out (its times readable, in
    the client's zone like the send time); else the subject of an email or the text."""
    if r.status != "sent" and r.reason:
        tz = r.send_at.tzinfo
        assert tz is not None  # simulate gives aware, client-local times
        return readable_reason(r.reason, tz, year)[:120]
    return (r.subject if r.channel == "email" and r.subject else (r.body or ""))[:80]


def register(app: typer.Typer) -> None:
    app.command("simulate")(command)
