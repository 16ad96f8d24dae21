"""Dates, times and durations as exports write them; naive wall times are localised by the caller's zone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.core.durations import local_datetime, parse_duration
from followup.timeutil import UTC

_DATES = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d")
TIMES = ("%I:%M %p", "%I:%M:%S %p", "%I %p", "%H:%M", "%H:%M:%S")
_DATE_TIME_FORMATS = tuple(f"{d} {t}" for d in _DATES for t in TIMES)
_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}")
WHEN_EXAMPLES = (
    "dates are month/day/year or year-month-day; "
    "examples: 2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm"
)


def tidy(raw: str) -> str:
    """``12/3/26, 3p.m.`` -> ``12/3/26 3 pm``: one space between parts, am/pm apart from the digits."""
    text = re.sub(r"(\d)\s*([ap])\.?\s*m\.?(?=\s|$)", r"\1 \2m", raw.replace(",", " "), flags=re.IGNORECASE)
    return " ".join(text.split())


def strptime_any(text: str, formats: Sequence[str]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)  # naive on purpose: localised by the caller
        except ValueError:
            continue
    return None


def parse_when(raw: str) -> datetime:
    """A datetime as written: aware when it carries an offset, else naive wall time."""
    text = tidy(raw)
    if _DATE_ONLY.fullmatch(text):
        raise ValueError(f"{raw!r} has no time of day ({WHEN_EXAMPLES})")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    value = strptime_any(text, _DATE_TIME_FORMATS)
    if value is None:
        raise ValueError(f"{raw!r} is not a date and time ({WHEN_EXAMPLES})")
    return value


def localise(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive wall time in ``tz`` (a time in a DST gap moves forward); aware times are converted to ``tz``."""
    if value.tzinfo is None:
        return local_datetime(value.date(), value.time(), tz)
    return value.astimezone(tz)


def start_at(raw: str, tz: ZoneInfo) -> datetime:
    if not raw:
        raise ValueError(f"is empty (a start date and time is required; {WHEN_EXAMPLES})")
    return localise(parse_when(raw), tz)


def end_at(raw: str, tz: ZoneInfo, day: date) -> datetime:
    """A full date and time, or just a time of day on ``day`` (the start's local date)."""
    wall = strptime_any(tidy(raw), TIMES)
    if wall is not None:
        return local_datetime(day, wall.time(), tz)
    return localise(parse_when(raw), tz)


def duration_of(raw: str) -> timedelta | None:
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


def elapsed(start: datetime, length: timedelta, tz: ZoneInfo) -> datetime:
    """``start`` + ``length`` of real time (across a DST change too), in ``tz``."""
    return (start.astimezone(UTC) + length).astimezone(tz)
