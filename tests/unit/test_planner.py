"""The planner: which messages, when, with a fixed ``now`` (no clock is read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session, SessionStatus
from followup.core.planner import plan_client
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
