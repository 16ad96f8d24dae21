"""The night the clocks go back (2026-11-01 in Miami: 1:00-2:00 happens twice).  A session
that starts in the first 1:30 and lasts 30 minutes ends at the second 1:00: later in real
time, earlier on the wall.  Python compares two datetimes of one zone by wall time, so the
order must be taken in UTC (``timeutil.instant``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followup.core.domain import Session
from followup.intake import read_sessions
from followup.timeutil import UTC, instant, zone

MIAMI = zone("America/New_York")
FIRST_1_30 = datetime(2026, 11, 1, 1, 30, tzinfo=MIAMI)  # EDT, 05:30 UTC


def test_the_second_one_o_clock_is_after_the_first_half_past_one() -> None:
    end = (instant(FIRST_1_30) + timedelta(minutes=30)).astimezone(MIAMI)
    assert (end.hour, end.minute, end.fold) == (1, 0, 1)
    assert end < FIRST_1_30  # the trap: wall time
    assert instant(end) > instant(FIRST_1_30)
    assert instant(end) == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def test_a_session_across_the_repeated_hour_is_valid_and_a_real_backwards_one_is_not() -> None:
    end = (instant(FIRST_1_30) + timedelta(minutes=30)).astimezone(MIAMI)
    session = Session(external_id="s", client_external_id="c", start=FIRST_1_30, end=end, service="NMT 30")
    assert session.end == end
    with pytest.raises(ValueError, match="ends before it starts"):
        Session(
            external_id="b",
            client_external_id="c",
            start=FIRST_1_30,
            end=FIRST_1_30 - timedelta(minutes=1),
            service="NMT 30",
        )


def test_an_export_row_in_the_repeated_hour_imports(tmp_path: Path) -> None:
    path = tmp_path / "sessions.csv"
    path.write_text(
        "session_id,client_id,start,duration,end,service,status\n"
        "s1,c1,11/1/2026 1:30 AM,30,,NMT 30,completed\n"  # end from the duration: the second 1:00
        "s2,c1,11/1/2026 1:30 AM,,11/1/2026 1:20 AM,NMT 30,completed\n"  # an end written before the start
        "s3,c1,11/2/2026 1:30 PM,60,,NMT 60,completed\n",
        encoding="utf-8",
    )
    result = read_sessions(path, shown="sessions.csv")
    by_id = {r.session.external_id: r.session for r in result.rows}
    assert set(by_id) == {"s1", "s3"}
    assert instant(by_id["s1"].end) - instant(by_id["s1"].start) == timedelta(minutes=30)
    assert [(e.row, e.column) for e in result.errors] == [(3, "end")]
    assert "before the start" in result.errors[0].reason
