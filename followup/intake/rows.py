"""The loop every export shares: one record at a time, its errors and warnings, duplicate rows.

Streaming: a file is never held whole, and duplicates are found from fingerprints.
"""

from __future__ import annotations

import dataclasses
import functools
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast

from followup.intake.mapping import Layout, find_layout
from followup.intake.reading import FileFacts, Record, check_file, open_records
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


REMEMBERED = 4096  # cell values a remembered parser keeps (a few hundred KB at most)


def remembered(parse: Callable[[str], V], size: int = REMEMBERED) -> Callable[[str], V]:
    """``parse`` remembering what it made of the last ``size`` texts: the value, or the message
    of the ValueError it raised (raised again on a repeat, as a ValueError with that message;
    other exceptions are not remembered).  For pure parsers of cells a file repeats (a clinic's
    time zone, a client's reference on each of their visits); the memory goes with the parser."""

    @functools.lru_cache(maxsize=size)
    def outcome(raw: str) -> tuple[bool, object]:
        try:
            return True, parse(raw)
        except ValueError as exc:
            return False, str(exc)

    def read(raw: str) -> V:
        ok, value = outcome(raw)
        if not ok:
            raise ValueError(value)
        return cast(V, value)

    return read


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


_MASK = (1 << 64) - 1


def _fingerprint(value: object) -> int:
    """Python's 64-bit hash, never 0 (0 marks a free slot); two different keys of one file share a
    fingerprint with odds of about n^2 / 2^65 (1 in 37 million for a million rows).  Equal values
    hash alike (an instant written in two zones too), as the duplicate check compares them."""
    return (hash(value) & _MASK) or 1


def _seen_key(field: str, value: str) -> int:
    """Emails match whatever the case; ids are compared as written."""
    return _fingerprint((field, value.casefold() if field == "email" else value))


class SeenKeys:
    """Which keys a file has shown so far, in 20 bytes a key: {key fingerprint: (line, payload
    fingerprint)} as an open-addressing table in three arrays (a dict of Python objects would
    hold ~150 bytes a key, 150 MB for a million-row file)."""

    def __init__(self) -> None:
        self._size = 1 << 12
        self._count = 0
        self._keys = array("Q", [0]) * self._size
        self._lines = array("L", [0]) * self._size
        self._payloads = array("Q", [0]) * self._size

    def __len__(self) -> int:
        return self._count

    def _slot(self, key: int) -> int:
        mask = self._size - 1
        slot = key & mask
        keys = self._keys
        while keys[slot] and keys[slot] != key:
            slot = (slot + 1) & mask
        return slot

    def get(self, key: int) -> tuple[int, int] | None:
        """(line, payload fingerprint) of the row that first showed ``key``, or None."""
        slot = self._slot(key)
        return (self._lines[slot], self._payloads[slot]) if self._keys[slot] else None

    def add(self, key: int, line: int, payload: int) -> None:
        """Remember ``key`` unless it is known (the first row with a key wins)."""
        slot = self._slot(key)
        if self._keys[slot]:
            return
        self._keys[slot], self._lines[slot], self._payloads[slot] = key, line, payload
        self._count += 1
        if self._count * 2 > self._size:  # at most half full keeps probe runs short
            self._grow()

    def _grow(self) -> None:
        old = zip(self._keys, self._lines, self._payloads, strict=True)
        self._size *= 2
        self._count = 0
        keys, lines, payloads = self._keys, self._lines, self._payloads
        self._keys = array("Q", [0]) * self._size
        self._lines = array("L", [0]) * self._size
        self._payloads = array("Q", [0]) * self._size
        for key, line, payload in old:
            if key:
                self.add(key, line, payload)
        del keys, lines, payloads


class Duplicates(Generic[T]):
    """The first row with a key wins; an identical repeat is a warning, a different one an error.

    Only fingerprints are kept (:class:`SeenKeys`); when a repeat differs, the first row is
    read again from the file (``reread(line)``) to name the fields that differ."""

    def __init__(self, keys: Callable[[T], list[Key]], payload: Callable[[T], object]) -> None:
        self.keys = keys
        self.payload = payload
        self.seen = SeenKeys()
        self.reread: Callable[[int], T | None] = lambda line: None

    def clash(self, item: T, line: int) -> tuple[bool, str, str] | None:
        """None when ``item`` is new (and remembered); else (is_error, field, reason)."""
        keys = self.keys(item)
        if not keys:
            return None
        label, field, value = keys[0]
        payload = _fingerprint(self.payload(item))
        earlier = self.seen.get(_seen_key(field, value))
        if earlier is None:
            for _, name, key_value in keys:
                self.seen.add(_seen_key(name, key_value), line, payload)
            return None
        first_line, first_payload = earlier
        differs: list[str] = []
        if first_payload != payload:
            first = self.reread(first_line)
            differs = ["row"] if first is None else _differences(self.payload(first), self.payload(item))
        if not differs:
            return False, field, f"duplicate of row {first_line}; skipped"
        return (
            True,
            field,
            f"conflicts with row {first_line} (same {label}) on {', '.join(differs)}; "
            f"row {first_line} is kept (fix or remove one of them)",
        )


# --------------------------------------------------------------------------- the shared loop


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """One record read: the item when the row is good, and what was wrong with it."""

    line: int
    item: T | None  # None: rejected, or an identical repeat skipped
    errors: list[RowError]
    warnings: list[RowError]


class RowStream(Generic[T]):
    """An export whose header is read and columns placed; iterating it reads, checks and yields
    one record at a time (:class:`Parsed`), so memory does not grow with the file.  Iterate once.

    ``lines`` bounds the number of records (the lines after the header: a progress bar's
    total); ``total`` counts the records read so far (header and blank lines excluded)."""

    def __init__(
        self,
        path: Path,
        file: str,
        facts: FileFacts,
        layout: Layout,
        preset: str | None,
        build: Callable[[Row], T | None],
        duplicates: Duplicates[T],
    ) -> None:
        self.path = path
        self.file = file
        self.lines = max(facts.lines - 1, 0)  # the header's line is no record
        self.preset = preset
        self.ignored = layout.ignored
        self.total = 0
        self._facts = facts
        self._layout = layout
        self._build = build
        self._duplicates = duplicates
        self._cursor: tuple[int, Iterator[Record]] | None = None
        duplicates.reread = self._reread

    def _records(self) -> Iterator[Record]:
        records = open_records(self.path, self.file, self._facts)
        next(records, None)  # the header
        return records

    def __iter__(self) -> Iterator[Parsed[T]]:
        for record in self._records():
            self.total += 1
            row = Row(self._layout, record)
            item = None if record.problem else self._build(row)  # an unsplittable record has no values to check
            clash = None if item is None or row.errors else self._duplicates.clash(item, row.line)
            if clash is not None:
                is_error, field, reason = clash
                row.warnings = []  # the row is left out: only the duplicate matters
                (row.error if is_error else row.warn)(field, reason)
                item = None
            elif row.errors:
                item = None
            yield Parsed(row.line, item, row.errors, row.warnings)

    def _reread(self, line: int) -> T | None:
        """The item of the record starting at ``line``, read again (a second cursor that only
        restarts when asked for a line behind it)."""
        if self._cursor is None or self._cursor[0] >= line:
            self._cursor = (0, self._records())
        records = self._cursor[1]
        for record in records:
            self._cursor = (record.line, records)
            if record.line == line:
                return None if record.problem else self._build(Row(self._layout, record))
            if record.line > line:
                break
        return None

    def collect(self) -> ParseResult[T]:
        """Every good row, error and warning in memory (small files: tests, the sample data)."""
        result: ParseResult[T] = ParseResult(
            file=self.file, rows=[], errors=[], warnings=[], total=0, preset=self.preset, ignored=self.ignored
        )
        for parsed in self:
            if parsed.item is not None:
                result.rows.append(parsed.item)
            result.errors += parsed.errors
            result.warnings += parsed.warnings
        result.total = self.total
        return result


def open_rows(
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
) -> RowStream[T]:
    """Check ``path`` and read its header; raises :class:`MappingError` for a file that can't be
    read as asked (before any row is).  ``detect_preset(header)`` may name a preset and its
    columns (``mapping``, from --map, overrides them); fields still unplaced are looked for by
    name, then by ``aliases``."""
    file = shown if shown is not None else str(path)
    facts = check_file(path, file)
    header = next(open_records(path, file, facts), None)
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
    return RowStream(path, file, facts, layout, preset_name, build, duplicates)


class Deferred(Generic[T]):
    """Row rules made at the first row, once the header has picked a preset (and its words)."""

    def __init__(self, make: Callable[[], Callable[[Row], T | None]]) -> None:
        self._make = make
        self._build: Callable[[Row], T | None] | None = None

    def build(self, row: Row) -> T | None:
        if self._build is None:
            self._build = self._make()
        return self._build(row)
