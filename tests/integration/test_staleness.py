"""No nudge on stale data (issue 10): with CSV exports followup learns of a rebooking only at the
next import, so rebook nudges wait while the booking data is older than ``max_staleness``; care
messages never wait.  Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from followup.core.rules import STALE_RECHECK
from tests.integration.test_dispatch import T0, Rig, at, rig  # noqa: F401 - the fixture

NUDGE_DUE = (T0 + timedelta(days=14)).replace(hour=11, minute=0)


def test_a_nudge_waits_for_fresh_booking_data_then_goes(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    rig.store.record_booking_refresh(T0, "import bookings.csv")  # two weeks before the nudge: stale
    at(rig, NUDGE_DUE)
    with caplog.at_level(logging.WARNING, logger="followup.dispatch"):
        rig.dispatcher.run_once()
        rig.dispatcher.run_once()  # still stale: told once, not again
    nudge = rig.message("step1")
    assert (nudge.status, nudge.status_reason) == ("scheduled", "stale booking data")
    assert nudge.next_attempt_at == NUDGE_DUE + STALE_RECHECK
    assert rig.email.sent == []
    told = [r for r in caplog.records if "stale_booking_data" in r.getMessage()]
    assert len(told) == 1
    # The owner imports again (nothing rebooked): the nudge goes at the next check.
    rig.store.record_booking_refresh(NUDGE_DUE + timedelta(minutes=30), "import bookings.csv")
    at(rig, NUDGE_DUE + STALE_RECHECK)
    rig.dispatcher.run_once()
    assert rig.message("step1").status == "sent"
    assert len(rig.email.sent) == 1


def test_care_messages_are_not_held_by_stale_data(rig: Rig) -> None:  # noqa: F811
    rig.store.record_booking_refresh(T0 - timedelta(days=30), "import old.csv")
    at(rig, T0 + timedelta(hours=2))
    rig.dispatcher.run_once()
    assert rig.message("thanks").status == "sent"
