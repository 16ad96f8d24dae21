"""An appointments export -> :class:`SessionRow` records (pure: reads only the file it is given)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from followup.core.domain import Session, SessionStatus
from followup.intake.dates import duration_of, elapsed, end_at, start_at
from followup.intake.mapping import SESSION_FIELDS, SESSION_REQUIRED
from followup.intake.results import ClientRefKind, ParseResult, SessionRow
from followup.intake.rows import Duplicates, Key, Row, parse_file
from followup.intake.values import email_address, phone_e164
from followup.timeutil import zone

_NO_FOCUS_AREAS: Mapping[str, str] = MappingProxyType({})
_DEFAULT_SESSION = timedelta(minutes=60)


_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{7,}")


def client_ref(raw: str, region: str) -> tuple[str, ClientRefKind]:
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
    **dict.fromkeys(("booked", "scheduled", "confirmed", "pending"), "booked"),
    **dict.fromkeys(("completed", "complete", "arrived", "checked out", "done", "attended"), "completed"),
    **dict.fromkeys(("cancelled", "canceled", "late cancel", "late cancelled", "late canceled"), "cancelled"),
    **dict.fromkeys(("no show", "noshow", "missed"), "no_show"),
}


def session_status(raw: str) -> SessionStatus:
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


def focus_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold().replace("&", "and"))


@dataclass(frozen=True)
class _SessionRules:
    region: str
    timezone: str
    focus_areas: Mapping[str, str]  # id -> label
    client_timezones: Mapping[str, str]

    def build(self, row: Row) -> SessionRow | None:
        external_id = row.get("external_id")
        if not external_id:
            row.error("external_id", "is empty (each session needs its own id)")
        ref, kind = row.parse("client", lambda raw: client_ref(raw, self.region), _NO_REF)
        tz = row.parse("client", lambda _: self._client_zone(ref), zone(self.timezone))
        start = row.parse("start", lambda raw: start_at(raw, tz), None)
        end = self._end(row, tz, start)
        status = row.parse("status", session_status, _BOOKED)
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

    def _end(self, row: Row, tz: ZoneInfo, start: datetime | None) -> datetime | None:
        length = row.parse("duration", duration_of, None)
        raw = row.get("end")
        if not raw:
            return None if start is None else elapsed(start, length or _DEFAULT_SESSION, tz)
        day = start.astimezone(tz).date() if start is not None else date(2000, 1, 3)  # only to validate the cell
        end = row.parse("end", lambda text: end_at(text, tz, day), None)
        if start is not None and end is not None and end < start:
            row.error("end", f"{raw!r} is before the start ({start:%Y-%m-%d %H:%M %Z}); the end must not be earlier")
        return end

    def _focus(self, row: Row) -> tuple[str, ...]:
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
        known = {focus_key(key): area for area, label in self.focus_areas.items() for key in (area, label)}
        for last in range(len(items), first, -1):
            area = known.get("".join(focus_key(item) for item in items[first:last]))
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
    duplicates = Duplicates[SessionRow](_session_keys, lambda item: item.session)
    return parse_file(
        path,
        mapping=mapping,
        shown=shown,
        fields=SESSION_FIELDS,
        required=SESSION_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
    )
