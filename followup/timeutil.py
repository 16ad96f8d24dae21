"""Time-zone helpers.  Every datetime in followup is aware; naive ones are rejected early."""

from __future__ import annotations

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
