"""UTCDateTime's one-call conversions must give exactly what SQLAlchemy's layered ones give:
the same stored text on SQLite (timestamps are compared as text there) and the same aware UTC
datetimes read back, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from followup.store.schema import UTCDateTime
from followup.timeutil import UTC

MOMENTS = [
    datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
    datetime(2026, 3, 10, 15, 0, 0, 123_456, tzinfo=dt.UTC),
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/New_York")),  # in the spring-forward gap
    datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.timezone(timedelta(hours=5, minutes=45))),
    None,
]


def _both(dialect: Dialect) -> tuple[Any, Any, Any, Any]:
    kind = UTCDateTime().dialect_impl(dialect)
    assert isinstance(kind, UTCDateTime)
    return (
        kind.bind_processor(dialect),
        TypeDecorator.bind_processor(kind, dialect),
        kind.result_processor(dialect, None),
        TypeDecorator.result_processor(kind, dialect, None),
    )


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])  # type: ignore[no-untyped-call]
@pytest.mark.parametrize("moment", MOMENTS)
def test_fast_conversions_match_the_layered_ones(dialect: Dialect, moment: datetime | None) -> None:
    fast_bind, bind, fast_read, read = _both(dialect)
    stored = bind(moment) if bind else moment
    assert (fast_bind(moment) if fast_bind else moment) == stored
    got = fast_read(stored) if fast_read else stored
    want = read(stored) if read else stored
    assert got == want and type(got) is type(want)
    if want is not None:
        assert got is not None and got.tzinfo is UTC and want.tzinfo is UTC


@pytest.mark.parametrize("text", ["2026-03-10 15:00:00", "2026-03-10 15:00:00.5", "2026-03-10"])
def test_other_stored_texts_are_read_as_before(text: str) -> None:
    _, _, fast_read, read = _both(sqlite.dialect())
    assert fast_read(text) == read(text)


def test_the_fast_paths_are_the_ones_in_use_on_sqlite() -> None:
    """Not the general path under another name: otherwise this file tests nothing."""
    fast_bind, _, fast_read, _ = _both(sqlite.dialect())
    assert fast_bind.__qualname__.startswith("UTCDateTime.")
    assert fast_read.__qualname__.startswith("UTCDateTime.")
