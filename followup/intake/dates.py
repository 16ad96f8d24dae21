"""Dates, times and durations as exports write them; naive wall times are localised by the caller's zone."""

from __future__ import annotations

import functools
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


# Values repeat a lot in an export (a clinic's hours, a day's visits): each parser below
# remembers the last few thousand texts it read, and what it made of them (a value, or the
# ValueError's message).  Results are immutable (dates, datetimes, strings), so sharing is safe.
_REMEMBERED = 4096


def tidy(raw: str) -> str:
    """``12/3/26, 3p.m.`` -> ``12/3/26 3 pm``: one space between parts, am/pm apart from the digits."""
    text = _AM_PM.sub(r"\1 \2m", raw.replace(",", " "))
    return " ".join(text.split())


_AM_PM = re.compile(r"(\d)\s*([ap])\.?\s*m\.?(?=\s|$)", re.IGNORECASE)


@functools.lru_cache(maxsize=_REMEMBERED)
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


@functools.lru_cache(maxsize=_REMEMBERED)
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


# What each strptime directive the formats above use can match, or more (never less): a text
# that does not fit a format's shape can't be read by it, so strptime need not be tried (each
# try that fails raises, and CPython keeps only 5 compiled formats: with the 83 here every
# call compiled its regex again, 40 us a try).  Names (%B, %a, %p) are any text, whatever
# the locale; whitespace in a format matches any run of whitespace, as in strptime.
_DIRECTIVE_SHAPES = {
    "d": r"(?:\d\d?| \d)",
    "m": r"\d\d?",
    "I": r"\d\d?",
    "H": r"\d\d?",
    "M": r"\d\d?",
    "S": r"\d\d?",
    "y": r"\d\d",
    "Y": r"\d\d\d\d",
    "p": r".*?",
    "B": r".*?",
    "b": r".*?",
    "A": r".*?",
    "a": r".*?",
}


@functools.cache
def format_shape(fmt: str) -> re.Pattern[str] | None:
    """A pattern that fully matches every text ``datetime.strptime(text, fmt)`` accepts (and
    others: it only rules texts out); None when ``fmt`` has a directive not listed above."""
    parts: list[str] = []
    for literal, directive in re.findall(r"([^%]*)(?:%(.)|$)", fmt):
        parts += [r"\s+" if piece.isspace() else re.escape(piece) for piece in re.split(r"(\s+)", literal) if piece]
        if directive:
            shape = _DIRECTIVE_SHAPES.get(directive)
            if shape is None:
                return None
            parts.append(shape)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def strptime_any(text: str, formats: Sequence[str]) -> datetime | None:
    """The first of ``formats`` (in order) that reads ``text``, as a naive datetime; None when none does."""
    for fmt in formats:
        shape = format_shape(fmt)
        if shape is not None and shape.fullmatch(text) is None:
            continue  # this format can't read it: spare strptime the failure
        try:
            return datetime.strptime(text, fmt)  # naive on purpose: localised by the caller
        except ValueError:
            continue
    return None


def parse_when(raw: str) -> datetime:
    """A datetime as written: aware when it carries an offset, else naive wall time."""
    found = _when(raw)
    if isinstance(found, str):
        raise ValueError(found)
    return found


@functools.lru_cache(maxsize=_REMEMBERED)
def _when(raw: str) -> datetime | str:
    """:func:`parse_when`'s datetime, or the message of its ValueError (remembered either way)."""
    text = tidy(raw)
    if parse_date_only(text) is not None:
        return f"{raw!r} has no time of day ({WHEN_EXAMPLES})"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    value = strptime_any(text, _DATE_TIME_FORMATS)
    if value is None:
        return f"{raw!r} is not a date and time ({WHEN_EXAMPLES})"
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
    wall = parse_time_of_day(raw)
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
    found = _duration(raw)
    if isinstance(found, str):
        raise ValueError(found)
    return found


@functools.lru_cache(maxsize=_REMEMBERED)
def _duration(raw: str) -> timedelta | str:
    """:func:`duration_of` of a non-empty cell, or the message of its ValueError."""
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
        return f"{raw!r} is not a session length (allowed: 60, 90 min, 1h 30m, 1 hr 30 min, 1.5 hours)"
    return value


def elapsed(start: datetime, length: timedelta, tz: ZoneInfo) -> datetime:
    """``start`` + ``length`` of real time (across a DST change too), in ``tz``."""
    return (start.astimezone(UTC) + length).astimezone(tz)
