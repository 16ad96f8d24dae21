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
    "full_name",
    "phone",
    "email",
    "timezone",
    "language",
    "preferred_channel",
    "sms_marketing",
    "email_marketing",
)
SESSION_FIELDS = (
    "external_id",
    "client",
    "client_name",
    "start",
    "start_date",
    "start_time",
    "end",
    "end_date",
    "end_time",
    "duration",
    "service",
    "therapist",
    "status",
    "focus",
)

# Columns that must exist: each group needs at least one of its fields.  A session without an
# id column gets a stable one made from its client, start and service (several booking
# systems export none); a start may be one column or a date column plus a time column.
CLIENT_REQUIRED = (("first_name", "full_name"), ("external_id", "phone", "email"))
SESSION_REQUIRED = (("client",), ("start", "start_date", "start_time"), ("service",))

# Headers booking systems use for a field, recognised without --map (matched loosely, in
# this order: the first one present wins, so "Client ID" beats a bare "ID").  An exact
# field name ("external_id") always comes first.
CLIENT_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "external_id": (
            "Client ID",
            "Customer ID",
            "Patient ID",
            "Member ID",
            "Contact ID",
            "Client Number",
            "Customer Number",
            "Reference ID",
            "ID",
        ),
        "first_name": ("First Name", "Given Name", "First", "Forename"),
        "last_name": ("Last Name", "Surname", "Family Name", "Last"),
        "full_name": ("Name", "Client Name", "Customer Name", "Patient Name", "Full Name", "Client", "Customer"),
        "phone": ("Mobile Phone", "Cell Phone", "Mobile", "Cell", "Phone Number", "Mobile Number", "Phone"),
        "email": ("Email Address", "E-mail", "E-mail Address", "Email"),
        "timezone": ("Time Zone", "TZ"),
        "language": ("Preferred Language", "Lang"),
        "preferred_channel": ("Preferred Contact Method", "Contact Preference"),
        "sms_marketing": ("SMS Marketing", "Text Marketing", "SMS Opt In", "SMS Subscription Status", "Text Opt In"),
        "email_marketing": (
            "Email Marketing",
            "Email Subscription Status",
            "Email Opt In",
            "Accepts Email Marketing",
            "Marketing Emails",
        ),
    }
)
SESSION_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "external_id": ("Appointment ID", "Booking ID", "Session ID", "Visit ID", "Appointment Number", "ID"),
        "client": (
            "Client ID",
            "Customer ID",
            "Patient ID",
            "Member ID",
            "Client Email",
            "Customer Email",
            "Email",
            "Client Phone",
            "Customer Phone",
        ),
        "client_name": ("Client Name", "Customer Name", "Patient Name", "Client", "Customer", "Patient", "Name"),
        "start": ("Start", "Starts At", "Start Date Time", "Appointment Start", "Start Datetime"),
        "start_date": ("Appointment Date", "Start Date", "Session Date", "Date"),
        "start_time": ("Start Time", "Appointment Time", "Time"),
        "end": ("End", "Ends At", "End Date Time", "Appointment End", "End Datetime"),
        "end_date": ("End Date",),
        "end_time": ("End Time",),
        "duration": ("Duration", "Length", "Minutes", "Duration (min)", "Duration Minutes"),
        "service": ("Service", "Service Name", "Appointment Type", "Treatment", "Type", "Service Type"),
        "therapist": ("Therapist", "Staff", "Staff Member", "Provider", "Service Provider", "Practitioner", "Calendar"),
        "status": ("Status", "Appointment Status", "State"),
        "focus": ("Focus", "Focus Areas", "Areas of Focus"),
    }
)


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

    @property
    def ignored(self) -> list[str]:
        """Header columns no field reads (the import summary lists them)."""
        used = set(self.positions.values())
        return [h for i, h in enumerate(self.header) if h and i not in used]


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


def _by_alias(header: Sequence[str], aliases: Sequence[str], taken: set[int]) -> int | None:
    for alias in aliases:
        for index, name in enumerate(header):
            if name and index not in taken and loose(name) == loose(alias):
                return index
    return None


def find_layout(
    file: str,
    header_cells: Sequence[str],
    fields: Sequence[str],
    required: Sequence[Sequence[str]],
    mapping: Mapping[str, str],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Layout:
    """Place every field: ``mapping`` (``--map`` or a preset) first, then a column named like
    the field, then the first alias present.  A column serves one field only."""
    header = tuple(" ".join(c.split()) for c in header_cells)
    unknown = [name for name in mapping if name not in fields]
    if unknown:
        raise MappingError(f"{file}: unknown field {unknown[0]!r} in --map (allowed: {', '.join(fields)})")
    positions: dict[str, int] = {}
    for field in fields:
        position = find_column(header, field, mapping.get(field), file)
        if position is not None:
            positions[field] = position
    if aliases:
        taken = set(positions.values())
        for field in fields:
            if field in positions or field in mapping:
                continue
            position = _by_alias(header, aliases.get(field, ()), taken)
            if position is not None:
                positions[field] = position
                taken.add(position)
    missing = [group for group in required if not any(f in positions for f in group)]
    if missing:
        needs = "; ".join(" or ".join(group) for group in missing)
        raise MappingError(
            f"{file}: no column for {needs} (columns in the header: {header_list(header)}); "
            f"rename the column or use --map {missing[0][0]}=COLUMN"
        )
    return Layout(file=file, header=header, positions=MappingProxyType(positions))
