"""``followup import clients|sessions FILE``: bring a booking system's export in."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, fail, load, out
from followup.config.loader import ClinicConfig
from followup.engine.ingest import ImportSummary, PlanningProgress, import_clients, import_sessions
from followup.engine.ingest import Progress as ProgressFn
from followup.engine.worker import SystemClock
from followup.exceptions import ConfigError, ConfigIssue
from followup.intake import (
    CLIENT_FIELDS,
    SESSION_FIELDS,
    ClientRow,
    MappingError,
    RowStream,
    SessionRow,
    parse_mapping,
    stream_clients,
    stream_sessions,
)
from followup.intake.presets import OWNER_FILE, Kind, Preset, owner_presets, shipped_presets
from followup.wiring import open_store

import_app = typer.Typer(help="Import clients and sessions from CSV files.", no_args_is_help=True)

MAPPINGS_FILE = OWNER_FILE
MapOpt = Annotated[list[str] | None, typer.Option("--map", "-m", help="field=Column, repeatable.")]
MappingOpt = Annotated[str | None, typer.Option("--mapping", help=f"A named mapping from config/{MAPPINGS_FILE}.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Reject the whole file if any row is bad.")]
PartialOpt = Annotated[
    bool,
    typer.Option(
        "--partial",
        help="Commit each batch of rows as it is written: Ctrl-C keeps the batches done (not with --strict).",
    ),
]
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C
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


def _say_layout(result: RowStream[ClientRow] | RowStream[SessionRow], preset: Preset | None) -> None:
    if result.preset:
        out.print(f"recognised from the header: {result.preset}; choose another with --mapping NAME", markup=False)
    elif preset is not None:
        out.print(f"columns from the {preset.label} preset", markup=False)
    else:
        out.print("no booking-system preset recognised: columns matched by name", markup=False)
    if result.ignored:
        out.print(f"columns ignored: {', '.join(result.ignored)}", markup=False)


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} {task.fields.get('unit', 'rows')}/s")


@dataclass(frozen=True)
class _Bars:
    rows: ProgressFn | None = None  # each batch of rows read and written
    planning: PlanningProgress | None = None  # then the clients planned


@contextmanager
def _bar(lines: int) -> Iterator[_Bars]:
    """A progress bar on stderr when it is a terminal (``lines`` bounds the rows: multi-line
    values make it an overestimate, so the bar may end short of full); once the rows are in,
    a second one for the clients planned (that takes longer than the rows for a large file)."""
    if lines < PROGRESS_FROM or not err.is_terminal:
        yield _Bars()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RowsPerSecond(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("importing", total=lines)

        def planning(clients: int) -> ProgressFn:
            progress.update(task, visible=False)
            planned = progress.add_task("planning messages", total=clients, unit="clients")
            return lambda n: progress.advance(planned, n)

        yield _Bars(lambda n: progress.advance(task, n), planning)


@contextmanager
def _stop_on_signal() -> Iterator[threading.Event]:
    """Ctrl-C (or SIGTERM) asks the import to stop after the batch in hand; a second Ctrl-C
    interrupts at once (the open transaction is rolled back either way)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(summary: ImportSummary, partial: bool) -> None:
    for line in summary.errors:
        err.print(line, markup=False)
    for line in summary.warnings:
        err.print(f"warning: {line}", markup=False)
    out.print(summary.line(), markup=False)
    for line in summary.language_lines():
        out.print(line, markup=False)
    if summary.planned:
        out.print(f"{summary.planned} messages planned", markup=False)
    if summary.interrupted:
        if partial and summary.committed_line:
            out.print(
                f"stopped: rows up to line {summary.committed_line} are imported; import the file again "
                "to finish (rows already in are reported unchanged)",
                markup=False,
            )
        else:
            out.print("stopped: nothing was imported (the file's transaction was rolled back)", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.rolled_back:
        raise typer.Exit(EXIT_INVALID)


def _run(work: Callable[[_Bars, threading.Event], ImportSummary], lines: int, say: Callable[[], None]) -> ImportSummary:
    """``say()`` then ``work`` with a progress bar and Ctrl-C turned into a stop; no traceback
    reaches the owner."""
    try:
        with _stop_on_signal() as stop:
            say()
            with _bar(lines) as bars:
                return work(bars, stop)
    except KeyboardInterrupt:
        out.print("interrupted: the import was rolled back", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None


def _exclusive(strict: bool, partial: bool) -> None:
    if strict and partial:
        err.print("--strict and --partial exclude each other: choose one", markup=False)
        raise typer.Exit(EXIT_INVALID)


@import_app.command("clients")
def clients(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row).")],
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    strict: StrictOpt = False,
    partial: PartialOpt = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Import or update clients: a row with an id is that client; one without is matched by
    email, then phone, and only to a client of the same first name (families share phones).

    Exports of Square, Mindbody, Vagaro, Acuity, MassageBook and Jane are recognised from
    their header (or name one: --mapping square).  Fields: external_id, first_name,
    last_name, full_name, phone, email, timezone, language, preferred_channel,
    sms_marketing, email_marketing.  Bad rows are listed as FILE:ROW: column: reason and
    skipped; a bad optional value (an email beside a good phone) is a warning.  The file is
    read and written in batches (any size); Ctrl-C stops it with nothing imported (with
    --partial: whole batches kept).

    Example: followup import clients export.csv --map "external_id=Client No" --map "phone=Mobile"
    """
    _exclusive(strict, partial)
    clinic = load(config, templates)
    settings = clinic.settings
    store = open_store(clinic)
    try:
        preset, fields, candidates = choose_columns(clinic, "clients", mapping, map_, CLIENT_FIELDS)
        stream = stream_clients(
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
    summary = _run(
        lambda bars, stop: import_clients(
            store,
            stream,
            SystemClock().now(),
            strict=strict,
            partial=partial,
            progress=bars.rows,
            stop=stop,
            clinic=clinic,
            planning=bars.planning,
        ),
        stream.lines,
        lambda: _say_layout(stream, preset),
    )
    _report(summary, partial)


@import_app.command("sessions")
def sessions(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, header row).")],
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    strict: StrictOpt = False,
    partial: PartialOpt = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Import or update sessions, then plan their messages.

    Fields: external_id, client (the client's external id, phone or email), client_name,
    start (or start_date + start_time), end (or end_date + end_time, or duration), service,
    therapist, status, focus.  Times without an offset are in the clinic's time zone.

    Example: followup import sessions appointments.csv --map "client=Client ID" --map "start=Start Time"
    """
    _exclusive(strict, partial)
    clinic = load(config, templates)
    settings = clinic.settings
    store = open_store(clinic)
    try:
        preset, fields, candidates = choose_columns(clinic, "sessions", mapping, map_, SESSION_FIELDS)
        stream = stream_sessions(
            file,
            fields,
            shown=str(file),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone,
            focus_areas=clinic.tips.focus_areas,
            focus_names=clinic.tips.focus_names(),
            preset=preset,
            presets=candidates,
        )
    except MappingError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    summary = _run(
        lambda bars, stop: import_sessions(
            store,
            clinic,
            stream,
            SystemClock().now(),
            strict=strict,
            partial=partial,
            client_column={**(preset.mapping("sessions") if preset else {}), **fields}.get("client", "client"),
            progress=bars.rows,
            stop=stop,
            planning=bars.planning,
        ),
        stream.lines,
        lambda: _say_layout(stream, preset),
    )
    _report(summary, partial)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
