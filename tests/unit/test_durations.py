from datetime import UTC, datetime, time, timedelta

import pytest

from followup.core.durations import Offset, format_duration, parse_duration, parse_offset
from followup.timeutil import zone

NY = zone("America/New_York")


@pytest.mark.parametrize(
    ("text", "days", "seconds", "at"),
    [
        ("2h", 0, 7200, None),
        ("30m", 0, 1800, None),
        ("1d", 1, 0, None),
        ("1w", 7, 0, None),
        ("1d12h", 1, 43200, None),
        ("1d 12h", 1, 43200, None),
        ("-24h", 0, -86400, None),
        ("3d at 10:00", 3, 0, time(10, 0)),
        ("-1d at 18:00", -1, 0, time(18, 0)),
        ("0d at 9:30", 0, 0, time(9, 30)),
        (" 2H ", 0, 7200, None),
    ],
)
def test_offsets_parse(text: str, days: int, seconds: int, at: time | None) -> None:
    offset = parse_offset(text)
    assert (offset.days, offset.seconds, offset.at) == (days, seconds, at)


@pytest.mark.parametrize("text", ["3 dayz", "", "at 10:00", "2x", "1d at 25:00", "2h at 10:00", "1.5h", "d"])
def test_bad_offsets_name_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"examples: 2h, 1d, 3d at 10:00"):
        parse_offset(text)


def test_duration_rejects_at_sign_and_zero() -> None:
    assert parse_duration("6h") == timedelta(hours=6)
    for bad in ("1d at 10:00", "-2h", "0h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_days_are_calendar_days_across_spring_forward() -> None:
    # 2026-03-08 02:00 America/New_York springs forward; 1d after Saturday 15:00 is Sunday 15:00.
    anchor = datetime(2026, 3, 7, 15, 0, tzinfo=NY)
    result = parse_offset("1d").apply(anchor, NY)
    assert result.replace(tzinfo=None) == datetime(2026, 3, 8, 15, 0)
    assert result.astimezone(UTC) - anchor.astimezone(UTC) == timedelta(hours=23)


def test_hours_are_elapsed_time_across_fall_back() -> None:
    # 2026-11-01 02:00 falls back to 01:00: 2h after 00:30 EDT is 01:30 EST.
    anchor = datetime(2026, 11, 1, 0, 30, tzinfo=NY)
    result = parse_offset("2h").apply(anchor, NY)
    assert result.astimezone(UTC) - anchor.astimezone(UTC) == timedelta(hours=2)
    assert result.utcoffset() == timedelta(hours=-5)


def test_at_pins_local_wall_time_in_client_zone() -> None:
    anchor = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)  # 16:00 in New York
    result = parse_offset("3d at 10:00").apply(anchor, NY)
    assert result == datetime(2026, 12, 6, 10, 0, tzinfo=NY)


def test_at_inside_dst_gap_moves_forward() -> None:
    anchor = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    result = Offset(days=1, at=time(2, 30)).apply(anchor, NY)
    assert result.replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_negative_offsets_count_back() -> None:
    start = datetime(2026, 12, 10, 15, 0, tzinfo=NY)
    assert parse_offset("-24h").apply(start, NY) == datetime(2026, 12, 9, 15, 0, tzinfo=NY)
    assert parse_offset("-1d at 18:00").apply(start, NY) == datetime(2026, 12, 9, 18, 0, tzinfo=NY)


def test_format_duration_round_trips() -> None:
    for text in ("2h", "1d6h", "30m", "7d"):
        assert format_duration(parse_duration(text)) == text


def test_naive_anchor_rejected() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        parse_offset("2h").apply(datetime(2026, 1, 1, 12, 0), NY)


def test_weeks_and_days_add_up() -> None:
    # "1w 3d" is ten calendar days, not three.
    offset = parse_offset("1w 3d at 10:00")
    assert offset.days == 10
    anchor = datetime(2026, 12, 3, 16, 0, tzinfo=NY)
    assert offset.apply(anchor, NY) == datetime(2026, 12, 13, 10, 0, tzinfo=NY)
    assert parse_duration("1w2d") == timedelta(days=9)


@pytest.mark.parametrize(("text", "at"), [("1d at 23:59", time(23, 59)), ("0d at 23:30", time(23, 30))])
def test_latest_times_of_day_are_accepted(text: str, at: time) -> None:
    assert parse_offset(text).at == at


@pytest.mark.parametrize(("text", "bad_time"), [("1d at 24:00", "24:00"), ("1d at 10:60", "10:60")])
def test_impossible_time_of_day_names_the_time_and_the_range(text: str, bad_time: str) -> None:
    with pytest.raises(ValueError, match=r"examples: 2h, 1d") as error:
        parse_offset(text)
    assert bad_time in str(error.value) and "00:00-23:59" in str(error.value)


def test_at_with_hours_names_the_offending_offset() -> None:
    with pytest.raises(ValueError, match=r"examples: 2h, 1d") as error:
        parse_offset("2h at 10:00")
    assert "'2h at 10:00'" in str(error.value)


def test_offset_that_is_not_text_names_the_value() -> None:
    # YAML reads `offset: 48` (the owner forgot the unit) as a number.
    with pytest.raises(ValueError, match=r"examples: 2h, 1d") as error:
        parse_offset(48)  # type: ignore[arg-type]
    assert "48" in str(error.value)


@pytest.mark.parametrize("text", ["1d at 10:00", "soon", "0h"])
def test_bad_durations_name_the_value_and_duration_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"examples: 2h, 30m, 1d") as error:
        parse_duration(text)
    assert repr(text) in str(error.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0m"),
        (timedelta(hours=-24), "-1d"),
        (timedelta(minutes=-90), "-1h30m"),
        (timedelta(hours=22), "22h"),
    ],
)
def test_format_duration_writes_signed_owner_notation(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
