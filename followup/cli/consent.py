"""``followup consent export FILE.csv``: the consent ledger for an auditor."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from followup.cli.common import ConfigOpt, TemplatesOpt, err, load, out
from followup.timeutil import zone
from followup.wiring import open_store

consent_app = typer.Typer(help="The consent ledger: export it for an auditor.", no_args_is_help=True)

COLUMNS = ("client", "channel", "purpose", "action", "source", "wording", "time", "timezone")


@consent_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="Where to write the CSV (UTF-8).")],
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Every opt-in and opt-out, oldest first: client, channel, purpose, action, source,
    wording, time (ISO 8601 with the clinic's UTC offset) and the clinic's zone.

    Example: followup consent export consent-2026.csv
    """
    clinic = load(config, templates)
    tz_name = clinic.settings.default_timezone
    tz = zone(tz_name)
    records = open_store(clinic).consent_records()
    try:
        with file.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for r in records:
                at = r.at.astimezone(tz).isoformat()
                writer.writerow((r.client, r.channel, r.purpose, r.action, r.source, r.wording, at, tz_name))
    except OSError as exc:
        err.print(f"cannot write {file}: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"wrote {len(records)} consent records to {file}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(consent_app, name="consent")
