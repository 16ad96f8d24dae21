"""Offsets and durations as the owner writes them: ``2h``, ``1d``, ``3d at 10:00``, ``-24h``.

Days are calendar days in the client's time zone (``1d`` after a 3 pm session is
3 pm the next day, even across a DST change); hours and minutes are elapsed time.
``at HH:MM`` pins the wall-clock time on the resulting day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.timeutil import require_aware

DURATION_EXAMPLES = "2h, 30m, 1d, 1w, 1d12h, -24h"
OFFSET_EXAMPLES = "2h, 1d, 3d at 10:00, -24h, -1d at 18:00"

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
_PART = re.compile(r"(\d+)\s*([wdhm])")
_WHOLE = re.compile(
    r"^\s*(?P<sign>[-+]?)\s*(?P<parts>(?:\d+\s*[wdhm]\s*)+?)\s*(?:at\s+(?P<at>\d{1,2}:\d{2}))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Offset:
    """A signed offset: ``days`` calendar days, then ``seconds`` elapsed, or a wall time ``at``."""

    days: int = 0
    seconds: int = 0
    at: time | None = None
    text: str = ""

    @property
    def is_negative(self) -> bool:
        return self.days < 0 or self.seconds < 0

    def approx(self) -> timedelta:
        """Length ignoring DST and ``at`` (for ordering and sanity checks)."""
        return timedelta(days=self.days, seconds=self.seconds)

    def __str__(self) -> str:
        return self.text

    def apply(self, anchor: datetime, tz: ZoneInfo) -> datetime:
        """The instant ``anchor`` + this offset, computed in ``tz``; returned in ``tz``."""
        require_aware(anchor, "anchor")
        local = anchor.astimezone(tz)
        if self.days or self.at is not None:
            day = local.date() + timedelta(days=self.days)
            wall = self.at if self.at is not None else local.time().replace(tzinfo=None)
            local = local_datetime(day, wall, tz)
        if self.seconds:
            local = (local.astimezone(ZoneInfo("UTC")) + timedelta(seconds=self.seconds)).astimezone(tz)
        return local


def local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """``day`` at ``wall`` in ``tz``; a time inside a DST gap moves forward by the gap."""
    naive = datetime.combine(day, wall)
    candidate = naive.replace(tzinfo=tz)
    # Round-trip through UTC: a nonexistent wall time (spring forward) comes back shifted.
    return candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)


def _parse(text: str, *, allow_at: bool) -> Offset:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration")
    match = _WHOLE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration")
    total_days = 0
    total_seconds = 0
    for amount, unit in _PART.findall(match["parts"].lower()):
        if unit in ("w", "d"):
            total_days += int(amount) * _UNIT_SECONDS[unit] // 86400
        else:
            total_seconds += int(amount) * _UNIT_SECONDS[unit]
    at_time: time | None = None
    if match["at"]:
        if not allow_at:
            raise ValueError(f"{text!r}: 'at HH:MM' is only allowed on step offsets")
        hours, minutes = (int(p) for p in match["at"].split(":"))
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text!r}: {match['at']} is not a time of day (00:00-23:59)")
        if total_seconds:
            raise ValueError(f"{text!r}: 'at HH:MM' goes with whole days only (e.g. 3d at 10:00)")
        at_time = time(hours, minutes)
    sign = -1 if match["sign"] == "-" else 1
    return Offset(days=sign * total_days, seconds=sign * total_seconds, at=at_time, text=text.strip())


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=30)`` -> ``1d6h``: the owner's own notation."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return sign + ("".join(parts) or "0m")


def parse_offset(text: str) -> Offset:
    try:
        return _parse(text, allow_at=True)
    except ValueError as exc:
        raise ValueError(f"{exc} (examples: {OFFSET_EXAMPLES})") from None


def parse_duration(text: str) -> timedelta:
    """A positive elapsed duration (expiry, intervals); no ``at``, no sign."""
    try:
        offset = _parse(text, allow_at=False)
    except ValueError as exc:
        raise ValueError(f"{exc} (examples: {DURATION_EXAMPLES})") from None
    if offset.is_negative or not (offset.days or offset.seconds):
        raise ValueError(f"{text!r} must be a positive duration (examples: {DURATION_EXAMPLES})")
    return offset.approx()
