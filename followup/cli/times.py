"""How the owner's tables (``schedule``, ``simulate``) print times.

Every time names its zone with the tz database's abbreviation for that moment (``EST`` or
``EDT``, not the generic ``ET`` that messages use): at the night the clocks go back, 1:30 EDT
and 1:30 EST are an hour apart and a table must tell them apart.  Times inside a reason
("not sent by ...") are written the way a person reads them, with Babel's English
(``Thu Dec 3, 8:00 AM EST``); the JSON keeps ISO 8601 for programs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from followup.rendering.context import local_short_date, local_time
from followup.timeutil import map_iso_times, zone_abbreviation


def table_time(moment: datetime) -> str:
    """``2026-12-10 15:00 EST``: the wall time in ``moment``'s zone and its abbreviation then."""
    return f"{moment:%Y-%m-%d %H:%M} {zone_abbreviation(moment)}"


def readable_time(moment: datetime, year: int | None = None) -> str:
    """``Thu Dec 3, 8:00 AM EST`` (with ``, 2027`` after the day when not in ``year``)."""
    day = local_short_date(moment, "en")
    if year is not None and moment.year != year:
        day += f", {moment.year}"
    return f"{moment:%a} {day}, {local_time(moment, 'en')} {zone_abbreviation(moment)}"


def readable_reason(reason: str | None, tz: tzinfo, year: int | None = None) -> str:
    """``reason`` with every ISO time in it (the dispatcher writes UTC) as :func:`readable_time`
    in ``tz``: ``not sent by 2026-12-03T13:00:00+00:00`` -> ``not sent by Thu Dec 3, 8:00 AM EST``."""
    if not reason:
        return ""
    return map_iso_times(reason, lambda moment: readable_time(moment.astimezone(tz), year))


def how_long(delta: timedelta) -> str:
    """``12 min``, ``3 h 5 min``, ``2 d 4 h``: a duration as the owner reads it (rounded down)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
