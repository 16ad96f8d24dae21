"""The dispatcher's statement texts and timestamp conversions (followup/store/dispatch_sql.py);
the statements themselves run in tests/integration/test_store_contract.py on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from followup.store import dispatch_sql
from followup.store.dispatch_sql import _for, utc_in, utc_out


def test_an_id_list_is_one_parameter_in_either_dialect() -> None:
    text = "SELECT id FROM messages WHERE id IN IDS(:ids) AND claimed_by = :worker"
    assert _for("sqlite", text) == (
        "SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(:ids)) AND claimed_by = :worker"
    )
    assert _for("postgresql", text) == "SELECT id FROM messages WHERE id = ANY(%(ids)s) AND claimed_by = %(worker)s"


def test_postgresql_arrays_go_in_binary_and_casts_and_percent_signs_survive() -> None:
    text = "SELECT * FROM unnest(:o_id::integer[]) WHERE x::text LIKE '5%' AND y = :y"
    assert _for("postgresql", text) == (
        "SELECT * FROM unnest(CAST(%(o_id)b AS integer[])) WHERE x::text LIKE '5%%' AND y = %(y)s"
    )


def test_sqlite_timestamps_are_naive_utc_text_whose_order_is_time_order() -> None:
    miami = ZoneInfo("America/New_York")
    earlier = datetime(2026, 11, 1, 1, 30, tzinfo=miami)  # EDT, the first 1:30
    later = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=miami)  # EST, an hour later
    assert utc_in("sqlite", earlier) == "2026-11-01 05:30:00.000000"
    assert utc_in("sqlite", later) == "2026-11-01 06:30:00.000000"
    stamps = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=n * 999_983) for n in range(50)]
    texts = [utc_in("sqlite", s) for s in stamps]
    assert texts == sorted(texts)
    assert [utc_out(t) for t in texts] == stamps


def test_stored_timestamps_come_back_aware_in_utc() -> None:
    back = utc_out("2026-11-01 06:30:00.000001")
    assert back == datetime(2026, 11, 1, 6, 30, 0, 1, tzinfo=UTC) and back is not None and back.tzinfo is UTC
    assert utc_out("2026-11-01 06:30:00.000001") is back  # parsed once
    from_pg = utc_out(datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert from_pg == datetime(2026, 11, 1, 6, 30, tzinfo=UTC) and from_pg is not None and from_pg.tzinfo is UTC
    assert utc_out(None) is None and utc_in("sqlite", None) is None
    postgres_value = datetime(2026, 1, 1, tzinfo=UTC)
    assert utc_in("postgresql", postgres_value) is postgres_value  # psycopg takes it as it is


def test_the_memo_of_parsed_texts_stays_bounded() -> None:
    for n in range(dispatch_sql._PARSED_LIMIT + 10):
        utc_out(f"2027-01-01 00:00:00.{n:06d}")
    assert len(dispatch_sql._PARSED) <= dispatch_sql._PARSED_LIMIT
