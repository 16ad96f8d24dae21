"""``followup import clients|sessions FILE``: bring a booking system's export in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.progress import Progress

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, fail, load, out
from followup.config.loader import ClinicConfig
from followup.engine.ingest import ImportSummary, import_clients, import_sessions
from followup.engine.ingest import Progress as ProgressFn
from followup.engine.worker import SystemClock
from followup.exceptions import ConfigError, ConfigIssue
from followup.intake import CLIENT_FIELDS, SESSION_FIELDS, MappingError, parse_mapping, read_clients, read_sessions
from followup.wiring import open_store

import_app = typer.Typer(help="Import clients and sessions from CSV files.", no_args_is_help=True)

MAPPINGS_FILE = "mappings.yaml"
MapOpt = Annotated[list[str] | None, typer.Option("--map", "-m", help="field=Column, repeatable.")]
MappingOpt = Annotated[str | None, typer.Option("--mapping", help=f"A named mapping from config/{MAPPINGS_FILE}.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Reject the whole file if any row is bad.")]
PROGRESS_FROM = 500  # rows; below that a bar only flickers


def column_mapping(
    clinic: ClinicConfig, kind: str, name: str | None, pairs: list[str] | None, fields: tuple[str, ...]
) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if name:
        path = clinic.config_dir / MAPPINGS_FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(data, dict) or name not in data or not isinstance(data[name], dict):
            known = ", ".join(sorted(data)) if isinstance(data, dict) else ""
            fail(ConfigError([ConfigIssue(path, None, name, f"no such mapping (available: {known or 'none'})")]))
        section = data[name].get(kind, {})
        mapping.update(parse_mapping([f"{k}={v}" for k, v in section.items()], fields))
    mapping.update(parse_mapping(pairs or [], fields))
    return mapping


@contextmanager
def _bar(total: int) -> Iterator[ProgressFn | None]:
    if total < PROGRESS_FROM:
        yield None
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("importing", total=total)
        yield lambda n: progress.advance(task, n)


def _report(summary: ImportSummary) -> None:
    for line in summary.errors:
        err.print(line, markup=False)
    for line in summary.warnings:
        err.print(f"warning: {line}", markup=False)
    out.print(summary.line(), markup=False)
    if summary.planned:
        out.print(f"{summary.planned} messages planned", markup=False)
    if summary.rolled_back:
        raise typer.Exit(EXIT_INVALID)


@import_app.command("clients")
def clients(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row).")],
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    strict: StrictOpt = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Import or update clients; matched by external id, then phone, then email.

    Fields: external_id, first_name, last_name, phone, email, timezone, language,
    preferred_channel, sms_marketing, email_marketing.  Bad rows are listed as
    FILE:ROW: column: reason and skipped; the others are imported.

    Example: followup import clients export.csv --map "external_id=Client ID" --map "phone=Mobile"
    """
    clinic = load(config, templates)
    settings = clinic.settings
    try:
        fields = column_mapping(clinic, "clients", mapping, map_, CLIENT_FIELDS)
        result = read_clients(
            file,
            fields,
            shown=str(file),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone,
            default_language=settings.default_language,
            languages=settings.languages,
        )
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    store = open_store(clinic)
    with _bar(len(result.rows)) as progress:
        summary = import_clients(store, result, SystemClock().now(), strict=strict, progress=progress)
    _report(summary)


@import_app.command("sessions")
def sessions(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row).")],
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    strict: StrictOpt = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Import or update sessions, then plan their messages.

    Fields: external_id, client (the client's external id, phone or email), start, end,
    duration, service, therapist, status, focus.  Times without an offset are in the
    client's time zone.

    Example: followup import sessions appointments.csv --map "client=Client ID" --map "start=Start Time"
    """
    clinic = load(config, templates)
    settings = clinic.settings
    store = open_store(clinic)
    try:
        fields = column_mapping(clinic, "sessions", mapping, map_, SESSION_FIELDS)
        zones = store.client_timezones()
        result = read_sessions(
            file,
            fields,
            shown=str(file),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone,
            focus_areas=clinic.tips.focus_areas,
            client_timezones=zones,
        )
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    with _bar(len(result.rows)) as progress:
        summary = import_sessions(
            store,
            clinic,
            result,
            SystemClock().now(),
            strict=strict,
            client_column=fields.get("client", "client"),
            progress=progress,
        )
    _report(summary)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
