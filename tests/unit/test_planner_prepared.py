"""The planner with its per-campaign work done once (:class:`PreparedCampaigns`): the same plan as
the straightforward reading of the campaigns, for any client, sessions and ``now``.

The oracle below is that straightforward reading, written once more as plainly as possible (it
is the planner as it was before the per-campaign work was hoisted out of the per-client loop):
every campaign, every step, every channel, recomputed per client.  Hypothesis draws campaigns,
sessions and instants; the planner must agree with the oracle on every field of every message
and every blocked key, in order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session
from followup.core.holdout import in_holdout
from followup.core.planner import (
    Planned,
    PlanResult,
    PreparedCampaigns,
    group_visits,
    horizon,
    plan_client,
    prepare,
    visit_number,
)
from followup.timeutil import zone

NY = zone("America/New_York")
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


def visit(sid: str, start: datetime, status: str = "completed", **kw: Any) -> Session:
    return Session(
        external_id=sid,
        client_external_id=kw.pop("client", "c1"),
        start=start,
        end=start + timedelta(minutes=kw.pop("minutes", 60)),
        service=kw.pop("service", "NMT 60"),
        status=status,  # type: ignore[arg-type]
        **kw,
    )


# --- the oracle ---------------------------------------------------------------------------------


def _ref_channels(channel: str) -> tuple[str, ...]:
    return ("sms", "email") if channel == "both" else (channel,)


def _ref_conditions(step: Any, session: Session, visits: int) -> bool:
    when = step.when
    if when is None:
        return True
    if when.min_visits is not None and visits < when.min_visits:
        return False
    if when.max_visits is not None and visits > when.max_visits:
        return False
    services = {s.casefold() for s in when.services}
    if services and session.service.casefold() not in services:
        return False
    return not (when.focus_areas and not set(when.focus_areas) & set(session.focus_areas))


def _ref_why(trigger: str, session: Session, days: int | None) -> str:
    ref = f"session {session.external_id}"
    return {
        "session_completed": f"after {ref} was completed",
        "session_booked": f"before booked {ref}",
        "first_visit": f"after first visit ({ref})",
        "no_rebook": f"{days} days after {ref} with nothing booked",
        "lapsed": f"{days} days since {ref}, the last visit",
    }[trigger]


def _ref_steps(
    name: str, c: Campaign, client: Client, anchor: datetime, session: Session, visits: int, cap: datetime | None = None
) -> list[Planned]:
    tz = zone(client.timezone)
    out = []
    for index, step in enumerate(c.steps):
        if not _ref_conditions(step, session, visits):
            continue
        due = step.offset.apply(anchor, tz)
        expires = due + step.expires_after
        if cap is not None:
            expires = min(expires, cap)
        step_name = step.name or f"step{index + 1}"
        for channel in _ref_channels(step.channel):
            out.append(
                Planned(
                    key=f"{name}/{step_name}/{client.external_id}/{session.external_id}/{channel}",
                    campaign=name,
                    step=step_name,
                    step_index=index,
                    client_external_id=client.external_id,
                    session_external_id=session.external_id,
                    channel=channel,
                    purpose=c.purpose,
                    priority=c.effective_priority,
                    due_at=due,
                    expires_at=expires,
                    why=f"{step.offset.text} {_ref_why(c.trigger.type, session, c.trigger.days)}",
                )
            )
    return out


def _ref_block(result: PlanResult, name: str, c: Campaign, client: Client, session: Session, reason: str) -> None:
    for index, step in enumerate(c.steps):
        for channel in _ref_channels(step.channel):
            step_name = step.name or f"step{index + 1}"
            result.blocked[f"{name}/{step_name}/{client.external_id}/{session.external_id}/{channel}"] = reason


def oracle(campaigns: dict[str, Campaign], client: Client, sessions: list[Session], now: datetime) -> PlanResult:
    result = PlanResult()
    tz = zone(client.timezone)
    merged, absorbed = group_visits(sessions, tz)
    ordered = sorted(merged, key=lambda s: s.start)
    completed = [s for s in ordered if s.status == "completed"]
    for name, c in campaigns.items():
        if not c.enabled:
            continue
        days = c.trigger.days or 0
        oldest = now - (
            timedelta(days=days) + max(abs(s.offset.approx()) + s.expires_after for s in c.steps) + timedelta(days=2)
        )
        made: list[Planned] = []
        trigger = c.trigger.type
        if trigger == "session_completed":
            for s in completed:
                if s.end >= oldest:
                    made += _ref_steps(name, c, client, s.end, s, visit_number(s, ordered))
        elif trigger == "session_booked":
            for s in ordered:
                if s.start < oldest:
                    continue
                if s.status == "booked":
                    made += _ref_steps(name, c, client, s.start, s, visit_number(s, ordered), cap=s.start)
                else:
                    why = "session cancelled" if s.status in ("cancelled", "no_show") else "session done"
                    _ref_block(result, name, c, client, s, why)
        elif trigger == "first_visit":
            if completed and completed[0].end >= oldest:
                made += _ref_steps(name, c, client, completed[0].end, completed[0], 1)
        elif completed and completed[-1].end >= oldest:
            last = completed[-1]
            for earlier in completed[:-1]:
                if earlier.end >= oldest:
                    _ref_block(
                        result, name, c, client, earlier, f"a later visit took place (session {last.external_id})"
                    )
            rebooked = [s for s in ordered if s.status == "booked" and s.start > last.start]
            if rebooked:
                _ref_block(result, name, c, client, last, f"rebooked (session {rebooked[0].external_id})")
            else:
                anchor = (last.end.astimezone(tz) + timedelta(days=days)).astimezone(tz)
                made += _ref_steps(name, c, client, anchor, last, len(completed))
        if c.purpose == "marketing" and in_holdout(name, client.external_id, c.holdout):
            made = [replace(p, held_out=True) for p in made]
        result.planned += made
    by_id = {s.external_id: s for s in sessions}
    for part, whole in absorbed.items():
        for name, c in campaigns.items():
            _ref_block(result, name, c, client, by_id[part], f"part of visit {whole}")
    return result


# --- what hypothesis draws ----------------------------------------------------------------------

_OFFSETS_AFTER = ("2h", "1d", "3d at 10:00", "1d12h", "30m", "0d at 11:00", "1d at 02:30")
_OFFSETS_BEFORE = ("-24h", "-1d at 18:00", "-2h", "-3d at 09:30")


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, Campaign]:
    out: dict[str, Campaign] = {}
    for n in range(draw(st.integers(1, 4))):
        trigger_type = draw(
            st.sampled_from(["session_completed", "session_booked", "no_rebook", "lapsed", "first_visit"])
        )
        trigger: Any = trigger_type
        if trigger_type in ("no_rebook", "lapsed"):
            trigger = {"type": trigger_type, "days": draw(st.sampled_from([1, 14, 60]))}
        offsets = _OFFSETS_BEFORE if trigger_type == "session_booked" else _OFFSETS_AFTER
        steps = []
        for j in range(draw(st.integers(1, 3))):
            step: dict[str, Any] = {
                "offset": draw(st.sampled_from(offsets)),
                "template": "t",
                "expires_after": draw(st.sampled_from(["30m", "6h", "1d", "3d"])),
                "channel": draw(st.sampled_from(["sms", "email", "both", "preferred"])),
            }
            if draw(st.booleans()):
                step["name"] = f"named{j}"
            if draw(st.booleans()):
                step["when"] = {
                    "services": draw(st.lists(st.sampled_from(["NMT 60", "SWEDISH 90", "other"]), max_size=2)),
                    "focus_areas": draw(st.lists(st.sampled_from(["neck", "back"]), max_size=2)),
                    "min_visits": draw(st.none() | st.integers(0, 2)),
                    "max_visits": draw(st.none() | st.integers(2, 4)),
                }
            steps.append(step)
        purpose = draw(st.sampled_from(["care", "marketing"]))
        data: dict[str, Any] = {
            "purpose": purpose,
            "trigger": trigger,
            "steps": steps,
            "enabled": draw(st.sampled_from([True, True, True, False])),
        }
        if purpose == "marketing":
            data["holdout"] = draw(st.sampled_from(["0%", "50%", "90%"]))
        out[f"camp{n}"] = campaign(**data)
    return out


NOW = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the New York fall-back night


@st.composite
def histories(draw: st.DrawFn) -> tuple[Client, list[Session]]:
    client = replace(
        CLIENT,
        external_id=draw(st.sampled_from(["c1", "c2", "c3", "c4"])),
        timezone=draw(st.sampled_from(["America/New_York", "Europe/Madrid", "Asia/Kolkata", "UTC"])),
    )
    sessions: list[Session] = []
    for k in range(draw(st.integers(0, 5))):
        joins = draw(st.booleans())
        if sessions and joins:  # same day, touching or overlapping: one visit
            start = sessions[-1].start + timedelta(minutes=draw(st.sampled_from([0, 30, 60])))
        else:
            start = NOW + timedelta(hours=draw(st.integers(-24 * 20, 24 * 10)))
        sessions.append(
            visit(
                f"s{k}",
                start,
                draw(st.sampled_from(["completed", "completed", "booked", "booked", "cancelled", "no_show"])),
                client=client.external_id,
                minutes=draw(st.sampled_from([30, 60, 90])),
                service=draw(st.sampled_from(["NMT 60", "Swedish 90", "nmt 60"])),
                focus_areas=tuple(draw(st.lists(st.sampled_from(["neck", "back"]), max_size=2, unique=True))),
            )
        )
    return client, sessions


@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns(), histories(), st.integers(-24 * 3, 24 * 3))
def test_the_plan_is_the_straightforward_reading_of_the_campaigns(
    camps: dict[str, Campaign], history: tuple[Client, list[Session]], hours: int
) -> None:
    client, sessions = history
    now = NOW + timedelta(hours=hours)
    expected = oracle(camps, client, sessions, now)
    prepared = prepare(camps)
    for got in (plan_client(camps, client, sessions, now), plan_client(prepared, client, sessions, now)):
        assert got.planned == expected.planned
        # == on aware datetimes compares instants; the zone each is written in matters too.
        assert [(p.due_at.tzinfo, p.expires_at.tzinfo) for p in got.planned] == [
            (p.due_at.tzinfo, p.expires_at.tzinfo) for p in expected.planned
        ]
        assert list(got.blocked.items()) == list(expected.blocked.items())


# --- the prepared set itself ----------------------------------------------------------------------


def test_a_prepared_set_is_prepared_once_and_keeps_the_owner_order() -> None:
    camps = {"b": campaign(), "a": campaign(enabled=False), "c": campaign(trigger="first_visit")}
    prepared = prepare(camps)
    assert isinstance(prepared, PreparedCampaigns) and prepare(prepared) is prepared
    assert prepared.campaigns is camps
    assert [p.name for p in prepared.every] == ["b", "a", "c"]
    assert [p.name for p in prepared.enabled] == ["b", "c"]


def test_a_campaign_plan_holds_what_the_steps_say() -> None:
    c = campaign(
        purpose="marketing",
        trigger={"type": "no_rebook", "days": 14},
        steps=[
            {"offset": "-2d", "template": "t", "expires_after": "1d", "channel": "both"},
            {
                "name": "late",
                "offset": "3d at 10:00",
                "template": "t",
                "expires_after": "6h",
                "when": {"services": ["Swedish 90"], "focus_areas": ["neck"]},
            },
        ],
    )
    (plan,) = prepare({"n": c}).every
    assert (plan.name, plan.campaign, plan.priority) == ("n", c, "nudge")
    # 14 days + the longest |offset| + expiry (3d + 6h beats 2d + 1d) + 2 days' margin
    assert plan.horizon == horizon(c) == timedelta(days=14 + 3 + 2, hours=6)
    first, late = plan.steps
    assert (first.index, first.name, first.channels, first.when) == (0, "step1", ("sms", "email"), None)
    assert (first.services, first.focus_areas) == (frozenset(), frozenset())
    assert (late.index, late.name, late.channels) == (1, "late", ("preferred",))
    assert late.services == {"swedish 90"} and late.focus_areas == {"neck"}
    assert (late.offset, late.expires_after) == (c.steps[1].offset, timedelta(hours=6))


def test_service_conditions_ignore_case_and_focus_needs_one_area_in_common() -> None:
    c = campaign(
        steps=[
            {"name": "sw", "offset": "2h", "template": "t", "when": {"services": ["SWEDISH 90"]}},
            {"name": "nb", "offset": "2h", "template": "t", "when": {"focus_areas": ["neck", "back"]}},
        ]
    )
    now = datetime(2026, 12, 3, 17, 0, tzinfo=NY)
    swedish_back = visit("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY), service="swedish 90", focus_areas=("back",))
    assert [p.step for p in plan_client({"c": c}, CLIENT, [swedish_back], now).planned] == ["sw", "nb"]
    other_legs = visit("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY), service="NMT", focus_areas=("legs",))
    assert plan_client({"c": c}, CLIENT, [other_legs], now).planned == []


def test_a_held_out_client_gets_every_message_marked_and_others_none() -> None:
    c = campaign(purpose="marketing", holdout="90%", steps=[{"offset": "2h", "template": "t", "channel": "both"}])
    now = datetime(2026, 12, 3, 17, 0, tzinfo=NY)
    s = visit("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    ids = [f"c{n}" for n in range(40)]
    held = {i for i in ids if in_holdout("m", i, 0.9)}
    assert held and held != set(ids)  # both kinds among these ids
    for i in ids:
        planned = plan_client({"m": c}, replace(CLIENT, external_id=i), [replace(s, client_external_id=i)], now).planned
        assert [p.held_out for p in planned] == [i in held] * 2
    care = campaign(steps=[{"offset": "2h", "template": "t"}])
    assert [p.held_out for p in plan_client({"care": care}, CLIENT, [s], now).planned] == [False]


def test_the_why_names_the_trigger_and_the_anchor() -> None:
    now = datetime(2026, 12, 3, 17, 0, tzinfo=NY)
    done = visit("s1", datetime(2026, 12, 3, 15, 0, tzinfo=NY))
    booked = visit("s2", datetime(2026, 12, 10, 15, 0, tzinfo=NY), "booked")
    whys = {
        "session_completed": "2h after session s1 was completed",
        "first_visit": "2h after first visit (session s1)",
    }
    for trigger, why in whys.items():
        (p,) = plan_client({"c": campaign(trigger=trigger)}, CLIENT, [done], now).planned
        assert p.why == why
    before = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t"}])
    (p,) = plan_client({"c": before}, CLIENT, [booked], now).planned
    assert p.why == "-24h before booked session s2"
    for kind, why in (
        ("no_rebook", "2h 5 days after session s1 with nothing booked"),
        ("lapsed", "2h 5 days since session s1, the last visit"),
    ):
        (p,) = plan_client({"c": campaign(trigger={"type": kind, "days": 5})}, CLIENT, [done], now).planned
        assert p.why == why


# --- the horizon is inclusive ---------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["session_completed", "first_visit", {"type": "no_rebook", "days": 3}])
def test_a_visit_that_ended_exactly_a_horizon_ago_is_still_planned_and_a_moment_earlier_is_not(trigger: Any) -> None:
    c = campaign(trigger=trigger)
    now = datetime(2026, 12, 20, 12, 0, tzinfo=NY)
    edge = now - horizon(c)
    at_edge = visit("s1", edge - timedelta(hours=1))  # ends exactly at the edge
    assert [p.session_external_id for p in plan_client({"c": c}, CLIENT, [at_edge], now).planned] == ["s1"]
    before = visit("s1", edge - timedelta(hours=1, microseconds=1))
    assert plan_client({"c": c}, CLIENT, [before], now).planned == []


def test_a_booking_that_starts_exactly_a_horizon_ago_is_still_planned() -> None:
    c = campaign(trigger="session_booked", steps=[{"offset": "-24h", "template": "t"}])
    now = datetime(2026, 12, 20, 12, 0, tzinfo=NY)
    edge = now - horizon(c)
    assert len(plan_client({"c": c}, CLIENT, [visit("s1", edge, "booked")], now).planned) == 1
    assert plan_client({"c": c}, CLIENT, [visit("s1", edge - timedelta(microseconds=1), "booked")], now).planned == []
    cancelled = plan_client({"c": c}, CLIENT, [visit("s1", edge, "cancelled")], now).blocked
    assert cancelled == {"c/step1/c1/s1/preferred": "session cancelled"}


def test_an_earlier_visit_that_ended_exactly_a_horizon_ago_has_its_nudges_blocked() -> None:
    c = campaign(purpose="marketing", trigger={"type": "no_rebook", "days": 3})
    now = datetime(2026, 12, 20, 12, 0, tzinfo=NY)
    edge = now - horizon(c)
    last = visit("s2", now - timedelta(hours=2))
    earlier = visit("s1", edge - timedelta(hours=1))
    result = plan_client({"c": c}, CLIENT, [earlier, last], now)
    assert result.blocked == {"c/step1/c1/s1/preferred": "a later visit took place (session s2)"}
    assert [p.session_external_id for p in result.planned] == ["s2"]
    older = visit("s1", edge - timedelta(hours=1, microseconds=1))
    assert plan_client({"c": c}, CLIENT, [older, last], now).blocked == {}


def test_a_naive_now_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^now must be time-zone aware"):
        plan_client({}, CLIENT, [], datetime(2026, 12, 3, 16, 0))


def test_visits_are_grouped_by_the_client_day_whatever_zone_the_times_are_written_in() -> None:
    # As read from the database: UTC.  19:30-20:30 in New York is 00:30-01:30 UTC the next day;
    # the add-on at 20:30 New York (01:30 UTC) is the same local day: one visit.
    massage = visit("s1", datetime(2026, 12, 4, 0, 30, tzinfo=UTC))
    add_on = visit("s2", datetime(2026, 12, 4, 1, 30, tzinfo=UTC), minutes=15, service="Hot stones")
    visits, absorbed = group_visits([massage, add_on], NY)
    assert absorbed == {"s2": "s1"} and [v.service for v in visits] == ["NMT 60 + Hot stones"]
    # 18:30 New York (23:30 UTC) then the add-on at 19:30 New York (00:30 UTC, the next UTC day).
    early = visit("s3", datetime(2026, 12, 3, 23, 30, tzinfo=UTC))
    later = visit("s4", datetime(2026, 12, 4, 0, 30, tzinfo=UTC), minutes=15)
    assert group_visits([early, later], NY)[1] == {"s4": "s3"}
