"""The planner: which messages, when, with a fixed ``now`` (no clock is read)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session, SessionStatus
from followup.core.planner import Planned, group_visits, plan_client
from followup.timeutil import zone

NY = zone("America/New_York")
MADRID = zone("Europe/Madrid")
CLIENT = Client(external_id="c1", first_name="Maria", phone="+13055550101", email="m@example.com")


def campaign(**data: Any) -> Campaign:
    base: dict[str, Any] = {
        "description": "d",
        "purpose": "care",
        "trigger": "session_completed",
        "steps": [{"offset": "2h", "template": "t", "expires_after": "6h"}],
    }
    base.update(data)
    return Campaign.model_validate(base)


def session(sid: str, start: datetime, status: SessionStatus = "completed", minutes: int = 60, **kw: Any) -> Session:
    return Session(
        external_id=sid,
        client_external_id="c1",
        start=start,
        end=start + timedelta(minutes=minutes),
        service=kw.pop("service", "NMT 60"),
        status=status,
        **kw,
    )


def test_session_completed_steps_with_due_and_expiry() -> None:
    post = campaign(
        steps=[
            {"name": "thanks", "offset": "2h", "template": "t", "expires_after": "6h"},
            {"name": "tip", "offset": "1d at 10:00", "template": "t", "expires_after": "10h"},
        ]
    )
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 3, 16, 5, tzinfo=NY)
    result = plan_client({"post": post}, CLIENT, [s], now)
    thanks, tip = result.planned
    assert thanks.key == "post/thanks/c1/s1/preferred"
    assert thanks.due_at == datetime(2026, 12, 3, 18, 0, tzinfo=NY)
    assert thanks.expires_at == datetime(2026, 12, 4, 0, 0, tzinfo=NY)
    assert tip.due_at == datetime(2026, 12, 4, 10, 0, tzinfo=NY)
    assert "after session s1 was completed" in thanks.why


def test_plan_is_deterministic_and_pure() -> None:
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 3, 16, 5, tzinfo=NY)
    assert plan_client({"p": campaign()}, CLIENT, [s], now) == plan_client({"p": campaign()}, CLIENT, [s], now)


def test_local_times_follow_the_client_zone_across_dst() -> None:
    # Spring forward in New York on 2026-03-08: "1d at 10:00" is 10:00 EDT, and "1d" keeps the wall time.
    c = campaign(
        steps=[{"name": "a", "offset": "1d at 10:00", "template": "t"}, {"name": "b", "offset": "1d", "template": "t"}]
    )
    s = session("s1", datetime(2026, 3, 7, 14, 0, tzinfo=NY))
    a, b = plan_client({"c": c}, CLIENT, [s], datetime(2026, 3, 7, 16, 0, tzinfo=NY)).planned
    assert a.due_at.astimezone(UTC) == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 10:00 EDT
    assert b.due_at.astimezone(NY).hour == 15 and b.due_at.astimezone(UTC).hour == 19
    # Fall back on 2026-11-01: 10:00 EST.
    s2 = session("s2", datetime(2026, 10, 31, 14, 0, tzinfo=NY))
    a2, _ = plan_client({"c": c}, CLIENT, [s2], datetime(2026, 10, 31, 16, 0, tzinfo=NY)).planned
    assert a2.due_at.astimezone(UTC) == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


def test_madrid_client_gets_madrid_morning() -> None:
    madrid = Client(external_id="c1", first_name="Ana", timezone="Europe/Madrid", phone="+34612345678")
    c = campaign(steps=[{"offset": "1d at 10:00", "template": "t"}])
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))  # 21:00 in Madrid
    (p,) = plan_client({"c": c}, madrid, [s], datetime(2026, 12, 3, 16, 0, tzinfo=NY)).planned
    assert p.due_at == datetime(2026, 12, 4, 10, 0, tzinfo=MADRID)


def test_reminder_before_booked_session_capped_at_start_and_blocked_when_cancelled() -> None:
    r = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t", "expires_after": "2d"}])
    start = datetime(2026, 12, 10, 15, 0, tzinfo=NY)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=NY)
    (p,) = plan_client({"r": r}, CLIENT, [session("s1", start, "booked")], now).planned
    assert p.due_at == datetime(2026, 12, 9, 15, 0, tzinfo=NY)
    assert p.expires_at == start  # never after the session has started
    result = plan_client({"r": r}, CLIENT, [session("s1", start, "cancelled")], now)
    assert result.planned == [] and result.blocked == {"r/step1/c1/s1/preferred": "session cancelled"}


def test_both_channels_make_two_messages() -> None:
    c = campaign(steps=[{"offset": "2h", "template": "t", "channel": "both"}])
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    planned = plan_client({"c": c}, CLIENT, [s], datetime(2026, 12, 3, 16, 0, tzinfo=NY)).planned
    assert [p.channel for p in planned] == ["sms", "email"]


def test_no_rebook_nudges_then_blocked_by_new_booking() -> None:
    nudge = campaign(
        purpose="marketing",
        trigger={"type": "no_rebook", "days": 14},
        steps=[
            {"name": "n1", "offset": "0d at 11:00", "template": "t", "expires_after": "2d"},
            {"name": "n2", "offset": "14d at 11:00", "template": "t", "expires_after": "2d"},
        ],
    )
    last = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 1, 17, 0, tzinfo=NY)
    n1, n2 = plan_client({"nudge": nudge}, CLIENT, [last], now).planned
    assert n1.due_at == datetime(2026, 12, 15, 11, 0, tzinfo=NY)
    assert n2.due_at == datetime(2026, 12, 29, 11, 0, tzinfo=NY)
    rebooked = session("s2", datetime(2026, 12, 20, 10, 0, tzinfo=NY), "booked")
    result = plan_client({"nudge": nudge}, CLIENT, [last, rebooked], now)
    assert result.planned == []
    assert set(result.blocked) == {n1.key, n2.key}
    assert all(reason.startswith("rebooked (session s2)") for reason in result.blocked.values())


def test_first_visit_only_once_and_only_for_the_first() -> None:
    welcome = campaign(trigger="first_visit", steps=[{"offset": "2d at 10:00", "template": "t", "expires_after": "2d"}])
    s1 = session("s1", datetime(2026, 11, 30, 15, 0, tzinfo=NY))
    s2 = session("s2", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 1, 17, 0, tzinfo=NY)
    (p,) = plan_client({"w": welcome}, CLIENT, [s2, s1], now).planned
    assert p.session_external_id == "s1" and p.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=NY)


def test_conditions_on_service_focus_and_visits() -> None:
    c = campaign(
        steps=[
            {"name": "deep", "offset": "2h", "template": "t", "when": {"services": ["deep tissue 90"]}},
            {"name": "neck", "offset": "2h", "template": "t", "when": {"focus_areas": ["neck_shoulders"]}},
            {"name": "newbie", "offset": "2h", "template": "t", "when": {"max_visits": 1}},
            {"name": "regular", "offset": "2h", "template": "t", "when": {"min_visits": 2}},
        ]
    )
    first = session(
        "s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY), service="Deep Tissue 90", focus_areas=("neck_shoulders",)
    )
    now = datetime(2026, 12, 1, 16, 30, tzinfo=NY)
    assert [p.step for p in plan_client({"c": c}, CLIENT, [first], now).planned] == ["deep", "neck", "newbie"]
    second = session("s2", datetime(2026, 12, 8, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 8, 16, 30, tzinfo=NY)
    steps = [(p.session_external_id, p.step) for p in plan_client({"c": c}, CLIENT, [first, second], now).planned]
    assert ("s2", "regular") in steps and ("s2", "newbie") not in steps and ("s2", "deep") not in steps


def test_disabled_campaign_and_old_sessions_plan_nothing() -> None:
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    assert (
        plan_client({"c": campaign(enabled=False)}, CLIENT, [s], datetime(2026, 12, 3, 16, 0, tzinfo=NY)).planned == []
    )
    # A session from last year is beyond every step's reach: nothing to plan (imports of history stay quiet).
    old = session("s0", datetime(2025, 6, 1, 15, 0, tzinfo=NY))
    assert plan_client({"c": campaign()}, CLIENT, [old], datetime(2026, 12, 3, 16, 0, tzinfo=NY)).planned == []


def test_naive_now_rejected() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        plan_client({}, CLIENT, [], datetime(2026, 12, 3, 16, 0))


# --- lapsed and no_rebook -------------------------------------------------------------------

WIN_BACK = campaign(
    description="We miss you - 60 and 90 days after the last visit.",
    purpose="marketing",
    trigger={"type": "lapsed", "days": 60},
    exit_on=["opted_out", "rebooked"],
    steps=[
        {
            "name": "day60",
            "offset": "0d at 11:00",
            "channel": "email",
            "template": "win_back_60",
            "expires_after": "3d",
        },
        {"name": "day90", "offset": "30d at 11:00", "template": "win_back_90", "expires_after": "3d"},
    ],
)
REBOOK = campaign(
    description="Book again, 14 and 28 days after the last session.",
    purpose="marketing",
    trigger={"type": "no_rebook", "days": 14},
    steps=[
        {"name": "first_nudge", "offset": "0d at 11:00", "template": "rebook_nudge_first", "expires_after": "2d"},
        {"name": "second_nudge", "offset": "14d at 11:00", "template": "rebook_nudge_second", "expires_after": "2d"},
    ],
)


def test_lapsed_win_back_counts_60_calendar_days_from_the_last_visit() -> None:
    visits = [
        session("s1", datetime(2025, 12, 1, 15, 0, tzinfo=NY)),
        session("s2", datetime(2026, 1, 5, 15, 0, tzinfo=NY)),
        session("s3", datetime(2026, 1, 20, 15, 0, tzinfo=NY)),
    ]
    now = datetime(2026, 1, 20, 17, 0, tzinfo=NY)
    day60, day90 = plan_client({"win_back": WIN_BACK}, CLIENT, visits, now).planned
    # 60 days after 16:00 EST on Jan 20 is Mar 21 (after spring forward): 11:00 EDT that day.
    assert replace(day60, why="") == Planned(
        key="win_back/day60/c1/s3/email",
        campaign="win_back",
        step="day60",
        step_index=0,
        client_external_id="c1",
        session_external_id="s3",
        channel="email",
        purpose="marketing",
        priority="nudge",
        due_at=datetime(2026, 3, 21, 11, 0, tzinfo=NY),
        expires_at=datetime(2026, 3, 24, 11, 0, tzinfo=NY),
        why="",
    )
    assert "60 days since session s3" in day60.why
    assert (day90.key, day90.step_index, day90.channel) == ("win_back/day90/c1/s3/preferred", 1, "preferred")
    assert day90.due_at == datetime(2026, 4, 20, 11, 0, tzinfo=NY)


def test_no_rebook_days_are_calendar_days_across_spring_forward() -> None:
    # Visit ends 16:00 EST Sat Feb 28; 14 days later is 16:00 EDT Sat Mar 14, not 17:00.
    nudge = campaign(
        purpose="marketing",
        trigger={"type": "no_rebook", "days": 14},
        steps=[{"offset": "2h", "template": "rebook_nudge_first", "expires_after": "2d"}],
    )
    last = session("s1", datetime(2026, 2, 28, 15, 0, tzinfo=NY))
    (p,) = plan_client({"nudge": nudge}, CLIENT, [last], datetime(2026, 2, 28, 17, 0, tzinfo=NY)).planned
    assert p.due_at == datetime(2026, 3, 14, 18, 0, tzinfo=NY)
    assert "14 days after session s1 with nothing booked" in p.why


def test_nudges_for_earlier_visits_are_blocked_once_a_later_visit_took_place() -> None:
    visits = [
        session("s1", datetime(2026, 11, 20, 15, 0, tzinfo=NY)),
        session("s2", datetime(2026, 11, 27, 15, 0, tzinfo=NY)),
        session("s3", datetime(2026, 12, 4, 15, 0, tzinfo=NY)),
    ]
    result = plan_client({"rebook": REBOOK}, CLIENT, visits, datetime(2026, 12, 4, 17, 0, tzinfo=NY))
    assert [(p.session_external_id, p.step) for p in result.planned] == [("s3", "first_nudge"), ("s3", "second_nudge")]
    assert result.blocked == {
        f"rebook/{step}/c1/{sid}/preferred": "a later visit took place (session s3)"
        for sid in ("s1", "s2")
        for step in ("first_nudge", "second_nudge")
    }


def test_cancelled_next_booking_is_not_a_rebooking() -> None:
    last = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    cancelled = session("s2", datetime(2026, 12, 20, 10, 0, tzinfo=NY), "cancelled")
    result = plan_client({"rebook": REBOOK}, CLIENT, [last, cancelled], datetime(2026, 12, 1, 17, 0, tzinfo=NY))
    assert [p.due_at for p in result.planned] == [
        datetime(2026, 12, 15, 11, 0, tzinfo=NY),
        datetime(2026, 12, 29, 11, 0, tzinfo=NY),
    ]
    assert result.blocked == {}


def test_rebooked_client_still_gets_the_other_campaigns() -> None:
    last = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    booked = session("s2", datetime(2026, 12, 20, 10, 0, tzinfo=NY), "booked")
    now = datetime(2026, 12, 1, 16, 30, tzinfo=NY)
    result = plan_client({"rebook": REBOOK, "post": campaign(), "win_back": WIN_BACK}, CLIENT, [last, booked], now)
    assert [p.key for p in result.planned] == ["post/step1/c1/s1/preferred"]
    assert set(result.blocked) == {
        "rebook/first_nudge/c1/s1/preferred",
        "rebook/second_nudge/c1/s1/preferred",
        "win_back/day60/c1/s1/email",
        "win_back/day90/c1/s1/preferred",
    }


def test_regulars_only_nudge_counts_every_completed_visit() -> None:
    nudge = campaign(
        purpose="marketing",
        trigger={"type": "no_rebook", "days": 21},
        steps=[
            {"name": "regulars", "offset": "0d at 11:00", "template": "t", "when": {"min_visits": 3}},
            {"name": "newcomers", "offset": "0d at 11:00", "template": "t", "when": {"max_visits": 1}},
        ],
    )
    visits = [session(f"s{n}", datetime(2026, 11, 6 + 7 * n, 15, 0, tzinfo=NY)) for n in range(3)]
    now = datetime(2026, 11, 20, 17, 0, tzinfo=NY)
    assert [p.step for p in plan_client({"n": nudge}, CLIENT, visits, now).planned] == ["regulars"]
    assert [p.step for p in plan_client({"n": nudge}, CLIENT, visits[:1], now).planned] == ["newcomers"]


def test_new_client_with_only_a_booking_gets_a_reminder_and_nothing_else() -> None:
    reminder = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t", "expires_after": "22h"}])
    welcome = campaign(trigger="first_visit", steps=[{"offset": "2d at 10:00", "template": "t"}])
    booked = session("s1", datetime(2026, 12, 10, 15, 0, tzinfo=NY), "booked")
    campaigns = {"rebook": REBOOK, "win_back": WIN_BACK, "welcome": welcome, "reminder": reminder}
    result = plan_client(campaigns, CLIENT, [booked], datetime(2026, 12, 1, 9, 0, tzinfo=NY))
    assert [p.key for p in result.planned] == ["reminder/step1/c1/s1/preferred"]
    assert result.blocked == {}


# --- disabled campaigns, horizons ------------------------------------------------------------


def test_disabled_campaign_does_not_stop_the_ones_after_it() -> None:
    s = session("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    campaigns = {"paused": campaign(enabled=False), "post": campaign()}
    (p,) = plan_client(campaigns, CLIENT, [s], datetime(2026, 12, 3, 16, 5, tzinfo=NY)).planned
    assert p.key == "post/step1/c1/s1/preferred"


def test_message_still_sendable_is_planned_days_after_the_visit() -> None:
    # First visit Tuesday; the welcome is due Thursday 10:00 and good until Saturday 10:00.
    # A client imported on Friday still gets it.
    welcome = campaign(
        trigger="first_visit",
        steps=[{"name": "welcome", "offset": "2d at 10:00", "template": "t", "expires_after": "2d"}],
    )
    first = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    (p,) = plan_client({"welcome": welcome}, CLIENT, [first], datetime(2026, 12, 4, 12, 0, tzinfo=NY)).planned
    assert p.due_at == datetime(2026, 12, 3, 10, 0, tzinfo=NY)
    assert p.expires_at == datetime(2026, 12, 5, 10, 0, tzinfo=NY)


def test_history_imported_after_every_message_expired_plans_nothing() -> None:
    # Monday's thank-you (2h after, good for 6h) expired Monday night; importing on Thursday is quiet.
    monday = session("s1", datetime(2026, 12, 7, 15, 0, tzinfo=NY))
    thursday = datetime(2026, 12, 10, 17, 0, tzinfo=NY)
    assert plan_client({"post": campaign()}, CLIENT, [monday], thursday).planned == []


# --- first visit -------------------------------------------------------------------------------


def test_first_visit_welcome_for_a_brand_new_client() -> None:
    welcome = campaign(
        trigger="first_visit",
        steps=[
            {"name": "welcome", "offset": "2d at 10:00", "channel": "email", "template": "t", "expires_after": "2d"},
            # A first-visit series sees the first visit as visit 1, even after the client came back.
            {"name": "intro_offer", "offset": "3d at 10:00", "template": "t", "when": {"max_visits": 1}},
        ],
    )
    first = session("s1", datetime(2026, 11, 30, 15, 0, tzinfo=NY))
    now = datetime(2026, 11, 30, 17, 0, tzinfo=NY)
    planned = plan_client({"welcome": welcome}, CLIENT, [first], now).planned
    assert [p.key for p in planned] == ["welcome/welcome/c1/s1/email", "welcome/intro_offer/c1/s1/preferred"]
    second = session("s2", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    planned = plan_client({"welcome": welcome}, CLIENT, [first, second], now + timedelta(days=1)).planned
    assert [p.key for p in planned] == ["welcome/welcome/c1/s1/email", "welcome/intro_offer/c1/s1/preferred"]


# --- reminders --------------------------------------------------------------------------------

REMINDER = campaign(
    trigger="session_booked",
    steps=[
        {"name": "day_before", "offset": "-24h", "template": "reminder_24h", "expires_after": "22h"},
        # Parking and what to wear: only before a client's very first visit.
        {"name": "directions", "offset": "-2d at 12:00", "template": "t", "when": {"max_visits": 0}},
    ],
)


def test_reminder_for_a_returning_client_after_a_long_break() -> None:
    last_year = session("s0", datetime(2025, 10, 2, 15, 0, tzinfo=NY))
    booked = session("s1", datetime(2026, 12, 10, 15, 0, tzinfo=NY), "booked")
    result = plan_client({"reminder": REMINDER}, CLIENT, [last_year, booked], datetime(2026, 12, 1, 9, 0, tzinfo=NY))
    (p,) = result.planned
    assert (p.key, p.campaign, p.session_external_id, p.priority) == (
        "reminder/day_before/c1/s1/preferred",
        "reminder",
        "s1",
        "reminder",
    )
    assert p.due_at == datetime(2026, 12, 9, 15, 0, tzinfo=NY)


def test_directions_only_before_the_first_visit() -> None:
    booked = session("s1", datetime(2026, 12, 10, 15, 0, tzinfo=NY), "booked")
    now = datetime(2026, 12, 1, 9, 0, tzinfo=NY)
    planned = plan_client({"reminder": REMINDER}, CLIENT, [booked], now).planned
    assert [(p.step, p.due_at) for p in planned] == [
        ("day_before", datetime(2026, 12, 9, 15, 0, tzinfo=NY)),
        ("directions", datetime(2026, 12, 8, 12, 0, tzinfo=NY)),
    ]


def test_reminders_for_sessions_that_happened_or_were_missed_are_blocked() -> None:
    now = datetime(2026, 12, 10, 17, 0, tzinfo=NY)
    done = session("s1", datetime(2026, 12, 10, 15, 0, tzinfo=NY), "completed")
    missed = session("s2", datetime(2026, 12, 9, 15, 0, tzinfo=NY), "no_show")
    result = plan_client({"reminder": REMINDER}, CLIENT, [done, missed], now)
    assert result.planned == []
    assert result.blocked == {
        "reminder/day_before/c1/s1/preferred": "session done",
        "reminder/directions/c1/s1/preferred": "session done",
        "reminder/day_before/c1/s2/preferred": "session cancelled",
        "reminder/directions/c1/s2/preferred": "session cancelled",
    }


# --- conditions ---------------------------------------------------------------------------------


def test_visit_count_ignores_cancelled_bookings_and_later_visits() -> None:
    c = campaign(
        steps=[
            {"name": "newbie", "offset": "2h", "template": "t", "when": {"max_visits": 1}},
            {"name": "regular", "offset": "2h", "template": "t", "when": {"min_visits": 2}},
        ]
    )
    cancelled = session("s0", datetime(2026, 11, 24, 15, 0, tzinfo=NY), "cancelled")
    first = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    second = session("s2", datetime(2026, 12, 2, 15, 0, tzinfo=NY))
    now = datetime(2026, 12, 2, 16, 30, tzinfo=NY)
    planned = plan_client({"c": c}, CLIENT, [cancelled, first, second], now).planned
    assert [(p.session_external_id, p.step) for p in planned] == [("s1", "newbie"), ("s2", "regular")]


def test_focus_area_step_only_for_sessions_that_worked_that_area() -> None:
    c = campaign(
        steps=[
            {"name": "neck_tip", "offset": "1d at 10:00", "template": "t", "when": {"focus_areas": ["neck_shoulders"]}}
        ]
    )
    now = datetime(2026, 12, 1, 16, 30, tzinfo=NY)
    lower_back = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY), focus_areas=("lower_back", "hips_glutes"))
    assert plan_client({"c": c}, CLIENT, [lower_back], now).planned == []
    no_focus = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY))
    assert plan_client({"c": c}, CLIENT, [no_focus], now).planned == []
    neck = session("s1", datetime(2026, 12, 1, 15, 0, tzinfo=NY), focus_areas=("lower_back", "neck_shoulders"))
    assert [p.step for p in plan_client({"c": c}, CLIENT, [neck], now).planned] == ["neck_tip"]


# --- visits: add-ons and duplicated rows ------------------------------------------------------


def test_split_booking_is_one_visit_with_the_therapist_and_services_named_once() -> None:
    # Friday 15:00 NMT 60 with a 30-minute cupping add-on; the export repeats the add-on row, and
    # only the add-on row names the therapist.
    friday = datetime(2027, 1, 15, 15, 0, tzinfo=NY)
    rows = [
        session("v-1", friday, "booked"),
        session("v-2", friday + timedelta(hours=1), "booked", minutes=30, service="Cupping 30", therapist="Carlos"),
        session("v-3", friday + timedelta(hours=1), "booked", minutes=30, service="Cupping 30", therapist="Carlos"),
    ]
    (visit,), absorbed = group_visits(rows)
    assert (visit.external_id, visit.service, visit.therapist) == ("v-1", "NMT 60 + Cupping 30", "Carlos")
    assert visit.end == friday + timedelta(hours=1, minutes=30)
    assert absorbed == {"v-2": "v-1", "v-3": "v-1"}


def test_sessions_after_a_merged_visit_still_get_their_reminders() -> None:
    friday = datetime(2027, 1, 15, 15, 0, tzinfo=NY)
    sessions = [
        session("v-1", friday, "booked"),
        session("v-2", friday + timedelta(hours=1), "booked", minutes=30, service="Cupping 30"),
        session("v-4", friday + timedelta(days=7), "booked"),
    ]
    reminder = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t", "expires_after": "20h"}])
    result = plan_client({"reminder": reminder}, CLIENT, sessions, datetime(2027, 1, 12, 9, 0, tzinfo=NY))
    assert [(p.session_external_id, p.due_at) for p in result.planned] == [
        ("v-1", datetime(2027, 1, 14, 15, 0, tzinfo=NY)),
        ("v-4", datetime(2027, 1, 21, 15, 0, tzinfo=NY)),
    ]


# --- visits as the store hands them over (UTC) ------------------------------------------------


def test_evening_add_on_from_the_store_joins_its_visit() -> None:
    # 18:00-19:00 EST massage plus a 19:00-19:30 cupping add-on, read back from the store in UTC.
    reminder = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t", "expires_after": "20h"}])
    main = session("m-1", datetime(2027, 1, 15, 18, 0, tzinfo=NY).astimezone(UTC), "booked")
    add_on = session(
        "m-2", datetime(2027, 1, 15, 19, 0, tzinfo=NY).astimezone(UTC), "booked", minutes=30, service="Cupping 30"
    )
    result = plan_client({"reminder": reminder}, CLIENT, [main, add_on], datetime(2027, 1, 12, 9, 0, tzinfo=NY))
    assert [p.key for p in result.planned] == ["reminder/step1/c1/m-1/preferred"]
    assert result.blocked == {"reminder/step1/c1/m-2/preferred": "part of visit m-1"}
