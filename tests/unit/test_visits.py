"""One visit, one message: sessions that overlap or touch on one day are planned as one visit;
and rebook nudges wait while the booking data is stale (issue 10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Consent, Session, SessionStatus
from followup.core.planner import group_visits, plan_client
from followup.core.rules import STALE_RECHECK, Defer, MessageFacts, Send, decide
from followup.timeutil import zone

NY = zone("America/New_York")
CLIENT = Client(
    external_id="c1",
    first_name="Gabriela",
    phone="+13055550150",
    email="g@example.com",
    consent=Consent(sms_marketing=True),
)
TEN = datetime(2027, 1, 15, 10, 0, tzinfo=NY)


def session(sid: str, start: datetime, minutes: int = 60, status: SessionStatus = "booked", **kw: Any) -> Session:
    return Session(
        external_id=sid,
        client_external_id="c1",
        start=start,
        end=start + timedelta(minutes=minutes),
        service=kw.pop("service", "Deep tissue 60"),
        status=status,
        **kw,
    )


def campaign(**data: Any) -> Campaign:
    base: dict[str, Any] = {
        "description": "d",
        "purpose": "care",
        "trigger": "session_booked",
        "steps": [{"name": "reminder", "offset": "-24h", "template": "t", "expires_after": "20h"}],
    }
    base.update(data)
    return Campaign.model_validate(base)


def test_an_add_on_that_starts_when_the_massage_ends_joins_its_visit() -> None:
    main = session("a-1", TEN, focus_areas=("neck_shoulders",), therapist="Lucía")
    add_on = session("a-2", TEN + timedelta(hours=1), minutes=30, service="Hot stones", focus_areas=("lower_back",))
    visits, absorbed = group_visits([add_on, main])
    assert absorbed == {"a-2": "a-1"}
    (visit,) = visits
    assert visit.external_id == "a-1"
    assert (visit.start, visit.end) == (TEN, TEN + timedelta(minutes=90))
    assert visit.service == "Deep tissue 60 + Hot stones"
    assert visit.focus_areas == ("neck_shoulders", "lower_back")
    assert visit.therapist == "Lucía"


def test_the_same_appointment_exported_twice_is_one_visit_with_one_service() -> None:
    visits, absorbed = group_visits([session("b-2", TEN), session("b-1", TEN)])
    assert absorbed == {"b-2": "b-1"}
    assert [v.service for v in visits] == ["Deep tissue 60"]


def test_a_gap_another_day_or_a_cancelled_session_keeps_visits_apart() -> None:
    later_same_day = session("c-2", TEN + timedelta(hours=1, minutes=1))
    next_day = session("c-3", TEN + timedelta(days=1))
    cancelled = session("c-4", TEN + timedelta(minutes=30), status="cancelled")
    visits, absorbed = group_visits([session("c-1", TEN), later_same_day, next_day, cancelled])
    assert absorbed == {}
    assert [v.external_id for v in visits] == ["c-1", "c-4", "c-2", "c-3"]


def test_a_booking_running_past_midnight_does_not_swallow_the_next_day() -> None:
    late = session("d-1", datetime(2027, 1, 15, 23, 0, tzinfo=NY), minutes=120)
    early = session("d-2", datetime(2027, 1, 16, 0, 30, tzinfo=NY))
    _, absorbed = group_visits([late, early])
    assert absorbed == {}


def test_a_completed_part_makes_the_visit_completed() -> None:
    visits, _ = group_visits(
        [session("e-1", TEN, status="booked"), session("e-2", TEN + timedelta(hours=1), status="completed")]
    )
    assert [v.status for v in visits] == ["completed"]


def test_one_reminder_per_visit_and_the_absorbed_sessions_messages_are_cancelled() -> None:
    now = TEN - timedelta(days=3)
    reminders = campaign()
    sessions = [session("a-1", TEN), session("a-2", TEN + timedelta(hours=1), minutes=30, service="Hot stones")]
    result = plan_client({"reminders": reminders}, CLIENT, sessions, now)
    assert [p.key for p in result.planned] == ["reminders/reminder/c1/a-1/preferred"]
    assert result.blocked == {"reminders/reminder/c1/a-2/preferred": "part of visit a-1"}


# --- stale booking data --------------------------------------------------------------------

NUDGE = Campaign.model_validate(
    {
        "description": "d",
        "purpose": "marketing",
        "trigger": {"type": "no_rebook", "days": 14},
        "steps": [{"offset": "0h", "template": "t", "expires_after": "3d"}],
    }
)
AFTERCARE = Campaign.model_validate(
    {
        "description": "d",
        "purpose": "care",
        "trigger": "session_completed",
        "steps": [{"offset": "2h", "template": "t", "expires_after": "1d"}],
    }
)
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=NY)
STALENESS = timedelta(hours=36)


def facts(campaign: str) -> MessageFacts:
    return MessageFacts(
        campaign=campaign,
        step_index=0,
        channel="sms",
        purpose="marketing" if campaign == "nudge" else "care",
        due_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(days=1),
        session_external_id="s1",
        fell_back=False,
    )


def decide_at(campaign: Campaign, name: str, data_at: datetime | None) -> object:
    done = session("s1", NOW - timedelta(days=15), status="completed")
    return decide(facts(name), campaign, CLIENT, [done], NOW, booking_data_at=data_at, max_staleness=STALENESS)


def test_a_nudge_waits_while_the_booking_data_is_older_than_the_limit() -> None:
    held = decide_at(NUDGE, "nudge", NOW - STALENESS - timedelta(seconds=1))
    assert held == Defer(NOW + STALE_RECHECK, "stale booking data")


def test_a_nudge_goes_when_the_data_is_exactly_at_the_limit_or_fresher() -> None:
    assert isinstance(decide_at(NUDGE, "nudge", NOW - STALENESS), Send)
    assert isinstance(decide_at(NUDGE, "nudge", NOW - timedelta(hours=1)), Send)


def test_care_messages_never_wait_for_fresh_booking_data() -> None:
    assert isinstance(decide_at(AFTERCARE, "aftercare", NOW - timedelta(days=30)), Send)


def test_with_no_limit_or_no_record_the_nudge_is_not_held() -> None:
    assert isinstance(decide_at(NUDGE, "nudge", None), Send)
    done = session("s1", NOW - timedelta(days=15), status="completed")
    old = NOW - timedelta(days=30)
    assert isinstance(decide(facts("nudge"), NUDGE, CLIENT, [done], NOW, booking_data_at=old), Send)
