"""``followup import clients|sessions FILE``: bring a booking system's export in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, fail, load, out
from followup.config.loader import ClinicConfig
from followup.engine.ingest import ImportSummary, import_clients, import_sessions
from followup.engine.ingest import Progress as ProgressFn
from followup.engine.worker import SystemClock
from followup.exceptions import ConfigError, ConfigIssue
from followup.intake import (
    CLIENT_FIELDS,
    SESSION_FIELDS,
    ClientRow,
    MappingError,
    ParseResult,
    SessionRow,
    parse_mapping,
    read_clients,
    read_sessions,
)
from followup.intake.presets import OWNER_FILE, Kind, Preset, owner_presets, shipped_presets
from followup.wiring import open_store

import_app = typer.Typer(help="Import clients and sessions from CSV files.", no_args_is_help=True)

MAPPINGS_FILE = OWNER_FILE
MapOpt = Annotated[list[str] | None, typer.Option("--map", "-m", help="field=Column, repeatable.")]
MappingOpt = Annotated[str | None, typer.Option("--mapping", help=f"A named mapping from config/{MAPPINGS_FILE}.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Reject the whole file if any row is bad.")]
PROGRESS_FROM = 500  # rows; below that a bar only flickers


def all_presets(clinic: ClinicConfig) -> dict[str, Preset]:
    """Shipped presets, then the owner's (an owner's preset of the same name wins)."""
    try:
        return {**shipped_presets(), **owner_presets(clinic.config_dir)}
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None


def choose_columns(
    clinic: ClinicConfig, kind: Kind, name: str | None, pairs: list[str] | None, fields: tuple[str, ...]
) -> tuple[Preset | None, dict[str, str], list[Preset]]:
    """(the preset named by --mapping, the --map pairs, the presets to recognise the header by).

    Without --mapping, every preset is a candidate for recognition (--map pairs override it)."""
    presets = all_presets(clinic)
    preset = None
    if name:
        preset = presets.get(name)
        if preset is None:
            known = ", ".join(sorted(presets)) or "none"
            fail(
                ConfigError(
                    [
                        ConfigIssue(
                            clinic.config_dir / MAPPINGS_FILE, None, name, f"no such mapping (available: {known})"
                        )
                    ]
                )
            )
    mapping = parse_mapping(pairs or [], fields)
    candidates = [] if name else list(presets.values())  # --map adds to a recognised preset
    return preset, mapping, candidates


def column_mapping(
    clinic: ClinicConfig, kind: Kind, name: str | None, pairs: list[str] | None, fields: tuple[str, ...]
) -> dict[str, str]:
    """--mapping NAME's columns overlaid with --map pairs, as one field -> column mapping."""
    preset, mapping, _ = choose_columns(clinic, kind, name, pairs, fields)
    return {**(preset.mapping(kind) if preset else {}), **mapping}


def _say_layout(result: ParseResult[ClientRow] | ParseResult[SessionRow], preset: Preset | None) -> None:
    if result.preset:
        out.print(f"recognised from the header: {result.preset}; choose another with --mapping NAME", markup=False)
    elif preset is not None:
        out.print(f"columns from the {preset.label} preset", markup=False)
    else:
        out.print("no booking-system preset recognised: columns matched by name", markup=False)
    if result.ignored:
        out.print(f"columns ignored: {', '.join(result.ignored)}", markup=False)


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
    """Import or update clients: a row with an id is that client; one without is matched by
    email, then phone, and only to a client of the same first name (families share phones).

    Exports of Square, Mindbody, Vagaro, Acuity, MassageBook and Jane are recognised from
    their header (or name one: --mapping square).  Fields: external_id, first_name,
    last_name, full_name, phone, email, timezone, language, preferred_channel,
    sms_marketing, email_marketing.  Bad rows are listed as FILE:ROW: column: reason and
    skipped; a bad optional value (an email beside a good phone) is a warning.

    Example: followup import clients export.csv --map "external_id=Client No" --map "phone=Mobile"
    """
    clinic = load(config, templates)
    settings = clinic.settings
    try:
        preset, fields, candidates = choose_columns(clinic, "clients", mapping, map_, CLIENT_FIELDS)
        result = read_clients(
            file,
            fields,
            shown=str(file),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone,
            default_language=settings.default_language,
            languages=settings.languages,
            preset=preset,
            presets=candidates,
        )
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    _say_layout(result, preset)
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

    Fields: external_id, client (the client's external id, phone or email), client_name,
    start (or start_date + start_time), end (or end_date + end_time, or duration), service,
    therapist, status, focus.  Times without an offset are in the clinic's time zone.

    Example: followup import sessions appointments.csv --map "client=Client ID" --map "start=Start Time"
    """
    clinic = load(config, templates)
    settings = clinic.settings
    store = open_store(clinic)
    try:
        preset, fields, candidates = choose_columns(clinic, "sessions", mapping, map_, SESSION_FIELDS)
        result = read_sessions(
            file,
            fields,
            shown=str(file),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone,
            focus_areas=clinic.tips.focus_areas,
            preset=preset,
            presets=candidates,
        )
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    _say_layout(result, preset)
    with _bar(len(result.rows)) as progress:
        summary = import_sessions(
            store,
            clinic,
            result,
            SystemClock().now(),
            strict=strict,
            client_column={**(preset.mapping("sessions") if preset else {}), **fields}.get("client", "client"),
            progress=progress,
        )
    _report(summary)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
