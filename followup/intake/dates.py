"""Dates, times and durations as exports write them; naive wall times are localised by the caller's zone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.core.durations import local_datetime
from followup.timeutil import UTC

# US exports write month/day/year; ISO is year-month-day; long forms spell the month
# ("December 5, 2026", "Sat, Dec 5, 2026").  Day/month/year is not guessed: 03/12 is March 12.
_DATES = (
    "%m/%d/%Y",
    "%m/%d/%y",
    "%m-%d-%Y",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%A %B %d %Y",
    "%a %b %d %Y",
    "%A %b %d %Y",
    "%a %B %d %Y",
)
TIMES = ("%I:%M %p", "%I:%M:%S %p", "%I %p", "%H:%M", "%H:%M:%S")
_DATE_TIME_FORMATS = tuple(f"{d} {t}" for d in _DATES for t in TIMES)
WHEN_EXAMPLES = (
    "dates are month/day/year, year-month-day or spelled out; "
    "examples: 2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm, "
    "December 3, 2026 3:00 pm"
)


def tidy(raw: str) -> str:
    """``12/3/26, 3p.m.`` -> ``12/3/26 3 pm``: one space between parts, am/pm apart from the digits."""
    text = re.sub(r"(\d)\s*([ap])\.?\s*m\.?(?=\s|$)", r"\1 \2m", raw.replace(",", " "), flags=re.IGNORECASE)
    return " ".join(text.split())


def parse_date_only(raw: str) -> date | None:
    """A date as written (no time of day), or None when ``raw`` is not one."""
    text = tidy(raw)
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    value = strptime_any(text, _DATES)
    return None if value is None else value.date()


def parse_date(raw: str) -> date:
    """A date column's value; a datetime there counts for its date (``12/05/2026 12:00 AM``)."""
    found = parse_date_only(raw)
    if found is not None:
        return found
    try:
        return parse_when(raw).date()
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (month/day/year, year-month-day or December 5, 2026)") from None


def parse_time_of_day(raw: str) -> datetime | None:
    """``2:30 PM``, ``2:30pm``, ``14:30`` -> a naive datetime carrying the time; None when not a time."""
    return strptime_any(tidy(raw), TIMES)


def join_date_time(date_text: str, time_text: str) -> str:
    """A start given as a date column and a time column, as one text the datetime parser reads."""
    if not time_text:
        raise ValueError(f"{date_text!r} has no time of day: the time column is empty")
    wall = parse_time_of_day(time_text)
    if wall is None:
        raise ValueError(f"{time_text!r} is not a time of day (e.g. 2:30 PM, 14:30)")
    return f"{parse_date(date_text).isoformat()} {wall:%H:%M:%S}"


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
    if parse_date_only(text) is not None:
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


_HOURS = re.compile(r"\s*(?:hours?|hrs?|h)\b\.?", re.IGNORECASE)
_MINUTES = re.compile(r"\s*(?:minutes?|mins?|m)\b\.?", re.IGNORECASE)


def duration_of(raw: str) -> timedelta | None:
    """``60``, ``60 min``, ``1h 30m``, ``1 hr 30 mins``, ``1.5 hours``, ``90 minutes`` -> a timedelta;
    None when empty; ValueError naming the value otherwise."""
    if not raw:
        return None
    text = raw.strip().casefold()
    value = timedelta(0)
    plain = re.fullmatch(r"(\d+(?:\.\d+)?)", text)
    if plain:
        value = timedelta(minutes=float(plain[1]))
    else:
        units = _MINUTES.sub("m", _HOURS.sub("h", text)).replace(" ", "").replace(",", "")
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+)m)?", units)
        if parts and (parts[1] or parts[2]):
            value = timedelta(hours=float(parts[1] or 0), minutes=int(parts[2] or 0))
    if value <= timedelta(0) or value > timedelta(hours=12):
        raise ValueError(f"{raw!r} is not a session length (allowed: 60, 90 min, 1h 30m, 1 hr 30 min, 1.5 hours)")
    return value


def elapsed(start: datetime, length: timedelta, tz: ZoneInfo) -> datetime:
    """``start`` + ``length`` of real time (across a DST change too), in ``tz``."""
    return (start.astimezone(UTC) + length).astimezone(tz)
