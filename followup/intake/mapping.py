"""Which column holds which field: the field names, ``--map FIELD=COLUMN`` and the header row."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from followup.intake.results import MappingError

CLIENT_FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "timezone",
    "language",
    "preferred_channel",
    "sms_marketing",
    "email_marketing",
)
SESSION_FIELDS = ("external_id", "client", "start", "end", "duration", "service", "therapist", "status", "focus")

# Columns that must exist: each group needs at least one of its fields.
CLIENT_REQUIRED = (("first_name",), ("external_id", "phone", "email"))
SESSION_REQUIRED = (("external_id",), ("client",), ("start",), ("service",))


def loose(name: str) -> str:
    """Header matching key: case-insensitive, ignoring spaces, underscores and dashes."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def field_named(name: str, fields: Sequence[str]) -> str | None:
    return next((f for f in fields if loose(f) == loose(name)), None)


def parse_mapping(pairs: Sequence[str], fields: Sequence[str]) -> dict[str, str]:
    """``["first_name=First Name", "phone=Mobile"]`` -> ``{"first_name": "First Name", "phone": "Mobile"}``."""
    allowed = ", ".join(fields)
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for pair in pairs:
        name, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or not name or not column:
            problems.append(f"--map {pair!r}: expected FIELD=COLUMN, e.g. first_name=First Name (fields: {allowed})")
            continue
        field = field_named(name, fields)
        if field is None:
            problems.append(f"--map {pair!r}: unknown field {name!r} (allowed: {allowed})")
        elif field in mapping and mapping[field] != column:
            problems.append(f"--map {pair!r}: {field} is already mapped to {mapping[field]!r} (one column per field)")
        else:
            mapping[field] = column
    if problems:
        raise MappingError("\n".join(problems))
    return mapping


@dataclass(frozen=True)
class Layout:
    """Where each field is in the file's rows."""

    file: str
    header: tuple[str, ...]
    positions: Mapping[str, int]  # field -> index; absent fields are missing

    def column(self, field: str) -> str:
        """The column as written in the header, or the field name when the file has no such column."""
        position = self.positions.get(field)
        return field if position is None else self.header[position]

    def has(self, field: str) -> bool:
        return field in self.positions


def header_list(header: Sequence[str]) -> str:
    return ", ".join(h for h in header if h) or "(none)"


def find_column(header: Sequence[str], field: str, wanted: str | None, file: str) -> int | None:
    if wanted is None:
        matches = [i for i, h in enumerate(header) if h and loose(h) == loose(field)]
    else:
        matches = [i for i, h in enumerate(header) if h == wanted.strip()]
        matches = matches or [i for i, h in enumerate(header) if h and loose(h) == loose(wanted)]
        if not matches:
            raise MappingError(
                f"{file}: --map {field}={wanted}: no column {wanted!r} in the header (columns: {header_list(header)})"
            )
    if len(matches) > 1:
        names = " and ".join(repr(header[i]) for i in matches)
        raise MappingError(f"{file}: columns {names} both match {field}; choose one with --map {field}=COLUMN")
    return matches[0] if matches else None


def find_layout(
    file: str,
    header_cells: Sequence[str],
    fields: Sequence[str],
    required: Sequence[Sequence[str]],
    mapping: Mapping[str, str],
) -> Layout:
    header = tuple(" ".join(c.split()) for c in header_cells)
    unknown = [name for name in mapping if name not in fields]
    if unknown:
        raise MappingError(f"{file}: unknown field {unknown[0]!r} in --map (allowed: {', '.join(fields)})")
    positions: dict[str, int] = {}
    for field in fields:
        position = find_column(header, field, mapping.get(field), file)
        if position is not None:
            positions[field] = position
    missing = [group for group in required if not any(f in positions for f in group)]
    if missing:
        needs = "; ".join(" or ".join(group) for group in missing)
        raise MappingError(
            f"{file}: no column for {needs} (columns in the header: {header_list(header)}); "
            f"rename the column or use --map {missing[0][0]}=COLUMN"
        )
    return Layout(file=file, header=header, positions=MappingProxyType(positions))
