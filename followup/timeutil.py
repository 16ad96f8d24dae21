"""Time-zone helpers.  Every datetime in followup is aware; naive ones are rejected early."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {value.isoformat()}")
    return value


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a clear ValueError for a misspelt one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{name!r} is not an IANA time zone (examples: America/New_York, Europe/Madrid)") from None
