"""``followup sessions add|complete|cancel``: record a session by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.core.domain import Session
from followup.engine.lookup import find_client
from followup.engine.planning import replan_client
from followup.engine.worker import SystemClock
from followup.intake.dates import start_at
from followup.intake.sessions import allowed_focus, match_focus, session_status
from followup.timeutil import zone
from followup.wiring import open_store

sessions_app = typer.Typer(help="Add, complete or cancel a session by hand.", no_args_is_help=True)


def _when(text: str, tz: str) -> datetime:
    """The importer's own parser: ISO, 12/03/2026 3:00 PM, December 3, 2026 3 pm; no offset = clinic time."""
    try:
        return start_at(text, zone(tz))
    except ValueError as exc:
        err.print(f"--start: {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None


@sessions_app.command("add")
def add(
    session_id: Annotated[str, typer.Argument(help="The session's id (as in your booking system).")],
    client: Annotated[str, typer.Option("--client", help="Client external id, phone or email.")],
    start: Annotated[
        str, typer.Option("--start", help="2026-12-03 15:00, 12/03/2026 3:00 PM...; no offset = the clinic's zone.")
    ],
    service: Annotated[str, typer.Option("--service")],
    minutes: Annotated[int, typer.Option("--minutes", help="Length.")] = 60,
    therapist: Annotated[str, typer.Option("--therapist")] = "",
    focus: Annotated[
        str, typer.Option("--focus", help="Focus areas, ids or labels: 'Neck & shoulders; lower_back'.")
    ] = "",
    status: Annotated[
        str, typer.Option("--status", help="booked or completed (or an export's word for them).")
    ] = "booked",
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Add (or update) a session and plan its messages.

    Example: followup sessions add s-9001 --client c-1001 --start 2026-12-03T15:00 --service "NMT, 60 min"
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    found = find_client(store, client, clinic.settings.default_region)
    if found.client_id is None:
        err.print(found.problem, markup=False)
        raise typer.Exit(EXIT_INVALID)
    client_id = found.client_id
    state = store.client_state(client_id)
    areas, unknown = match_focus(focus, clinic.tips.focus_areas)
    if unknown:
        err.print(
            f"--focus: {', '.join(map(repr, unknown))} (allowed: {allowed_focus(clinic.tips.focus_areas)})",
            markup=False,
        )
        raise typer.Exit(EXIT_INVALID)
    try:
        parsed_status = session_status(status)
    except ValueError as exc:
        err.print(f"--status: {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    if parsed_status not in ("booked", "completed"):
        err.print(f"--status: {status!r} (allowed: booked or completed; use 'sessions cancel' to cancel)", markup=False)
        raise typer.Exit(EXIT_INVALID)
    begins = _when(start, clinic.settings.default_timezone)
    session = Session(
        external_id=session_id,
        client_external_id=state.client.external_id,
        start=begins,
        end=begins + timedelta(minutes=minutes),
        service=service,
        therapist=therapist,
        focus_areas=areas,
        status=parsed_status,
    )
    now = SystemClock().now()
    _, outcome = store.upsert_session(session, client_id, now)
    changes = replan_client(store, clinic, client_id, now)
    out.print(
        f"session {session_id} {outcome}; messages: {changes.created} planned, {changes.cancelled} cancelled",
        markup=False,
    )


def _set(session_id: str, status: str, config: ConfigOpt, templates: TemplatesOpt) -> None:
    clinic = load(config, templates)
    store = open_store(clinic)
    now = SystemClock().now()
    client_id = store.set_session_status(session_id, status, now)
    if client_id is None:
        err.print(f"no session {session_id!r}", markup=False)
        raise typer.Exit(EXIT_INVALID)
    changes = replan_client(store, clinic, client_id, now)
    out.print(
        f"session {session_id} {status}; messages: {changes.created} planned, {changes.cancelled} cancelled",
        markup=False,
    )


@sessions_app.command("complete")
def complete(
    session_id: Annotated[str, typer.Argument()], config: ConfigOpt = None, templates: TemplatesOpt = None
) -> None:
    """Mark a session completed: aftercare and tips are planned.

    Example: followup sessions complete s-9001
    """
    _set(session_id, "completed", config, templates)


@sessions_app.command("cancel")
def cancel(
    session_id: Annotated[str, typer.Argument()], config: ConfigOpt = None, templates: TemplatesOpt = None
) -> None:
    """Cancel a session: its reminders are cancelled.

    Example: followup sessions cancel s-9001
    """
    _set(session_id, "cancelled", config, templates)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")
