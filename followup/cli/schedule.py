"""``followup schedule``: what is due, when, and why.

Every time is in the client's own zone and says which: the table prints
``2026-12-10 15:00 PST`` (the abbreviation of that moment, so the two 1:30s of the night the
clocks go back read apart: EDT, then EST), the JSON gives ISO 8601 with the UTC offset and
the client's IANA zone in ``timezone``.  A message due in the past and still waiting (held
by the send window, a paused sender, or no worker running) is marked overdue, with how long.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.times import how_long, readable_reason, readable_time, table_time
from followup.engine.lookup import find_client
from followup.engine.worker import SystemClock
from followup.rendering.context import zone_label
from followup.store.port import MessageQuery, MessageRow
from followup.timeutil import zone
from followup.wiring import open_store


def shown_time(moment: datetime) -> str:
    """``2026-12-10 15:00 PT``: the wall time in ``moment``'s zone and that zone's short name
    (``report``, ``replies`` and ``clients`` print this; ``schedule`` and ``simulate`` print
    :func:`followup.cli.times.table_time`, which tells EDT from EST)."""
    return f"{moment:%Y-%m-%d %H:%M} {zone_label(moment)}"


TABLE_ROWS = 200  # a table longer than this is unreadable in a terminal: --json or --limit 0 for more


def command(
    days: Annotated[int, typer.Option("--days", "-d", help="How far ahead to look.")] = 7,
    client: Annotated[
        str | None, typer.Option("--client", help="Only this client (external id, phone or email).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            help=f"Show at most this many (default: {TABLE_ROWS} in the table, all with --json; 0 = all).",
        ),
    ] = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """List scheduled messages due in the next DAYS days (and any overdue), in each client's local time.

    Example: followup schedule --days 14 --client c-1001
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    now = SystemClock().now()
    if client is not None:  # a typo must not look like "nothing scheduled"
        found = find_client(store, client, clinic.settings.default_region)
        if found.client_id is None:
            err.print(found.problem, markup=False)
            raise typer.Exit(EXIT_INVALID)
        client = store.client_external_id(found.client_id)
    shown = (None if as_json else TABLE_ROWS) if limit is None else (limit or None)
    query = MessageQuery(
        client_external_id=client,
        statuses=("scheduled", "sending", "unknown"),
        due_before=now + timedelta(days=days),
        limit=shown,
    )
    clinic_zone = clinic.settings.default_timezone
    zones: dict[int, str] = {}

    def entries() -> Iterator[tuple[MessageRow, dict[str, object], ZoneInfo]]:
        """Page by page (an outbox can hold millions of rows), each client's zone read once."""
        for page in store.message_pages(query):
            zones.update(store.client_zones({r.client_id for r in page if r.client_id is not None} - zones.keys()))
            for r in page:
                # A message to the clinic (a forwarded reply) has no client: shown in the clinic's zone.
                name = clinic_zone if r.client_id is None else zones[r.client_id]
                tz = zone(name)
                yield r, _entry(r, name, tz), tz

    if as_json:
        # Streamed: the array is written as the pages are read, never held whole.
        sys.stdout.write("[")
        for index, (_, entry, _) in enumerate(entries()):
            sys.stdout.write(("\n" if index == 0 else ",\n") + json.dumps(entry, ensure_ascii=False))
        sys.stdout.write("\n]\n")
        return
    total = store.count_messages(replace(query, limit=None))
    overdue = store.count_messages(replace(query, statuses=("scheduled",), due_before=now, limit=None))
    title = f"Scheduled in the next {days} days ({total:,}" + (f", {overdue:,} overdue)" if overdue else ")")
    if shown is not None and total > shown:
        title += f": the first {shown:,} shown (--limit 0 shows all, --json lists them for a spreadsheet)"
    table = Table(title=title, title_justify="left")
    for column in ("due (client's time)", "client", "campaign", "step", "channel", "why", "note"):
        table.add_column(column)
    for r, e, tz in entries():
        table.add_row(
            table_time(r.due_at.astimezone(tz)),
            str(e["client"]),
            str(e["campaign"]),
            str(e["step"]),
            str(e["channel"]),
            str(e["why"]),
            _note(r, tz, now),
        )
    out.print(table)
    if overdue:
        out.print(
            f"{overdue:,} overdue: due in the past and not sent yet. A note says why when the worker held it "
            "(outside the send window, a paused sender); without one, the worker has not run since it came due "
            "(start it: followup run).",
            markup=False,
        )


def _note(r: MessageRow, tz: ZoneInfo, now: datetime) -> str:
    """The table's note: ``OVERDUE 3 h 5 min`` first when it is due in the past and still
    waiting, then the stored reason (and, when the worker deferred it, until when), its times
    readable in the client's zone."""
    year = now.astimezone(tz).year
    parts = []
    if r.status == "scheduled" and r.due_at < now:
        parts.append(f"OVERDUE {how_long(now - r.due_at)}")
    if r.status_reason:
        parts.append(readable_reason(r.status_reason, tz, year))
    if r.status == "scheduled" and r.status_reason and r.next_attempt_at > now:
        parts.append(f"next try {readable_time(r.next_attempt_at.astimezone(tz), year)}")
    return "; ".join(parts)


def _entry(r: MessageRow, zone_name: str, tz: ZoneInfo) -> dict[str, object]:
    return {
        "id": r.id,
        "client": r.client_external_id,
        "timezone": zone_name,
        "campaign": r.campaign,
        "step": r.step,
        "channel": r.channel,
        "purpose": r.purpose,
        "due_at": r.due_at.astimezone(tz).isoformat(),
        "next_attempt_at": r.next_attempt_at.astimezone(tz).isoformat(),
        "expires_at": r.expires_at.astimezone(tz).isoformat(),
        "status": r.status,
        "why": r.why,
        "note": r.status_reason,
    }


def register(app: typer.Typer) -> None:
    app.command("schedule")(command)
