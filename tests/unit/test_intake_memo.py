"""What makes intake fast must not change what it reads: format shapes, remembered cells and
the focus index give exactly what trying every format, reading every cell afresh and
indexing the focus names per row gave (the cases below are where a shortcut could differ)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from followup.intake import read_clients, read_sessions
from followup.intake.dates import (
    _DATE_TIME_FORMATS,
    _DATES,
    TIMES,
    format_shape,
    parse_date,
    parse_time_of_day,
    parse_when,
    strptime_any,
    tidy,
)
from followup.intake.presets import Preset
from followup.intake.rows import remembered
from followup.intake.sessions import focus_index, match_focus, session_status, status_words

FOCUS = {"neck_shoulders": "Neck & shoulders", "lower_back": "Lower back", "hands": "Hands, wrists"}
SPANISH = {"Cuello y hombros": "neck_shoulders", "Espalda baja": "lower_back", "Lower-back": "hands"}


def every_format(text: str, formats: Sequence[str]) -> datetime | None:
    """strptime_any as it was: each format in turn, the first that reads the text wins."""
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def texts() -> list[str]:
    """Dates and times in every format read here, and near misses of each: a digit more or
    less, a name's case, odd spacing, a non-ASCII digit, an impossible day or hour."""
    written = [
        moment.strftime(fmt)
        for moment in (datetime(2026, 12, 5, 15, 7, 9), datetime(2027, 2, 28, 0, 30), datetime(2026, 3, 8, 12, 0))
        for fmt in (*_DATE_TIME_FORMATS[::3], *_DATES, *TIMES)
    ]
    near = [
        variant
        for text in written[::2]
        for variant in (
            text[1:],
            text[:-1],
            text.replace("2", "22", 1),
            text.replace(" ", "  "),
            text.upper(),
            text.replace("0", "\u0663", 1),
            text.replace("12", "13", 1),
            text.replace("15", "25", 1),
            text.replace("/", "-"),
            text + " pm",
        )
    ]
    odd = ["12/ 3/2026", "02/30/2026", "3 pm", "3:05 PM", "25:00", "12/3/26 3pm", "2026-12-03T15:00", "", " ", "x"]
    return written + near + odd


@pytest.mark.parametrize("formats", [_DATES, TIMES, _DATE_TIME_FORMATS], ids=["dates", "times", "date-times"])
def test_shapes_rule_out_only_what_strptime_would_refuse(formats: Sequence[str]) -> None:
    read = 0
    for text in texts():
        for candidate in (text, tidy(text)):
            expected = every_format(candidate, formats)
            assert strptime_any(candidate, formats) == expected, candidate
            read += expected is not None
    assert read > 20  # the corpus holds texts each family reads, not only ones it refuses


def test_a_format_with_a_directive_the_shapes_do_not_know_is_still_tried() -> None:
    assert format_shape("%j %Y") is None
    assert strptime_any("339 2026", ("%j %Y",)) == datetime(2026, 12, 5)


def test_a_shape_matches_whitespace_as_strptime_does() -> None:
    shape = format_shape("%m/%d/%Y %I %p")
    assert shape is not None
    assert shape.fullmatch("12/03/2026\t 3 pm") is not None
    assert datetime.strptime("12/03/2026\t 3 pm", "%m/%d/%Y %I %p") == datetime(2026, 12, 3, 15)


def test_remembered_values_and_errors_are_those_of_a_fresh_read() -> None:
    # An ambiguous-looking value first does not change how the next one is read: each text
    # is remembered for itself, and day/month order stays month first.
    assert parse_date("03/04/2026").isoformat() == "2026-03-04"
    assert parse_date("2026-04-03").isoformat() == "2026-04-03"
    assert parse_date("03/04/2026").isoformat() == "2026-03-04"
    for _ in range(2):
        with pytest.raises(ValueError, match=r"^'13/04/2026' is not a date \(month/day/year"):
            parse_date("13/04/2026")
        with pytest.raises(ValueError, match=r"^'2026-12-03' has no time of day"):
            parse_when("2026-12-03")
    assert parse_time_of_day("3pm") == parse_time_of_day("3 PM") == datetime(1900, 1, 1, 15)


def test_remembered_parser_raises_the_same_message_and_calls_once_per_text() -> None:
    calls: list[str] = []

    def parse(raw: str) -> int:
        calls.append(raw)
        if not raw.isdigit():
            raise ValueError(f"{raw!r} is not a number")
        return int(raw)

    read = remembered(parse, size=2)
    assert [read("1"), read("1"), read("2")] == [1, 1, 2]
    for _ in range(2):
        with pytest.raises(ValueError, match=r"^'x' is not a number$"):
            read("x")
    assert calls == ["1", "2", "x"]
    read("3")  # holds 2 texts: "1" was the least recently used and is read again
    read("1")
    assert calls == ["1", "2", "x", "3", "1"]


def test_remembered_parser_does_not_remember_other_exceptions() -> None:
    calls: list[str] = []

    def parse(raw: str) -> int:
        calls.append(raw)
        raise KeyError(raw)

    read = remembered(parse)
    for _ in range(2):
        with pytest.raises(KeyError):
            read("a")
    assert calls == ["a", "a"]


def test_status_words_read_as_session_status_does() -> None:
    extra = {"Arrived": "completed", "arrived": "cancelled", "Showed": "weird", "Booked": "no_show"}
    status = status_words(extra)
    for raw in ("Arrived", "ARRIVED", "Showed", "Booked", "booked", "checked-in", "CancelledByCustomer", ""):
        assert status(raw) == session_status(raw, extra)
    assert status("Arrived") == "completed"  # the first of two words with one key wins
    assert status("Showed") == "completed"  # a preset word with no valid meaning is not used
    assert status("Booked") == "no_show"  # a preset's word beats the built-in one
    for _ in range(2):
        with pytest.raises(ValueError, match=r"^'Sleeping' is not a session status"):
            status("Sleeping")


@pytest.mark.parametrize(
    "text",
    [
        "Neck & shoulders; lower-back",
        "Hands, wrists",
        "hands, wrists, neck_shoulders",
        "Cuello y hombros / Espalda baja",
        "Lower-back",  # an area's own id beats another language's name with the same key
        "lower back|nonsense;;hands",
        "Neck, shoulders",
        "",
    ],
)
def test_the_focus_index_reads_as_matching_afresh(text: str) -> None:
    found, unknown = match_focus(text, FOCUS, SPANISH)
    assert focus_index(FOCUS, SPANISH)["lowerback"] == "lower_back"
    assert match_focus(text, FOCUS, SPANISH) == (found, unknown)
    assert all(area in FOCUS for area in found)


def test_the_focus_of_each_row_is_its_own(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    rows = [
        "external_id,client,start,service,focus",
        "s1,c1,2026-12-03 10:00,Massage,Neck & shoulders; nonsense",
        "s2,c1,2026-12-04 10:00,Massage,Neck & shoulders; nonsense",
        "s3,c1,2026-12-05 10:00,Massage,lower back",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = read_sessions(path, shown="s.csv", focus_areas=FOCUS)
    assert [r.session.focus_areas for r in result.rows] == [("neck_shoulders",), ("neck_shoulders",), ("lower_back",)]
    assert [str(w) for w in result.warnings] == [
        f"s.csv:{line}: focus: 'nonsense' is not a focus area; left out "
        "(allowed: 'Neck & shoulders', 'Lower back', 'Hands, wrists')"
        for line in (2, 3)
    ]


def test_an_end_time_of_day_falls_on_each_rows_own_start_date(tmp_path: Path) -> None:
    # the same end text on rows that start on different days: remembering "11:00" must not
    # remember the day it fell on
    path = tmp_path / "s.csv"
    rows = [
        "external_id,client,start,end,service",
        "s1,c1,12/03/2026 10:00 AM,11:00,Massage",
        "s2,c1,12/04/2026 10:00 AM,11:00,Massage",
        "s3,c1,12/05/2026 12:00 PM,11:00,Massage",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = read_sessions(path, shown="s.csv")
    assert [r.session.end.strftime("%Y-%m-%d %H:%M") for r in result.rows] == ["2026-12-03 11:00", "2026-12-04 11:00"]
    assert [str(e) for e in result.errors] == [
        "s.csv:4: end: '11:00' is before the start (2026-12-05 12:00 EST); the end must not be earlier"
    ]


def test_repeated_bad_cells_are_reported_on_every_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    rows = [
        "external_id,first_name,phone,email,timezone,language,sms_marketing",
        "c1,Ana,3055550123,ana@,Mars/Base,klingon,maybe",
        "c2,Bea,3055550124,ana@,Mars/Base,klingon,maybe",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = read_clients(path, shown="c.csv", languages=("en", "es"))
    per_row = [
        sorted(str(w).split(": ", 1)[1] for w in result.warnings if str(w).startswith(f"c.csv:{line}:"))
        for line in (2, 3)
    ]
    assert per_row[0] == per_row[1]
    assert len(per_row[0]) == 4  # email, time zone, language, consent
    assert [r.client.timezone for r in result.rows] == ["America/New_York"] * 2


def test_preset_consent_words_are_read_on_every_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    rows = ["external_id,first_name,phone,sms_marketing", "c1,Ana,3055550123,Unknown", "c2,Bea,3055550124,Unknown"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    preset = Preset(name="mine", consent_values={"Unknown": False})
    result = read_clients(path, shown="c.csv", preset=preset)
    assert [r.consent_sources["sms_marketing"] for r in result.rows] == [
        "c.csv:2:sms_marketing",
        "c.csv:3:sms_marketing",
    ]
    assert [r.client.consent.sms_marketing for r in result.rows] == [False, False]
