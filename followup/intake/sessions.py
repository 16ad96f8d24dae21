"""An appointments export -> :class:`SessionRow` records (pure: reads only the file it is given)."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from followup.core.domain import Session, SessionStatus
from followup.intake.dates import duration_of, elapsed, end_at, join_date_time, parse_date, start_at
from followup.intake.mapping import SESSION_ALIASES, SESSION_FIELDS, SESSION_REQUIRED
from followup.intake.presets import Preset, detect
from followup.intake.results import ClientRefKind, ParseResult, SessionRow
from followup.intake.rows import Deferred, Duplicates, Key, Row, RowStream, open_rows, remembered
from followup.intake.values import email_address, phone_e164
from followup.timeutil import UTC, instant, zone

_NO_FOCUS_AREAS: Mapping[str, str] = MappingProxyType({})
_DEFAULT_SESSION = timedelta(minutes=60)


_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{7,}")


def client_ref(raw: str, region: str) -> tuple[str, ClientRefKind]:
    """``raw`` as the reference it is: a phone (E.164), an email (normalised) or an external id.

    Raises ValueError when empty or when it is an email that does not read."""
    if not raw:
        raise ValueError("is empty (the client's external id, phone or email is required)")
    if _PHONE_LIKE.fullmatch(raw):
        try:
            phone = phone_e164(raw, region)
        except ValueError:
            phone = None
        if phone:
            return phone, "phone"
    if "@" in raw:
        return email_address(raw) or raw, "email"
    return raw, "external_id"


_STATUSES: dict[str, SessionStatus] = {
    **dict.fromkeys(
        ("booked", "scheduled", "confirmed", "pending", "accepted", "unconfirmed", "requested", "booked online"),
        "booked",
    ),
    **dict.fromkeys(
        ("completed", "complete", "arrived", "checked out", "checked in", "done", "attended", "show", "showed"),
        "completed",
    ),
    **dict.fromkeys(
        ("cancelled", "canceled", "late cancel", "late cancelled", "late canceled", "declined", "rescheduled"),
        "cancelled",
    ),
    **dict.fromkeys(("no show", "noshow", "missed", "did not show"), "no_show"),
}


def _status_key(raw: str) -> str:
    return " ".join(re.sub(r"(?<=[a-z])(?=[A-Z])|[-_]", " ", raw).casefold().split())


def session_status(raw: str, extra: Mapping[str, str] | None = None) -> SessionStatus:
    """A status as the export writes it; ``extra`` is a preset's own words (Jane's "Arrived"...)."""
    return status_words(extra)(raw)


def status_words(extra: Mapping[str, str] | None = None) -> Callable[[str], SessionStatus]:
    """:func:`session_status` with ``extra`` read once: a function of the cell, which remembers
    the statuses it has read (a file has a handful).  Raises ValueError as it does."""
    own: dict[str, SessionStatus] = {}
    for word, meaning in (extra or {}).items():
        if meaning in ("booked", "completed", "cancelled", "no_show"):
            own.setdefault(_status_key(word), meaning)  # type: ignore[arg-type]  # the first word wins, as before

    def status(raw: str) -> SessionStatus:
        if not raw:
            return "booked"
        key = _status_key(raw)
        return own[key] if key in own else _known_status(raw, key)

    return remembered(status, 256)


def _known_status(raw: str, key: str) -> SessionStatus:
    status = _STATUSES.get(key)
    if status is None and key.startswith(("cancel", "late cancel")):
        status = "cancelled"  # "Cancelled by customer", "Canceled by seller", "cancelled_by_buyer"
    if status is None and key.replace(" ", "") in ("noshow", "noshowed", "noshowup"):
        status = "no_show"
    if status is None:
        raise ValueError(
            f"{raw!r} is not a session status (allowed: booked, completed, cancelled, no_show; "
            "also scheduled, confirmed, accepted, pending, arrived, done, checked out, canceled, "
            "cancelled by customer, late cancel, no-show, missed)"
        )
    return status


_BOOKED: SessionStatus = "booked"
_NO_REF: tuple[str, ClientRefKind] = ("", "external_id")


def focus_key(text: str) -> str:
    """Case, accents and punctuation aside: ``Mandíbula y cabeza`` is ``mandibulaycabeza``."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", bare.casefold().replace("&", "and"))


class _SessionRules:
    """How a row of this file is read: the clinic's region and zone, its focus areas and the
    preset's status words.  The word lists are indexed once, and the focus and status cells
    (a file repeats a few dozen of them) are read once each."""

    def __init__(
        self,
        region: str,
        timezone: str,
        focus_areas: Mapping[str, str],  # id -> label
        focus_names: Mapping[str, str] | None = None,  # label in any language -> id
        status_values: Mapping[str, str] | None = None,
    ) -> None:
        self.region = region
        self.timezone = timezone
        self.tz = zone(timezone)  # times without an offset are the clinic's (the booking system's) time
        self.focus_areas = focus_areas
        known = focus_index(focus_areas, focus_names)
        self._focus_of = functools.lru_cache(maxsize=1024)(lambda text: _match_known(text, known))
        self._status_of = status_words(status_values)
        self._client_of = remembered(lambda raw: client_ref(raw, region))  # repeats on each visit

    def build(self, row: Row) -> SessionRow | None:
        ref, kind = row.parse("client", self._client_of, _NO_REF)
        tz = self.tz
        start = self._start(row, tz)
        end = self._end(row, tz, start)
        status = row.parse("status", self._status_of, _BOOKED)
        service = row.get("service")
        if not service:
            row.error("service", "is empty (the service is required, e.g. Neuromuscular therapy, 60 min)")
        focus = self._focus(row)
        external_id = row.get("external_id")
        if not external_id and row.layout.has("external_id"):
            row.error("external_id", "is empty (each session needs its own id)")
        if row.errors or start is None or end is None:
            return None
        if not external_id:
            external_id = made_session_id(ref, start, service)
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
        return SessionRow(row=row.line, session=session, client_ref_kind=kind, client_name=row.get("client_name"))

    def _start(self, row: Row, tz: ZoneInfo) -> datetime | None:
        if row.get("start") or not (row.layout.has("start_date") or row.layout.has("start_time")):
            return row.parse("start", lambda raw: start_at(raw, tz), None)
        if row.layout.has("start_date"):
            # Blame the cell that is wrong: the date column, else the time column.
            day = row.parse("start_date", parse_date, None)
            if day is None:
                return None
            text = row.parse("start_time", lambda raw: join_date_time(day.isoformat(), raw), None)
            return None if text is None else start_at(text, tz)
        # a lone "Start Time" column holding the whole date and time (Acuity writes it so)
        return row.parse("start_time", lambda raw: start_at(raw, tz), None)

    def _end(self, row: Row, tz: ZoneInfo, start: datetime | None) -> datetime | None:
        try:
            length = duration_of(row.get("duration"))
        except ValueError as exc:
            row.warn("duration", f"{exc}; using {int(_DEFAULT_SESSION.total_seconds() // 60)} minutes")
            length = None
        raw = row.get("end")
        field = "end"
        if not raw and row.get("end_time"):
            field = "end_time"
            raw = row.get("end_time")
            if row.get("end_date"):
                joined = row.parse("end_date", lambda _: join_date_time(row.get("end_date"), row.get("end_time")), None)
                if joined is None:
                    return None
                raw = joined
        if not raw:
            return None if start is None else elapsed(start, length or _DEFAULT_SESSION, tz)
        day = start.astimezone(tz).date() if start is not None else date(2000, 1, 3)  # only to validate the cell
        text = raw
        end = row.parse(field, lambda _: end_at(text, tz, day), None)
        if start is not None and end is not None and instant(end) < instant(start):
            row.error(field, f"{raw!r} is before the start ({start:%Y-%m-%d %H:%M %Z}); the end must not be earlier")
        return end

    def _focus(self, row: Row) -> tuple[str, ...]:
        found, unknown = self._focus_of(row.get("focus"))
        for item in unknown:
            row.warn("focus", f"{item!r} is not a focus area; left out ({allowed_focus(self.focus_areas)})")
        return found


def match_focus(
    text: str, focus_areas: Mapping[str, str], focus_names: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], list[str]]:
    """``"Neck & shoulders; lower-back"`` -> (("neck_shoulders", "lower_back"), []) and the items that
    name no area.  Ids and labels both match, ignoring case, accents and punctuation; labels may
    contain commas.  ``focus_names`` adds labels in other languages (``Cuello y hombros``)."""
    found, unknown = _match_known(text, focus_index(focus_areas, focus_names))
    return found, list(unknown)


def focus_index(focus_areas: Mapping[str, str], focus_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`focus_key` of every id, label and other-language name -> the area's id (an id or
    label of ``focus_areas`` wins over a name of ``focus_names`` with the same key)."""
    known = {focus_key(name): area for name, area in (focus_names or {}).items() if area in focus_areas}
    known |= {focus_key(key): area for area, label in focus_areas.items() for key in (area, label)}
    return known


def _match_known(text: str, known: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """:func:`match_focus` against an index made by :func:`focus_index` (items that name no area
    as a tuple: the result may be remembered and shared)."""
    items = [item.strip() for item in re.split(r"[;,|/]", text) if item.strip()]
    keys = [focus_key(item) for item in items]
    found: list[str] = []
    unknown: list[str] = []
    index = 0
    while index < len(items):
        after, area = index + 1, None
        for last in range(len(items), index, -1):  # the longest run of items that names an area
            area = known.get("".join(keys[index:last]))
            if area is not None:
                after = last
                break
        if area is None:
            unknown.append(items[index])
        elif area not in found:
            found.append(area)
        index = after
    return tuple(found), tuple(unknown)


def allowed_focus(focus_areas: Mapping[str, str]) -> str:
    if not focus_areas:
        return "no focus areas are configured in tips.yaml"
    return "allowed: " + ", ".join(repr(label) for label in focus_areas.values())


def made_session_id(client: str, start: datetime, service: str) -> str:
    """A stable id for an appointment the export gives none for: the same client, start and
    service are the same appointment on every re-import."""
    basis = f"{client}|{start.astimezone(UTC).isoformat()}|{' '.join(service.casefold().split())}"
    return "auto-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def _session_keys(item: SessionRow) -> list[Key]:
    return [("external id", "external_id", item.session.external_id)]


def stream_sessions(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    focus_areas: Mapping[str, str] = _NO_FOCUS_AREAS,
    focus_names: Mapping[str, str] | None = None,
    client_timezones: Mapping[str, str] | None = None,
    preset: Preset | None = None,
    presets: Sequence[Preset] = (),
) -> RowStream[SessionRow]:
    """Sessions from ``path``.

    Times without an offset are the clinic's (``default_timezone``): a booking system
    exports the time on its calendar, whatever zone the client lives in.
    ``client_timezones`` is no longer read (kept so older callers still work).  ``preset``
    / ``presets`` work as in :func:`followup.intake.clients.read_clients`.
    """
    del client_timezones
    chosen: list[Preset] = [preset] if preset is not None else []

    def _detect(header: Sequence[str]) -> tuple[str, Mapping[str, str]] | None:
        found = detect(header, "sessions", presets)
        if found is None:
            return None
        chosen.append(found)
        return found.label, found.mapping("sessions")

    start_mapping = {**(preset.mapping("sessions") if preset else {}), **(mapping or {})}
    rules = Deferred[SessionRow](
        lambda: (
            _SessionRules(
                region=default_region,
                timezone=zone(default_timezone).key,
                focus_areas=focus_areas,
                focus_names=focus_names or {},
                status_values=chosen[0].status_values if chosen else {},
            ).build
        )
    )
    duplicates = Duplicates[SessionRow](_session_keys, lambda item: item.session)
    return open_rows(
        path,
        mapping=start_mapping,
        shown=shown,
        fields=SESSION_FIELDS,
        required=SESSION_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
        aliases=SESSION_ALIASES,
        detect_preset=_detect if preset is None else None,
    )


def read_sessions(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    focus_areas: Mapping[str, str] = _NO_FOCUS_AREAS,
    focus_names: Mapping[str, str] | None = None,
    client_timezones: Mapping[str, str] | None = None,
    preset: Preset | None = None,
    presets: Sequence[Preset] = (),
) -> ParseResult[SessionRow]:
    """:func:`stream_sessions` read whole into memory (small files: tests, the sample data, simulate)."""
    return stream_sessions(
        path,
        mapping,
        shown=shown,
        default_region=default_region,
        default_timezone=default_timezone,
        focus_areas=focus_areas,
        focus_names=focus_names,
        client_timezones=client_timezones,
        preset=preset,
        presets=presets,
    ).collect()
