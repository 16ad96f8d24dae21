"""How ``schedule`` and ``simulate`` print times to the owner, and how a wall time that is not
one moment (the night the clocks change) is described."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from followup.cli.times import how_long, readable_reason, readable_time, table_time
from followup.timeutil import UTC, map_iso_times, wall_time_note, zone, zone_abbreviation

NEW_YORK = zone("America/New_York")
# 2026-11-01: the clocks go back at 2:00 EDT to 1:00 EST, so 1:30 happens twice.
FIRST_130 = datetime(2026, 11, 1, 5, 30, tzinfo=UTC).astimezone(NEW_YORK)  # 1:30 EDT
SECOND_130 = datetime(2026, 11, 1, 6, 30, tzinfo=UTC).astimezone(NEW_YORK)  # 1:30 EST


def test_the_two_130s_of_the_fall_back_night_read_apart() -> None:
    assert FIRST_130.replace(tzinfo=None) == SECOND_130.replace(tzinfo=None)  # the same wall time
    assert table_time(FIRST_130) == "2026-11-01 01:30 EDT"
    assert table_time(SECOND_130) == "2026-11-01 01:30 EST"
    assert readable_time(FIRST_130) == "Sun Nov 1, 1:30 AM EDT"
    assert readable_time(SECOND_130) == "Sun Nov 1, 1:30 AM EST"


@pytest.mark.parametrize(
    ("name", "moment", "label"),
    [
        ("America/Los_Angeles", datetime(2026, 12, 10, 20, 0, tzinfo=UTC), "PST"),
        ("America/Los_Angeles", datetime(2026, 7, 10, 20, 0, tzinfo=UTC), "PDT"),
        ("Europe/Madrid", datetime(2026, 7, 10, 20, 0, tzinfo=UTC), "CEST"),
        ("Asia/Tokyo", datetime(2026, 7, 10, 20, 0, tzinfo=UTC), "JST"),
        ("America/Sao_Paulo", datetime(2026, 7, 10, 20, 0, tzinfo=UTC), "UTC-3"),  # the tz database says -03
        ("Asia/Kathmandu", datetime(2026, 7, 10, 20, 0, tzinfo=UTC), "UTC+5:45"),
    ],
)
def test_every_zone_gets_a_short_label_for_the_moment(name: str, moment: datetime, label: str) -> None:
    assert zone_abbreviation(moment.astimezone(zone(name))) == label


def test_reasons_read_in_words_in_the_given_zone() -> None:
    assert readable_reason("deferred until 2026-12-03T13:00:00+00:00", NEW_YORK) == (
        "deferred until Thu Dec 3, 8:00 AM EST"
    )
    # Every time in the reason, Z and fractions too; the year only when it is not the one given.
    assert readable_reason("from 2027-01-02T17:00Z to 2027-01-02T18:30:00.5+00:00", NEW_YORK, 2026) == (
        "from Sat Jan 2, 2027, 12:00 PM EST to Sat Jan 2, 2027, 1:30 PM EST"
    )
    assert readable_reason("rebooked (session s-9)", NEW_YORK) == "rebooked (session s-9)"
    assert readable_reason(None, NEW_YORK) == ""
    assert map_iso_times("not a time: 2026-13-45T99:00+00:00", str) == "not a time: 2026-13-45T99:00+00:00"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=12, seconds=40), "12 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(days=2, hours=4, minutes=30), "2 d 4 h"),
        (timedelta(days=9), "9 d"),
    ],
)
def test_how_long_something_is_overdue(delta: timedelta, text: str) -> None:
    assert how_long(delta) == text


def test_a_wall_time_at_the_fall_back_hour_is_named_ambiguous() -> None:
    note = wall_time_note(datetime(2026, 11, 1, 1, 30), NEW_YORK)
    assert note == "ambiguous at the DST change; taken as EDT (the first 1:30 AM, not the second, EST)"
    # ...and that is the moment a plain localisation (fold=0, as the importer does) gives. (In
    # UTC: Python never finds an ambiguous time equal to one in another zone, PEP 495.)
    assert datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK).astimezone(UTC) == FIRST_130.astimezone(UTC)


def test_a_wall_time_in_the_spring_forward_gap_is_named_missing() -> None:
    note = wall_time_note(datetime(2026, 3, 8, 2, 30), NEW_YORK)
    assert note == "does not exist (the clocks skip it at the DST change); taken as 3:30 AM EDT"


@pytest.mark.parametrize(
    "wall",
    [
        datetime(2026, 11, 1, 0, 59),
        datetime(2026, 11, 1, 2, 0),  # the first 2:00 is never shown: 1:59 EDT is followed by 1:00 EST
        datetime(2026, 3, 8, 3, 0),
        datetime(2026, 7, 1, 1, 30),
        datetime(2026, 11, 1, 1, 30, tzinfo=UTC),  # aware: already one moment
    ],
)
def test_an_ordinary_wall_time_has_no_note(wall: datetime) -> None:
    assert wall_time_note(wall, NEW_YORK) is None
