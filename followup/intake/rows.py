"""The loop every export shares: one record at a time, its errors and warnings, duplicate rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from followup.intake.mapping import Layout, find_layout
from followup.intake.reading import Record, load_text, read_records
from followup.intake.results import MappingError, ParseResult, RowError

T = TypeVar("T")
V = TypeVar("V")


class Row:
    """One record being parsed: its values by field, and what is wrong with it."""

    def __init__(self, layout: Layout, record: Record) -> None:
        self.layout = layout
        self.line = record.line
        cells = record.cells
        self.values = {f: " ".join(cells[p].split()) if p < len(cells) else "" for f, p in layout.positions.items()}
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        if record.problem:
            self.error("columns", record.problem)
        extra = [c for c in cells[len(layout.header) :] if c.strip()]
        if extra:
            self.error(
                "columns",
                f"{len(cells)} values but the header has {len(layout.header)} columns "
                "(a value containing a comma must be in double quotes)",
            )
        elif cells and len(cells) < len(layout.header) and not record.problem:
            # Short rows are common (Excel drops trailing empty cells); say so, since a value
            # may have slipped into the wrong column.
            self.warn(
                "columns",
                f"{len(cells)} values but the header has {len(layout.header)} columns; the missing ones are empty",
            )

    def get(self, field: str) -> str:
        return self.values.get(field, "")

    def _issue(self, field: str, reason: str) -> RowError:
        return RowError(self.layout.file, self.line, self.layout.column(field), reason)

    def error(self, field: str, reason: str) -> None:
        self.errors.append(self._issue(field, reason))

    def warn(self, field: str, reason: str) -> None:
        self.warnings.append(self._issue(field, reason))

    def parse(self, field: str, parser: Callable[[str], V], fallback: V) -> V:
        """``parser(value)``; a ValueError becomes this row's error and ``fallback`` is returned."""
        try:
            return parser(self.get(field))
        except ValueError as exc:
            self.error(field, str(exc))
            return fallback


# --------------------------------------------------------------------------- duplicates


Key = tuple[str, str, str]  # (label, field, value): ("external id", "external_id", "C-1")


def _differences(a: object, b: object, prefix: str = "") -> list[str]:
    if not (dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b)):
        return [] if a == b else [prefix]
    names: list[str] = []
    for f in dataclasses.fields(a):
        names += _differences(getattr(a, f.name), getattr(b, f.name), _ATTR_FIELD.get(f.name, f.name))
    return names


_ATTR_FIELD = {"client_external_id": "client", "focus_areas": "focus"}


def _seen_key(field: str, value: str) -> tuple[str, str]:
    """Emails match whatever the case; ids are compared as written."""
    return field, value.casefold() if field == "email" else value


class Duplicates(Generic[T]):
    """The first row with a key wins; an identical repeat is a warning, a different one an error."""

    def __init__(self, keys: Callable[[T], list[Key]], payload: Callable[[T], object]) -> None:
        self.keys = keys
        self.payload = payload
        self.seen: dict[tuple[str, str], tuple[int, T]] = {}

    def clash(self, item: T, line: int) -> tuple[bool, str, str] | None:
        """None when ``item`` is new (and remembered); else (is_error, field, reason)."""
        keys = self.keys(item)
        if not keys:
            return None
        label, field, value = keys[0]
        earlier = self.seen.get(_seen_key(field, value))
        if earlier is None:
            for _, name, key_value in keys:
                self.seen.setdefault(_seen_key(name, key_value), (line, item))
            return None
        first_line, first = earlier
        differs = _differences(self.payload(first), self.payload(item))
        if not differs:
            return False, field, f"duplicate of row {first_line}; skipped"
        return (
            True,
            field,
            f"conflicts with row {first_line} (same {label}) on {', '.join(differs)}; "
            f"row {first_line} is kept (fix or remove one of them)",
        )


# --------------------------------------------------------------------------- the shared loop


def parse_file(
    path: Path,
    *,
    mapping: Mapping[str, str] | None,
    shown: str | None,
    fields: Sequence[str],
    required: Sequence[Sequence[str]],
    build: Callable[[Row], T | None],
    duplicates: Duplicates[T],
    aliases: Mapping[str, Sequence[str]] | None = None,
    detect_preset: Callable[[Sequence[str]], tuple[str, Mapping[str, str]] | None] | None = None,
) -> ParseResult[T]:
    """Read ``path`` record by record.  ``detect_preset(header)`` may name a preset and its
    columns (``mapping``, from --map, overrides them); fields still unplaced are looked for by
    name, then by ``aliases``."""
    file = shown if shown is not None else str(path)
    records = read_records(load_text(path, file))
    header = next(records, None)
    if header is None:
        raise MappingError(f"{file}: no header; the first line must name the columns (fields: {', '.join(fields)})")
    if header.problem:
        raise MappingError(f"{file}:{header.line}: the header can't be read: {header.problem}")
    preset_name: str | None = None
    if detect_preset is not None:
        found = detect_preset([" ".join(c.split()) for c in header.cells])
        if found is not None:  # the preset's columns, with --map's choices on top
            preset_name, mapping = found[0], {**found[1], **(mapping or {})}
    layout = find_layout(file, header.cells, fields, required, mapping or {}, aliases)
    result: ParseResult[T] = ParseResult(
        file=file, rows=[], errors=[], warnings=[], total=0, preset=preset_name, ignored=layout.ignored
    )
    for record in records:
        result.total += 1
        row = Row(layout, record)
        item = None if record.problem else build(row)  # an unsplittable record has no values to check
        clash = None if item is None or row.errors else duplicates.clash(item, row.line)
        if clash is not None:
            is_error, field, reason = clash
            row.warnings = []  # the row is left out: only the duplicate matters
            (row.error if is_error else row.warn)(field, reason)
        elif item is not None and not row.errors:
            result.rows.append(item)
        result.errors += row.errors
        result.warnings += row.warnings
    return result


class Deferred(Generic[T]):
    """Row rules made at the first row, once the header has picked a preset (and its words)."""

    def __init__(self, make: Callable[[], Callable[[Row], T | None]]) -> None:
        self._make = make
        self._build: Callable[[Row], T | None] | None = None

    def build(self, row: Row) -> T | None:
        if self._build is None:
            self._build = self._make()
        return self._build(row)
