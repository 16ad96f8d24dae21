"""CSV exports from the owner's booking system -> validated clients and sessions.

Pure: reads the one file it is given, never the clock or a database. A bad row becomes
one or more :class:`RowError` (every problem of the row, not just the first) and is
left out; good rows come through. Problems with the file as a whole (not found, not
UTF-8, no header, a required column missing, a ``--map`` that names nothing) raise
:class:`MappingError`. Storing the rows and resolving session -> client references is
the importer's job.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from followup.core.domain import ChannelName, Client, Consent, Session, SessionStatus
from followup.core.durations import local_datetime, parse_duration
from followup.exceptions import FollowupError
from followup.timeutil import UTC, zone

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
_CLIENT_REQUIRED = (("first_name",), ("external_id", "phone", "email"))
_SESSION_REQUIRED = (("external_id",), ("client",), ("start",), ("service",))

ClientRefKind = Literal["external_id", "phone", "email"]
T = TypeVar("T")
V = TypeVar("V")

_NO_FOCUS_AREAS: Mapping[str, str] = MappingProxyType({})
_DEFAULT_SESSION = timedelta(minutes=60)


class MappingError(FollowupError):
    """The file as a whole can't be read as asked; the message names the file and what is allowed."""


@dataclass(frozen=True)
class RowError:
    """One problem with one record (also used for warnings)."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.column}: {self.reason}"


@dataclass(frozen=True)
class ClientRow:
    row: int
    external_id: str | None  # None: no id in the file (match by phone/email); client.external_id is then ""
    client: Client


@dataclass(frozen=True)
class SessionRow:
    row: int
    session: Session  # session.client_external_id is the normalised client reference
    client_ref_kind: ClientRefKind


@dataclass
class ParseResult(Generic[T]):
    file: str
    rows: list[T]
    errors: list[RowError]
    warnings: list[RowError]
    total: int  # data records seen (header and blank lines excluded)


# --------------------------------------------------------------------------- mapping and header


def _loose(name: str) -> str:
    """Header matching key: case-insensitive, ignoring spaces, underscores and dashes."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def _field_named(name: str, fields: Sequence[str]) -> str | None:
    return next((f for f in fields if _loose(f) == _loose(name)), None)


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
        field = _field_named(name, fields)
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
class _Layout:
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


def _header_list(header: Sequence[str]) -> str:
    return ", ".join(h for h in header if h) or "(none)"


def _find_column(header: Sequence[str], field: str, wanted: str | None, file: str) -> int | None:
    if wanted is None:
        matches = [i for i, h in enumerate(header) if h and _loose(h) == _loose(field)]
    else:
        matches = [i for i, h in enumerate(header) if h == wanted.strip()]
        matches = matches or [i for i, h in enumerate(header) if h and _loose(h) == _loose(wanted)]
        if not matches:
            raise MappingError(
                f"{file}: --map {field}={wanted}: no column {wanted!r} in the header (columns: {_header_list(header)})"
            )
    if len(matches) > 1:
        names = " and ".join(repr(header[i]) for i in matches)
        raise MappingError(f"{file}: columns {names} both match {field}; choose one with --map {field}=COLUMN")
    return matches[0] if matches else None


def _layout(
    file: str,
    header_cells: Sequence[str],
    fields: Sequence[str],
    required: Sequence[Sequence[str]],
    mapping: Mapping[str, str],
) -> _Layout:
    header = tuple(" ".join(c.split()) for c in header_cells)
    unknown = [name for name in mapping if name not in fields]
    if unknown:
        raise MappingError(f"{file}: unknown field {unknown[0]!r} in --map (allowed: {', '.join(fields)})")
    positions: dict[str, int] = {}
    for field in fields:
        position = _find_column(header, field, mapping.get(field), file)
        if position is not None:
            positions[field] = position
    missing = [group for group in required if not any(f in positions for f in group)]
    if missing:
        needs = "; ".join(" or ".join(group) for group in missing)
        raise MappingError(
            f"{file}: no column for {needs} (columns in the header: {_header_list(header)}); "
            f"rename the column or use --map {missing[0][0]}=COLUMN"
        )
    return _Layout(file=file, header=header, positions=MappingProxyType(positions))


# --------------------------------------------------------------------------- reading records


def _load_text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MappingError(f"{file}: file not found") from None
    except OSError as exc:
        raise MappingError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise MappingError(f"{file}: is UTF-16; save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise MappingError(
            f"{file}:{line}: not UTF-8 (byte 0x{byte:02x}); save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)"
        ) from None


def _delimiter(text: str) -> str:
    """Comma, or the semicolon / tab a European Excel or a TSV export uses, judged by the header line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(frozen=True)
class _Record:
    line: int  # physical line where the record starts
    cells: list[str]
    problem: str = ""  # the csv module could not split it


_CSV_PROBLEMS = {
    "unexpected end of data": (
        'a quoted value opened here is never closed (the rest of the file was read into it); add the closing "'
    ),
}


def _records(text: str) -> Iterator[_Record]:
    """Non-blank records with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = _CSV_PROBLEMS.get(str(exc), f'{exc} (quote the whole value and double any " inside it)')
            yield _Record(line, [], reason)
            continue
        if any(c.strip() for c in cells):
            yield _Record(line, cells)


class _Row:
    """One record being parsed: its values by field, and what is wrong with it."""

    def __init__(self, layout: _Layout, record: _Record) -> None:
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


class _Duplicates(Generic[T]):
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


def _parse_file(
    path: Path,
    *,
    mapping: Mapping[str, str] | None,
    shown: str | None,
    fields: Sequence[str],
    required: Sequence[Sequence[str]],
    build: Callable[[_Row], T | None],
    duplicates: _Duplicates[T],
) -> ParseResult[T]:
    file = shown if shown is not None else str(path)
    records = _records(_load_text(path, file))
    header = next(records, None)
    if header is None:
        raise MappingError(f"{file}: no header; the first line must name the columns (fields: {', '.join(fields)})")
    if header.problem:
        raise MappingError(f"{file}:{header.line}: the header can't be read: {header.problem}")
    layout = _layout(file, header.cells, fields, required, mapping or {})
    result: ParseResult[T] = ParseResult(file=file, rows=[], errors=[], warnings=[], total=0)
    for record in records:
        result.total += 1
        row = _Row(layout, record)
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


# --------------------------------------------------------------------------- values


def _phone(raw: str, region: str) -> str | None:
    """E.164, or None for an empty cell."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(raw: str) -> str | None:
    """The normalised address, or None for an empty cell."""
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{raw!r} is not a valid email address: {exc}") from None


_YES_NO = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def _yes_no(raw: str, default: bool) -> bool:
    if not raw:
        return default
    value = _YES_NO.get(raw.casefold())
    if value is None:
        empty = "yes" if default else "no"
        raise ValueError(f"{raw!r} is not yes or no (allowed: yes, no, y, n, true, false, 1, 0; empty means {empty})")
    return value


_LANGUAGE = re.compile(r"([A-Za-z]{2})(?:[-_][A-Za-z0-9]{2,8})*")

_CHANNELS: dict[str, ChannelName] = {"sms": "sms", "text": "sms", "email": "email", "e-mail": "email"}


def _channel(row: _Row, phone: str | None, email: str | None) -> ChannelName:
    raw = row.get("preferred_channel")
    if not raw:
        return "sms" if phone else "email"
    channel = _CHANNELS.get(raw.casefold())
    if channel is None:
        row.error("preferred_channel", f"{raw!r} is not a channel (allowed: sms, text, email)")
    elif channel == "sms" and not row.get("phone"):
        row.error("preferred_channel", f"{raw!r} but there is no phone to text (allowed: email, or add a phone)")
    elif channel == "email" and not row.get("email"):
        row.error("preferred_channel", f"{raw!r} but there is no email address (allowed: sms, or add an email)")
    return channel or "sms"


_DEFAULT_CONSENT = Consent()


@dataclass(frozen=True)
class _ClientRules:
    region: str
    timezone: str
    language: str
    languages: tuple[str, ...]

    def build(self, row: _Row) -> ClientRow | None:
        external_id = row.get("external_id") or None
        first_name = row.get("first_name")
        if not first_name:
            row.error("first_name", "is empty (a first name is required)")
        self._identity(row, external_id)
        phone = row.parse("phone", lambda raw: _phone(raw, self.region), None)
        email = row.parse("email", _email, None)
        timezone = row.parse("timezone", lambda raw: zone(raw or self.timezone).key, self.timezone)
        language = self._language(row)
        channel = _channel(row, phone, email)
        consent = Consent(
            sms_marketing=row.parse("sms_marketing", lambda raw: _yes_no(raw, _DEFAULT_CONSENT.sms_marketing), False),
            email_marketing=row.parse(
                "email_marketing", lambda raw: _yes_no(raw, _DEFAULT_CONSENT.email_marketing), False
            ),
        )
        if row.errors:
            return None
        client = Client(
            external_id=external_id or "",
            first_name=first_name,
            last_name=row.get("last_name"),
            phone=phone,
            email=email,
            timezone=timezone,
            language=language,
            preferred_channel=channel,
            consent=consent,
        )
        return ClientRow(row=row.line, external_id=external_id, client=client)

    @staticmethod
    def _identity(row: _Row, external_id: str | None) -> None:
        if external_id or row.get("phone") or row.get("email"):
            if not (row.get("phone") or row.get("email")):
                row.warn("phone", "no phone or email: nothing can be sent to this client")
            return
        columns = "/".join(row.layout.column(f) for f in ("external_id", "phone", "email") if row.layout.has(f))
        row.errors.append(
            RowError(row.layout.file, row.line, columns, "no external id, phone or email (at least one is required)")
        )

    def _language(self, row: _Row) -> str:
        raw = row.get("language")
        if not raw:
            return self.language
        match = _LANGUAGE.fullmatch(raw)
        allowed = ", ".join(self.languages)
        if match is None:
            row.error("language", f"{raw!r} is not a language code (allowed: 2-letter codes such as {allowed})")
            return self.language
        code = match[1].lower()
        if code not in self.languages:
            row.warn("language", f"{raw!r} has no templates; using {self.language!r} (languages: {allowed})")
            return self.language
        return code


def _client_keys(item: ClientRow) -> list[Key]:
    client = item.client
    keys: list[Key] = [("external id", "external_id", client.external_id)] if item.external_id else []
    keys += [(name, name, value) for name, value in (("phone", client.phone), ("email", client.email)) if value]
    return keys


def read_clients(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    default_language: str = "en",
    languages: Sequence[str] = ("en",),
) -> ParseResult[ClientRow]:
    """Clients from ``path``; ``mapping`` maps field -> CSV column (others match by name)."""
    rules = _ClientRules(
        region=default_region,
        timezone=zone(default_timezone).key,
        language=default_language,
        languages=tuple(code.lower() for code in languages),
    )
    duplicates = _Duplicates[ClientRow](_client_keys, lambda item: item.client)
    return _parse_file(
        path,
        mapping=mapping,
        shown=shown,
        fields=CLIENT_FIELDS,
        required=_CLIENT_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
    )


# --------------------------------------------------------------------------- sessions

_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{7,}")


def _client_ref(raw: str, region: str) -> tuple[str, ClientRefKind]:
    if not raw:
        raise ValueError("is empty (the client's external id, phone or email is required)")
    if _PHONE_LIKE.fullmatch(raw):
        try:
            phone = _phone(raw, region)
        except ValueError:
            phone = None
        if phone:
            return phone, "phone"
    if "@" in raw:
        return _email(raw) or raw, "email"
    return raw, "external_id"


_STATUSES: dict[str, SessionStatus] = {
    **dict.fromkeys(("booked", "scheduled", "confirmed", "pending"), "booked"),
    **dict.fromkeys(("completed", "complete", "arrived", "checked out", "done", "attended"), "completed"),
    **dict.fromkeys(("cancelled", "canceled", "late cancel", "late cancelled", "late canceled"), "cancelled"),
    **dict.fromkeys(("no show", "noshow", "missed"), "no_show"),
}


def _status(raw: str) -> SessionStatus:
    if not raw:
        return "booked"
    status = _STATUSES.get(" ".join(re.sub(r"[-_]", " ", raw.casefold()).split()))
    if status is None:
        raise ValueError(
            f"{raw!r} is not a session status (allowed: booked, completed, cancelled, no_show; "
            "also scheduled, confirmed, done, checked out, canceled, late cancel, no-show, missed)"
        )
    return status


_BOOKED: SessionStatus = "booked"
_NO_REF: tuple[str, ClientRefKind] = ("", "external_id")

_DATES = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d")
_TIMES = ("%I:%M %p", "%I:%M:%S %p", "%I %p", "%H:%M", "%H:%M:%S")
_DATE_TIME_FORMATS = tuple(f"{d} {t}" for d in _DATES for t in _TIMES)
_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}")
_WHEN_EXAMPLES = (
    "dates are month/day/year or year-month-day; "
    "examples: 2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm"
)


def _tidy(raw: str) -> str:
    """``12/3/26, 3p.m.`` -> ``12/3/26 3 pm``: one space between parts, am/pm apart from the digits."""
    text = re.sub(r"(\d)\s*([ap])\.?\s*m\.?(?=\s|$)", r"\1 \2m", raw.replace(",", " "), flags=re.IGNORECASE)
    return " ".join(text.split())


def _strptime(text: str, formats: Sequence[str]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)  # naive on purpose: localised by the caller
        except ValueError:
            continue
    return None


def _when(raw: str) -> datetime:
    """A datetime as written: aware when it carries an offset, else naive wall time."""
    text = _tidy(raw)
    if _DATE_ONLY.fullmatch(text):
        raise ValueError(f"{raw!r} has no time of day ({_WHEN_EXAMPLES})")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    value = _strptime(text, _DATE_TIME_FORMATS)
    if value is None:
        raise ValueError(f"{raw!r} is not a date and time ({_WHEN_EXAMPLES})")
    return value


def _localise(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive wall time in ``tz`` (a time in a DST gap moves forward); aware times are converted to ``tz``."""
    if value.tzinfo is None:
        return local_datetime(value.date(), value.time(), tz)
    return value.astimezone(tz)


def _start_at(raw: str, tz: ZoneInfo) -> datetime:
    if not raw:
        raise ValueError(f"is empty (a start date and time is required; {_WHEN_EXAMPLES})")
    return _localise(_when(raw), tz)


def _end_at(raw: str, tz: ZoneInfo, day: date) -> datetime:
    """A full date and time, or just a time of day on ``day`` (the start's local date)."""
    wall = _strptime(_tidy(raw), _TIMES)
    if wall is not None:
        return local_datetime(day, wall.time(), tz)
    return _localise(_when(raw), tz)


def _duration(raw: str) -> timedelta | None:
    if not raw:
        return None
    minutes = re.fullmatch(r"(\d+)\s*(?:m|min|mins|minutes)?", raw.casefold())
    try:
        value = timedelta(minutes=int(minutes[1])) if minutes else parse_duration(raw.replace(" ", ""))
    except ValueError:
        value = timedelta(0)
    if value <= timedelta(0):
        raise ValueError(f"{raw!r} is not a duration (allowed: minutes such as 60 or 90 min, or 1h30m)")
    return value


def _elapsed(start: datetime, length: timedelta, tz: ZoneInfo) -> datetime:
    """``start`` + ``length`` of real time (across a DST change too), in ``tz``."""
    return (start.astimezone(UTC) + length).astimezone(tz)


def _focus_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold().replace("&", "and"))


@dataclass(frozen=True)
class _SessionRules:
    region: str
    timezone: str
    focus_areas: Mapping[str, str]  # id -> label
    client_timezones: Mapping[str, str]

    def build(self, row: _Row) -> SessionRow | None:
        external_id = row.get("external_id")
        if not external_id:
            row.error("external_id", "is empty (each session needs its own id)")
        ref, kind = row.parse("client", lambda raw: _client_ref(raw, self.region), _NO_REF)
        tz = row.parse("client", lambda _: self._client_zone(ref), zone(self.timezone))
        start = row.parse("start", lambda raw: _start_at(raw, tz), None)
        end = self._end(row, tz, start)
        status = row.parse("status", _status, _BOOKED)
        service = row.get("service")
        if not service:
            row.error("service", "is empty (the service is required, e.g. Neuromuscular therapy, 60 min)")
        focus = self._focus(row)
        if row.errors or start is None or end is None:
            return None
        session = Session(
            external_id=external_id,
            client_external_id=ref,
            start=start,
            end=end,
            service=service,
            therapist=row.get("therapist"),
            focus_areas=focus,
            status=status,
        )
        return SessionRow(row=row.line, session=session, client_ref_kind=kind)

    def _client_zone(self, ref: str) -> ZoneInfo:
        name = self.client_timezones.get(ref, self.timezone)
        try:
            return zone(name)
        except ValueError as exc:
            raise ValueError(f"the client's time zone: {exc}") from None

    def _end(self, row: _Row, tz: ZoneInfo, start: datetime | None) -> datetime | None:
        length = row.parse("duration", _duration, None)
        raw = row.get("end")
        if not raw:
            return None if start is None else _elapsed(start, length or _DEFAULT_SESSION, tz)
        day = start.astimezone(tz).date() if start is not None else date(2000, 1, 3)  # only to validate the cell
        end = row.parse("end", lambda text: _end_at(text, tz, day), None)
        if start is not None and end is not None and end < start:
            row.error("end", f"{raw!r} is before the start ({start:%Y-%m-%d %H:%M %Z}); the end must not be earlier")
        return end

    def _focus(self, row: _Row) -> tuple[str, ...]:
        items = [item.strip() for item in re.split(r"[;,|/]", row.get("focus")) if item.strip()]
        found: list[str] = []
        index = 0
        while index < len(items):
            after, area = self._match_focus(items, index)
            if area is None:
                row.warn("focus", f"{items[index]!r} is not a focus area; left out ({self._allowed_focus()})")
            elif area not in found:
                found.append(area)
            index = after
        return tuple(found)

    def _match_focus(self, items: Sequence[str], first: int) -> tuple[int, str | None]:
        """The longest run of items from ``first`` that names an area (labels may contain commas)."""
        known = {_focus_key(key): area for area, label in self.focus_areas.items() for key in (area, label)}
        for last in range(len(items), first, -1):
            area = known.get("".join(_focus_key(item) for item in items[first:last]))
            if area is not None:
                return last, area
        return first + 1, None

    def _allowed_focus(self) -> str:
        if not self.focus_areas:
            return "no focus areas are configured in tips.yaml"
        return "allowed: " + ", ".join(repr(label) for label in self.focus_areas.values())


def _session_keys(item: SessionRow) -> list[Key]:
    return [("external id", "external_id", item.session.external_id)]


def read_sessions(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    focus_areas: Mapping[str, str] = _NO_FOCUS_AREAS,
    client_timezones: Mapping[str, str] | None = None,
) -> ParseResult[SessionRow]:
    """Sessions from ``path``; naive times are in the client's zone (``client_timezones[ref]``, else the default)."""
    rules = _SessionRules(
        region=default_region,
        timezone=zone(default_timezone).key,
        focus_areas=focus_areas,
        client_timezones=client_timezones or {},
    )
    duplicates = _Duplicates[SessionRow](_session_keys, lambda item: item.session)
    return _parse_file(
        path,
        mapping=mapping,
        shown=shown,
        fields=SESSION_FIELDS,
        required=_SESSION_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
    )
