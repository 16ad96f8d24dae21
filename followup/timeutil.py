"""Time-zone helpers.  Every datetime in followup is aware; naive ones are rejected early."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {value.isoformat()}")
    return value


def instant(value: datetime) -> datetime:
    """``value`` in UTC: the form to compare two aware datetimes in.  Python compares two
    datetimes that share a tzinfo object by wall time and ignores ``fold``, so in the hour a
    clock goes back 1:00 EST (the second 1:00) counts as before 1:30 EDT, which it follows
    (PEP 495, "Aware datetime comparison"); in UTC the order is the real one."""
    return value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a clear ValueError for a misspelt one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{name!r} is not an IANA time zone (examples: America/New_York, Europe/Madrid)") from None


_ABBREVIATION = re.compile(r"[A-Z]{2,5}")


def zone_abbreviation(moment: datetime) -> str:
    """The tz database's abbreviation for aware ``moment``: ``EDT`` or ``EST`` (so the two 1:30s
    of the night clocks go back read apart), ``PST``, ``CET``, ``JST``; ``UTC-3`` where the
    database has only a number (``-03``)."""
    abbreviation = require_aware(moment, "moment").strftime("%Z")
    if _ABBREVIATION.fullmatch(abbreviation):
        return abbreviation
    offset = moment.utcoffset()
    assert offset is not None  # aware, checked above
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def wall_time_note(wall: datetime, tz: ZoneInfo) -> str | None:
    """Why the naive wall time ``wall`` in ``tz`` is not exactly one moment, in the owner's
    words, or None when it is (any aware ``wall`` is).  At the fall-back hour a wall time
    happens twice and is taken as the first (``fold=0``, as :func:`instant` and the importer
    read it); in the spring-forward gap it never happens and is moved forward by the gap.
    For the importer to warn with (``FILE:ROW: start: ambiguous ...``)."""
    if wall.tzinfo is not None:
        return None
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after or before is None or after is None:
        return None
    shown = f"{wall.hour % 12 or 12}:{wall:%M} {'AM' if wall.hour < 12 else 'PM'}"
    if before > after:  # the clocks go back: this wall time happens twice
        return (
            f"ambiguous at the DST change; taken as {zone_abbreviation(first)} "
            f"(the first {shown}, not the second, {zone_abbreviation(second)})"
        )
    moved = first.astimezone(UTC).astimezone(tz)  # the clocks skip ahead: this wall time never happens
    return (
        f"does not exist (the clocks skip it at the DST change); taken as "
        f"{moved.hour % 12 or 12}:{moved:%M} {'AM' if moved.hour < 12 else 'PM'} {zone_abbreviation(moved)}"
    )


# An ISO 8601 time with an offset, as reasons write them ("not sent by 2026-12-01T12:00:00+00:00").
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)")


def map_iso_times(text: str, shown: Callable[[datetime], str]) -> str:
    """``text`` with every ISO 8601 time in it (with an offset) replaced by ``shown(time)``;
    a match that is no real time (month 13) is left as it is."""

    def one(match: re.Match[str]) -> str:
        try:
            moment = datetime.fromisoformat(match[0].replace("Z", "+00:00"))
        except ValueError:
            return match[0]
        return shown(moment)

    return ISO_TIME.sub(one, text)


class Clock(Protocol):
    """Where "now" comes from.  The pure core never asks: it is passed ``now``; the engine asks
    a Clock, which is :class:`followup.engine.worker.SystemClock` live and :class:`FixedClock`
    in ``simulate`` and tests."""

    def now(self) -> datetime: ...


class FixedClock:
    """A clock that moves only when told to (``simulate`` and tests)."""

    def __init__(self, now: datetime) -> None:
        self._now = require_aware(now, "now")

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = require_aware(now, "now")

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now
