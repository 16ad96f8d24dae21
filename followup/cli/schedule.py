"""``followup schedule``: what is due, when, and why.

Every time is in the client's own zone and says which: the table prints
``2026-12-10 15:00 PT``, the JSON gives ISO 8601 with the UTC offset and the client's
IANA zone in ``timezone``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from followup.cli.common import ConfigOpt, TemplatesOpt, load, out
from followup.engine.worker import SystemClock
from followup.rendering.context import zone_label
from followup.store.port import MessageQuery
from followup.timeutil import zone
from followup.wiring import open_store


def shown_time(moment: datetime) -> str:
    """``2026-12-10 15:00 PT``: the wall time in ``moment``'s zone and that zone's short name."""
    return f"{moment:%Y-%m-%d %H:%M} {zone_label(moment)}"


def command(
    days: Annotated[int, typer.Option("--days", "-d", help="How far ahead to look.")] = 7,
    client: Annotated[str | None, typer.Option("--client", help="Only this client (external id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """List scheduled messages due in the next DAYS days (and any overdue), in each client's local time.

    Example: followup schedule --days 14 --client c-1001
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    now = SystemClock().now()
    rows = store.messages(
        MessageQuery(
            client_external_id=client,
            statuses=("scheduled", "sending", "unknown"),
            due_before=now + timedelta(days=days),
        )
    )
    # A message to the clinic (a forwarded reply) has no client: shown in the clinic's zone.
    zones = {
        r.client_id: (
            clinic.settings.default_timezone if r.client_id is None else store.client_state(r.client_id).client.timezone
        )
        for r in rows
    }
    entries = [
        {
            "id": r.id,
            "client": r.client_external_id,
            "timezone": zones[r.client_id],
            "campaign": r.campaign,
            "step": r.step,
            "channel": r.channel,
            "purpose": r.purpose,
            "due_at": r.due_at.astimezone(zone(zones[r.client_id])).isoformat(),
            "next_attempt_at": r.next_attempt_at.astimezone(zone(zones[r.client_id])).isoformat(),
            "expires_at": r.expires_at.astimezone(zone(zones[r.client_id])).isoformat(),
            "status": r.status,
            "why": r.why,
            "note": r.status_reason,
        }
        for r in rows
    ]
    if as_json:
        out.print_json(json.dumps(entries))
        return
    table = Table(title=f"Scheduled in the next {days} days ({len(entries)})", title_justify="left")
    for column in ("due (client's time)", "client", "campaign", "step", "channel", "why", "note"):
        table.add_column(column)
    for r, e in zip(rows, entries, strict=True):
        table.add_row(
            shown_time(r.due_at.astimezone(zone(zones[r.client_id]))),
            str(e["client"]),
            str(e["campaign"]),
            str(e["step"]),
            str(e["channel"]),
            str(e["why"]),
            str(e["note"] or ""),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("schedule")(command)
