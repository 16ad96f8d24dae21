"""The report's pure core (issue 14): last-touch attribution, counts per campaign step, the
holdout comparison and its confidence interval, and the holdout draw itself."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followup.config.loader import load_clinic
from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session
from followup.core.holdout import HELD_OUT, holdout_draw, in_holdout
from followup.core.planner import plan_client
from followup.core.report import (
    MIN_GROUP,
    Booking,
    ClientEvent,
    Comparison,
    MessageFact,
    StepReport,
    _pct,
    _round,
    answered,
    attribute,
    build_report,
    campaign_comparisons,
    cancel_kind,
    compare,
    group_comparison,
    suppression_kind,
)
from followup.exceptions import ConfigError
from followup.timeutil import zone
from tests.conftest import REPO

MIAMI = zone("America/New_York")
T0 = datetime(2026, 11, 2, 11, 0, tzinfo=MIAMI)
WEEK = timedelta(days=7)


def fact(
    mid: int,
    client: int,
    *,
    campaign: str = "rebook_nudge",
    step: str = "first_nudge",
    purpose: str = "marketing",
    status: str = "sent",
    reason: str | None = None,
    at: datetime = T0,
    channel: str | None = "sms",
    delivery: str | None = None,
    segments: int = 1,
) -> MessageFact:
    sent = status == "sent"
    return MessageFact(
        id=mid,
        campaign=campaign,
        step=step,
        step_index=0,
        client_id=client,
        purpose=purpose,
        status=status,
        reason=reason,
        due_at=at,
        sent_at=at if sent or status == "failed" else None,
        sent_channel=channel if sent or status == "failed" else None,
        delivery_status=delivery,
        segments=segments if sent and channel == "sms" else 0,
    )


def test_last_touch_attribution_credits_the_latest_touch_within_the_window() -> None:
    messages = [
        fact(1, 7, at=T0),
        fact(2, 7, at=T0 + timedelta(days=2), campaign="win_back", step="day60"),
        fact(3, 8, at=T0, delivery="undelivered"),  # never reached the client: no touch
        fact(4, 9, at=T0, purpose="care", campaign="post_session_care"),  # care: no touch
        fact(5, 10, at=T0),
    ]
    bookings = [
        Booking(7, "s-7", T0 + timedelta(days=3)),  # after both touches: the later one
        Booking(8, "s-8", T0 + timedelta(days=1)),
        Booking(9, "s-9", T0 + timedelta(days=1)),
        Booking(10, "s-10", T0 + WEEK + timedelta(minutes=1)),  # just outside the window
        Booking(10, "s-10b", T0 - timedelta(hours=1)),  # before the message
    ]
    assert attribute(messages, bookings, WEEK) == {"s-7": 2}


def test_a_reply_answers_the_last_message_sent_before_it() -> None:
    messages = [fact(1, 7, at=T0), fact(2, 7, at=T0 + timedelta(days=1)), fact(3, 8, at=T0 + timedelta(days=2))]
    found = answered(messages, ClientEvent(7, T0 + timedelta(days=1, hours=2)))
    assert found is not None and found.id == 2
    assert answered(messages, ClientEvent(7, T0 - timedelta(hours=1))) is None


def test_a_text_answers_the_last_text_not_a_later_email() -> None:
    messages = [
        fact(1, 7, at=T0),
        fact(2, 7, at=T0 + timedelta(hours=1), channel="email"),  # sent after the SMS, before the reply
        fact(3, 7, at=T0 + timedelta(hours=2), status="scheduled"),  # not sent
    ]
    found = answered(messages, ClientEvent(7, T0 + timedelta(hours=3)))
    assert found is not None and found.id == 1
    assert answered(messages, ClientEvent(7, T0 + timedelta(hours=3)), channel="email") == messages[1]
    assert answered(messages, ClientEvent(7, T0 + timedelta(minutes=59)), channel="email") is None
    assert answered(messages, ClientEvent(7, T0), channel="sms") == messages[0]  # at the same instant


def test_reasons_fall_into_the_report_kinds() -> None:
    assert suppression_kind("no consent for marketing sms") == "consent"
    assert suppression_kind("duplicate") == "duplicate"
    assert suppression_kind("over segment limit") == "over segment limit"
    assert suppression_kind("no phone number; no consent for marketing email") == "consent"
    assert suppression_kind(None) == "other"
    assert cancel_kind("rebooked (session s-9)") == "rebooked"
    assert cancel_kind("session cancelled") == "session cancelled"
    assert cancel_kind("campaign disabled") == "other"


def test_report_counts_per_campaign_step() -> None:
    end = T0 + timedelta(days=30)
    messages = [
        fact(1, 1, at=T0, delivery="delivered", segments=2),
        fact(2, 2, at=T0, delivery="undelivered"),
        fact(3, 3, status="failed", reason="permanent failure", channel="email"),
        fact(4, 4, status="expired"),
        fact(5, 5, status="suppressed", reason="no consent for marketing sms"),
        fact(6, 6, status="suppressed", reason="duplicate"),
        fact(7, 7, status="cancelled", reason="rebooked (session s-77)"),
        fact(8, 8, status="cancelled", reason=HELD_OUT),
        fact(9, 9, status="scheduled"),
        fact(10, 1, at=T0 + timedelta(hours=1), purpose="care", campaign="post_session_care", step="thanks"),
        fact(11, 1, at=T0 - timedelta(days=40)),  # outside the period
    ]
    bookings = [Booking(1, "s-1", T0 + timedelta(days=2)), Booking(8, "s-8", T0 + timedelta(days=1))]
    opt_outs = [ClientEvent(2, T0 + timedelta(days=6)), ClientEvent(1, T0 + timedelta(days=8))]
    replies = [ClientEvent(1, T0 + timedelta(minutes=30))]
    report = build_report(messages, bookings, opt_outs, replies, T0 - timedelta(days=1), end, price_per_segment=0.01)
    by_step = {(r.campaign, r.step): r for r in report}
    assert list(by_step) == [("post_session_care", "thanks"), ("rebook_nudge", "first_nudge")]
    nudge = by_step["rebook_nudge", "first_nudge"].as_json()
    assert nudge["planned"] == 8  # every row but the held-out one
    assert (nudge["sent"], nudge["delivered"], nudge["failed"], nudge["expired"]) == (2, 1, 1, 1)
    assert nudge["failed_by_reason"] == {"permanent failure": 1}
    assert nudge["email_bounces"] == 1
    assert nudge["suppressed"] == 2
    step = by_step["rebook_nudge", "first_nudge"]
    assert step.suppressed_by_reason["consent"] == 1 and step.suppressed_by_reason["duplicate"] == 1
    assert nudge["cancelled"] == 1 and step.cancelled_by_reason["rebooked"] == 1
    assert nudge["opted_out_after"] == 1  # client 2 within 7 days; client 1 after 8 days is not
    assert nudge["replied"] == 1  # the reply came 30 minutes after message 1
    assert nudge["sms_segments"] == 2 + 1 and nudge["sms_cost"] == pytest.approx(0.03)
    assert nudge["rebooked_attributed"] == 1  # client 1's booking; message 2 was undelivered
    assert nudge["conversion_rate"] == 1.0  # one touch (message 1), one booking
    assert (nudge["holdout_clients"], nudge["holdout_rebooked"]) == (1, 1)
    assert nudge["reached_clients"] == 1
    care = by_step["post_session_care", "thanks"].as_json()
    assert care["conclusion"] is None and care["holdout_clients"] == 0


History = tuple[list[MessageFact], list[Booking]]


def history(reached: int, reached_rate: float, held: int, held_rate: float, seed: int = 1) -> History:
    """Reached and held-out clients of one campaign step; each rebooks with its group's rate."""
    rng = random.Random(seed)
    messages: list[MessageFact] = []
    bookings: list[Booking] = []
    for i in range(reached + held):
        is_held = i >= reached
        at = T0 + timedelta(hours=i)
        messages.append(
            fact(i, i, at=at, status="cancelled" if is_held else "sent", reason=HELD_OUT if is_held else None)
        )
        if rng.random() < (held_rate if is_held else reached_rate):
            bookings.append(Booking(i, f"s-{i}", at + timedelta(days=3)))
    return messages, bookings


def test_when_nudged_clients_rebook_more_often_the_interval_says_so() -> None:
    messages, bookings = history(400, 0.35, 400, 0.15)
    c = group_comparison(messages, bookings, WEEK)
    assert (c.reached, c.held_out) == (400, 400)
    assert c.difference is not None and c.low is not None and c.high is not None
    assert 0.1 < c.difference < 0.3
    assert 0 < c.low < c.difference < c.high
    assert c.conclusive
    assert c.sentence().startswith("It works:")
    assert "95% CI" in c.sentence()


def test_with_no_real_difference_the_interval_spans_zero() -> None:
    messages, bookings = history(300, 0.2, 300, 0.2, seed=3)
    c = group_comparison(messages, bookings, WEEK)
    assert c.low is not None and c.high is not None and c.low < 0 < c.high
    assert c.sentence().startswith("No difference that chance cannot explain")


def test_on_ten_clients_the_data_is_too_small_to_conclude() -> None:
    messages, bookings = history(5, 0.8, 5, 0.0)
    c = group_comparison(messages, bookings, WEEK)
    assert not c.conclusive
    assert c.sentence().startswith("Too few clients to conclude: 5 reached and 5 held out")
    assert str(MIN_GROUP) in c.sentence()


def test_the_interval_is_statsmodels_newcombe() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    c = compare(200, 70, 180, 27)
    low, high = confint_proportions_2indep(70, 200, 27, 180, method="newcomb", compare="diff")
    assert (c.low, c.high) == pytest.approx((low, high))
    assert c.difference == pytest.approx(70 / 200 - 27 / 180)


def test_a_group_without_clients_has_no_interval() -> None:
    assert compare(10, 3, 0, 0).sentence() == "No holdout group: nothing to compare with."
    assert compare(0, 0, 10, 3).difference is None


def test_the_holdout_draw_is_stable_and_takes_about_the_share() -> None:
    # SHA-256 of "campaign NUL id": fixed across runs and Python versions.
    assert holdout_draw("rebook_nudge", "c-1001") == holdout_draw("rebook_nudge", "c-1001")
    assert holdout_draw("rebook_nudge", "c-1001") != holdout_draw("win_back", "c-1001")
    ids = [f"c-{i}" for i in range(4000)]
    held = {c for c in ids if in_holdout("rebook_nudge", c, 0.5)}
    assert 0.46 < len(held) / len(ids) < 0.54
    tenth = {c for c in ids if in_holdout("rebook_nudge", c, 0.1)}
    assert 0.08 < len(tenth) / len(ids) < 0.12
    assert tenth <= held  # raising the share keeps everyone already held out
    assert not any(in_holdout("rebook_nudge", c, 0.0) for c in ids)


def _marketing(holdout: str) -> Campaign:
    return Campaign.model_validate(
        {
            "description": "tips",
            "purpose": "marketing",
            "trigger": "session_completed",
            "holdout": holdout,
            "steps": [{"offset": "3d at 10:30", "template": "tip"}],
        }
    )


def test_the_planner_holds_out_a_stable_half_and_never_care() -> None:
    tips = _marketing("50%")
    care = tips.model_copy(update={"purpose": "care", "holdout": 0.0})
    assert tips.holdout == 0.5
    now = T0
    held_clients = set()
    for i in range(400):
        client = Client(external_id=f"c-{i}", first_name="Ana", phone="+13055550100", timezone="America/New_York")
        session = Session(
            f"s-{i}", client.external_id, now - timedelta(hours=2), now - timedelta(hours=1), "NMT", status="completed"
        )
        plan = plan_client({"tips": tips, "care": care}, client, [session], now)
        flags = {p.campaign: p.held_out for p in plan.planned}
        assert flags["care"] is False
        if flags["tips"]:
            held_clients.add(client.external_id)
        assert plan_client({"tips": tips, "care": care}, client, [session], now).planned == plan.planned
    assert 160 < len(held_clients) < 240


def test_holdout_is_validated_with_file_line_and_key(tmp_path: Path) -> None:
    import shutil

    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    text = (config / "campaigns.yaml").read_text()
    text = text.replace(
        "  purpose: care\n  trigger: session_completed\n",
        "  purpose: care\n  holdout: 10%\n  trigger: session_completed\n",
        1,
    )
    text = text.replace(
        "  purpose: marketing\n  trigger: session_completed\n",
        "  purpose: marketing\n  holdout: 95%\n  trigger: session_completed\n",
        1,
    )
    (config / "campaigns.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_clinic(config, REPO / "templates")
    lines = [str(i) for i in caught.value.issues]
    care = [line for line in lines if "only marketing campaigns may have a holdout" in line]
    assert care and "campaigns.yaml:" in care[0] and "post_session_care.holdout" in care[0]
    high = [line for line in lines if "between 0% and 90%" in line]
    assert high and "self_care_tips.holdout" in high[0]


def test_a_later_touch_after_the_period_takes_the_credit_and_the_reply() -> None:
    end = T0 + timedelta(days=1)
    inside, after = fact(1, 7, at=T0), fact(2, 7, at=T0 + timedelta(days=2), step="second_nudge")
    booking = Booking(7, "s-7", T0 + timedelta(days=3))
    reply = ClientEvent(7, T0 + timedelta(days=2, hours=1))
    [step] = build_report([inside, after], [booking], [], [reply], T0 - timedelta(days=1), end)
    assert step.step == "first_nudge"  # the later message is outside the period: not reported
    assert (step.rebooked_attributed, step.replied) == (0, 0)  # both belong to the later message


def test_held_out_clients_the_campaign_could_not_reach_are_left_out_of_the_comparison() -> None:
    held = dataclasses.replace(fact(1, 1, status="cancelled", reason=HELD_OUT), reachable=False)
    booking = Booking(1, "s-1", T0 + timedelta(days=1))
    assert group_comparison([held, fact(2, 2)], [booking], WEEK).held_out == 0
    assert group_comparison([dataclasses.replace(held, reachable=True), fact(2, 2)], [booking], WEEK).held_out == 1


def test_a_visit_entered_late_or_the_nudged_visit_itself_is_no_rebooking() -> None:
    """A booking counts only when the session takes place after the message: a past
    appointment imported after a nudge (or the visit the nudge is about, imported late)
    must not credit the nudge nor count as a held-out client's rebooking."""
    touch = T0
    late_past_visit = Booking(1, "s-past", T0 + timedelta(days=1), starts_at=T0 - timedelta(days=10))
    future_visit = Booking(1, "s-next", T0 + timedelta(days=1), starts_at=T0 + timedelta(days=5))
    assert not late_past_visit.follows(touch, WEEK)
    assert future_visit.follows(touch, WEEK)
    assert not Booking(1, "s-now", T0 + timedelta(days=1), starts_at=T0).follows(touch, WEEK)  # at the touch
    assert Booking(1, "s-unknown", T0 + timedelta(days=1)).follows(touch, WEEK)  # start not known
    assert not Booking(1, "s-early", T0 - timedelta(minutes=1), starts_at=T0 + WEEK).follows(touch, WEEK)
    assert Booking(1, "s-edge", T0 + WEEK, starts_at=T0 + WEEK).follows(touch, WEEK)
    assert not Booking(1, "s-late", T0 + WEEK + timedelta(seconds=1), starts_at=T0 + WEEK * 2).follows(touch, WEEK)


# --- Pinned wording, boundaries and keys (mutation testing: each test below fails when one
# --- detail of the report core changes).


def test_each_conclusion_has_its_exact_sentence() -> None:
    assert compare(30, 15, 30, 3).sentence() == (
        "It works: 50% of reached clients rebooked, 10% of held-out ones "
        "(difference +40.0 points, 95% CI +17.0 to +58.1)."
    )
    assert compare(30, 3, 30, 15).sentence() == (
        "Reached clients rebooked less often: 10% of reached clients rebooked, 50% of held-out ones "
        "(difference -40.0 points, 95% CI -58.1 to -17.0)."
    )
    assert compare(40, 13, 50, 11).sentence() == (
        "No difference that chance cannot explain: 32% of reached clients rebooked, 22% of held-out ones "
        "(difference +10.5 points, 95% CI -7.7 to +28.5)."
    )
    assert compare(29, 10, 30, 3).sentence() == (
        "Too few clients to conclude: 29 reached and 30 held out (at least 30 in each group are needed)."
    )
    assert compare(10, 3, 0, 0).sentence() == "No holdout group: nothing to compare with."


def test_both_groups_need_min_group_clients_to_conclude() -> None:
    assert MIN_GROUP == 30
    assert compare(MIN_GROUP, 10, MIN_GROUP, 3).conclusive
    assert not compare(MIN_GROUP - 1, 10, MIN_GROUP, 3).conclusive
    assert not compare(MIN_GROUP, 10, MIN_GROUP - 1, 3).conclusive
    assert compare(30, 10, 29, 3).sentence().startswith("Too few clients to conclude: 30 reached and 29 held out")


def test_a_conclusive_comparison_without_an_interval_is_too_few_to_conclude() -> None:
    bare = Comparison(40, 10, 40, 5)
    assert bare.conclusive and bare.sentence().startswith("Too few clients to conclude")
    for missing in ("difference", "low", "high"):
        values = {"difference": 0.1, "low": 0.05, "high": 0.2, missing: None}
        partial = Comparison(40, 10, 40, 5, **values)
        assert partial.sentence().startswith("Too few clients to conclude"), missing
    assert Comparison(40, 10, 40, 5, 0.1, 0.05, 0.2).sentence().startswith("It works:")


def test_an_empty_group_gives_counts_and_no_interval() -> None:
    for c in (compare(10, 3, 0, 0), compare(0, 0, 10, 3)):
        assert (c.difference, c.low, c.high) == (None, None, None)
    assert compare(10, 3, 0, 0) == Comparison(10, 3, 0, 0)
    assert compare(0, 0, 10, 3) == Comparison(0, 0, 10, 3)


def test_the_interval_is_95_percent_and_plain_floats() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    c = compare(200, 70, 180, 27)
    low, high = confint_proportions_2indep(70, 200, 27, 180, method="newcomb", compare="diff", alpha=0.05)
    assert c.low == pytest.approx(float(low), abs=1e-12) and c.high == pytest.approx(float(high), abs=1e-12)
    assert type(c.low) is float and type(c.high) is float
    assert (c.reached, c.reached_rebooked, c.held_out, c.held_out_rebooked) == (200, 70, 180, 27)


def test_percentages_round_and_an_empty_whole_is_a_dash() -> None:
    assert _pct(1, 3) == "33%"
    assert _pct(2, 3) == "67%"
    assert _pct(0, 0) == "-"
    assert _pct(3, 0) == "-"
    assert _round(None) is None
    assert _round(0.123456) == 0.1235


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("no consent for marketing sms", "consent"),
        ("Opted OUT on 2026-11-01", "consent"),
        ("no phone number", "consent"),
        ("no email address", "consent"),
        ("outside the sending window", "window"),
        ("weekly cap reached", "cap"),
        ("DUPLICATE of message 12", "duplicate"),
        ("body over 3 segments", "over segment limit"),
        ("no consent; outside the window; cap; duplicate", "consent"),  # the first kind named wins
        ("window and cap", "window"),
        ("cap and duplicate", "cap"),
        ("duplicate over segment limit", "duplicate"),
        ("something else", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_every_suppression_reason_falls_into_its_kind(reason: str | None, kind: str) -> None:
    assert suppression_kind(reason) == kind


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("rebooked (session s-9)", "rebooked"),
        ("Rebooked", "rebooked"),
        ("client has a later visit", "rebooked"),
        ("a Later Visit is booked", "rebooked"),
        ("not rebooked", "other"),  # "rebooked" counts only at the start
        ("session cancelled", "session cancelled"),
        ("Session Cancelled by the clinic", "session cancelled"),
        ("session no_show", "session cancelled"),
        ("the session cancelled", "other"),
        ("the session no_show", "other"),
        ("campaign disabled", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_every_cancel_reason_falls_into_its_kind(reason: str | None, kind: str) -> None:
    assert cancel_kind(reason) == kind


def test_a_new_step_report_starts_with_every_kind_at_zero() -> None:
    r = StepReport("c", "s", 0, "marketing")
    assert r.suppressed_by_reason == {
        "consent": 0,
        "window": 0,
        "cap": 0,
        "duplicate": 0,
        "over segment limit": 0,
        "other": 0,
    }
    assert r.cancelled_by_reason == {"rebooked": 0, "session cancelled": 0, "other": 0}
    assert r.failed_by_reason == {}
    assert r.comparison == Comparison(0, 0, 0, 0)
    assert r.conversion_rate is None
    assert r.sms_cost == 0.0


def test_as_json_has_every_key_with_its_value_rounded_to_four_places() -> None:
    r = StepReport(
        "rebook_nudge",
        "first_nudge",
        2,
        "marketing",
        planned=20,
        sent=9,
        delivered=8,
        failed=3,
        failed_by_reason={"carrier": 3},
        expired=4,
        suppressed=2,
        cancelled=1,
        opted_out_after=5,
        replied=6,
        touches=3,
        rebooked_attributed=1,
        sms_segments=11,
        sms_cost=0.123456,
        email_bounces=7,
        comparison=Comparison(31, 12, 32, 13, 0.0123456, -0.2345678, 0.3456789),
    )
    assert r.as_json() == {
        "campaign": "rebook_nudge",
        "step": "first_nudge",
        "purpose": "marketing",
        "planned": 20,
        "sent": 9,
        "delivered": 8,
        "failed": 3,
        "failed_by_reason": {"carrier": 3},
        "expired": 4,
        "suppressed": 2,
        "suppressed_by_reason": dict.fromkeys(
            ("consent", "window", "cap", "duplicate", "over segment limit", "other"), 0
        ),
        "cancelled": 1,
        "cancelled_by_reason": {"rebooked": 0, "session cancelled": 0, "other": 0},
        "opted_out_after": 5,
        "replied": 6,
        "sms_segments": 11,
        "sms_cost": 0.1235,
        "email_bounces": 7,
        "rebooked_attributed": 1,
        "conversion_rate": 0.3333,
        "reached_clients": 31,
        "reached_rebooked": 12,
        "holdout_clients": 32,
        "holdout_rebooked": 13,
        "difference": 0.0123,
        "ci_low": -0.2346,
        "ci_high": 0.3457,
        "conclusion": (
            "No difference that chance cannot explain: 39% of reached clients rebooked, 41% of held-out ones "
            "(difference +1.2 points, 95% CI -23.5 to +34.6)."
        ),
    }


def test_as_json_of_a_care_step_has_no_rate_interval_or_conclusion() -> None:
    data = StepReport("post_session_care", "thanks", 0, "care", planned=1).as_json()
    assert data["conversion_rate"] is None
    assert (data["difference"], data["ci_low"], data["ci_high"]) == (None, None, None)
    assert data["conclusion"] is None
    assert StepReport("n", "s", 0, "marketing").as_json()["conclusion"] == (
        "No holdout group: nothing to compare with."
    )


def counts(c: Comparison) -> tuple[int, int, int, int]:
    return (c.reached, c.reached_rebooked, c.held_out, c.held_out_rebooked)


def test_campaign_comparisons_cover_marketing_campaigns_sent_or_due_in_the_period() -> None:
    start, end = T0, T0 + timedelta(days=10)
    messages = [
        fact(1, 1, campaign="win_back", at=start),  # at the start: in
        fact(2, 2, campaign="win_back", status="cancelled", reason=HELD_OUT, at=start + timedelta(days=1)),
        fact(3, 3, campaign="win_back", at=end),  # at the end: out
        fact(4, 4, campaign="win_back", status="cancelled", reason=HELD_OUT, at=start - timedelta(seconds=1)),
        fact(5, 5, campaign="rebook_nudge", at=start + timedelta(days=2), step="second_nudge"),
        fact(6, 6, campaign="post_session_care", purpose="care", at=start),
        fact(7, 7, campaign="rebook_nudge", at=start, step="first_nudge"),
    ]
    bookings = [
        Booking(1, "s-1", start + timedelta(days=2)),
        Booking(2, "s-2", start + timedelta(days=9)),  # 8 days after the due time: outside
        Booking(7, "s-7", start + timedelta(days=1)),
    ]
    found = campaign_comparisons(messages, bookings, start, end, WEEK)
    assert list(found) == ["rebook_nudge", "win_back"]
    assert counts(found["win_back"]) == (1, 1, 1, 0)
    assert found["rebook_nudge"] == Comparison(2, 1, 0, 0)  # both steps together
    assert campaign_comparisons(messages, bookings, end + WEEK, end + 2 * WEEK, WEEK) == {}


def test_the_period_includes_its_start_and_excludes_its_end() -> None:
    start, end = T0, T0 + timedelta(days=1)
    messages = [
        fact(1, 1, at=start),
        fact(2, 2, at=end - timedelta(seconds=1)),
        fact(3, 3, at=end),
        fact(4, 4, at=start - timedelta(seconds=1)),
        fact(5, 5, status="suppressed", reason="duplicate", at=start),  # due at the start
        fact(6, 6, status="suppressed", reason="duplicate", at=end),
    ]
    [step] = build_report(messages, [], [], [], start, end)
    assert (step.planned, step.sent, step.suppressed) == (3, 2, 1)
    assert build_report(messages, [], [], [], end + WEEK, end + 2 * WEEK) == []


def test_steps_are_ordered_by_campaign_then_step_index() -> None:
    def step(mid: int, campaign: str, name: str, index: int) -> MessageFact:
        return dataclasses.replace(fact(mid, mid, campaign=campaign, step=name), step_index=index)

    messages = [
        step(1, "win_back", "day60", 0),
        step(2, "rebook_nudge", "second_nudge", 1),
        step(3, "rebook_nudge", "a_first", 0),
        step(4, "rebook_nudge", "first_nudge", 0),
    ]
    report = build_report(messages, [], [], [], T0, T0 + WEEK)
    assert [(r.campaign, r.step, r.step_index) for r in report] == [
        ("rebook_nudge", "a_first", 0),
        ("rebook_nudge", "first_nudge", 0),
        ("rebook_nudge", "second_nudge", 1),
        ("win_back", "day60", 0),
    ]


def test_an_opt_out_counts_from_the_send_to_seven_days_after_inclusive() -> None:
    messages = [fact(i, i) for i in range(1, 6)]
    opt_outs = [
        ClientEvent(1, T0),  # at the send
        ClientEvent(2, T0 + timedelta(days=7)),  # the last instant of the window
        ClientEvent(3, T0 + timedelta(days=7, seconds=1)),
        ClientEvent(4, T0 - timedelta(seconds=1)),  # before the message
        ClientEvent(99, T0),  # another client
    ]
    [step] = build_report(messages, [], opt_outs, [], T0, T0 + WEEK)
    assert step.opted_out_after == 2
    unsent = [fact(1, 1, status="failed", reason="x"), fact(2, 2, status="expired")]
    [step] = build_report(unsent, [], [ClientEvent(1, T0), ClientEvent(2, T0)], [], T0, T0 + WEEK)
    assert step.opted_out_after == 0


def test_failures_count_by_reason_and_only_email_failures_are_bounces() -> None:
    messages = [
        fact(1, 1, status="failed", reason="carrier", channel="sms"),
        fact(2, 2, status="failed", reason="carrier", channel="sms"),
        fact(3, 3, status="failed", reason=None, channel="email"),
        fact(4, 4, status="failed", reason="550 no such user", channel="email"),
    ]
    [step] = build_report(messages, [], [], [], T0, T0 + WEEK)
    assert step.failed == 4 and step.sent == 0 and step.touches == 0
    assert step.failed_by_reason == {"carrier": 2, "unknown": 1, "550 no such user": 1}
    assert step.email_bounces == 2
    assert step.sms_segments == 0


def test_segments_and_cost_count_only_sent_texts() -> None:
    email = dataclasses.replace(fact(2, 2, channel="email"), segments=4)
    messages = [fact(1, 1, segments=3), email, fact(3, 3, segments=2, delivery="delivered")]
    [step] = build_report(messages, [], [], [], T0, T0 + WEEK, price_per_segment=0.25)
    assert step.sms_segments == 5
    assert step.sms_cost == pytest.approx(1.25)
    assert (step.sent, step.delivered, step.touches) == (3, 1, 3)
    [free] = build_report(messages, [], [], [], T0, T0 + WEEK)
    assert free.sms_cost == 0.0


def test_every_suppression_and_cancel_kind_is_counted_in_the_report() -> None:
    reasons = ["no consent", "window", "weekly cap", "duplicate", "3 segments", "who knows", "opted out"]
    suppressed = [fact(i, i, status="suppressed", reason=r) for i, r in enumerate(reasons, 1)]
    cancels = ["rebooked", "session cancelled", "session no_show", "campaign disabled"]
    cancelled = [fact(10 + i, 10 + i, status="cancelled", reason=r) for i, r in enumerate(cancels)]
    [step] = build_report(suppressed + cancelled, [], [], [], T0, T0 + WEEK)
    assert step.suppressed == 7 and step.cancelled == 4 and step.planned == 11
    assert step.suppressed_by_reason == {
        "consent": 2,
        "window": 1,
        "cap": 1,
        "duplicate": 1,
        "over segment limit": 1,
        "other": 1,
    }
    assert step.cancelled_by_reason == {"rebooked": 1, "session cancelled": 2, "other": 1}


def test_replies_and_bookings_add_up_per_message() -> None:
    messages = [fact(1, 1), fact(2, 2), fact(3, 3, status="scheduled")]
    replies = [ClientEvent(1, T0 + timedelta(hours=1)), ClientEvent(1, T0 + timedelta(hours=2)), ClientEvent(2, T0)]
    replies.append(ClientEvent(3, T0 + timedelta(hours=1)))  # client 3 got nothing: answers nothing
    bookings = [
        Booking(1, "s-1a", T0 + timedelta(days=1)),
        Booking(1, "s-1b", T0 + timedelta(days=2)),
        Booking(3, "s-3", T0 + timedelta(days=1)),
    ]
    [step] = build_report(messages, bookings, [], replies, T0, T0 + WEEK)
    assert step.replied == 3
    assert step.rebooked_attributed == 2
    assert step.touches == 2
    assert step.conversion_rate == 1.0
    assert step.comparison == Comparison(2, 1, 0, 0)


def test_a_care_step_gets_no_comparison_and_a_marketing_step_its_own() -> None:
    care = fact(1, 1, purpose="care", campaign="post_session_care", step="thanks")
    nudge = fact(2, 2)
    held = fact(3, 3, status="cancelled", reason=HELD_OUT)
    other_step = fact(4, 4, step="second_nudge")
    bookings = [Booking(1, "s-1", T0 + timedelta(days=1)), Booking(3, "s-3", T0 + timedelta(days=1))]
    report = build_report([care, nudge, held, other_step], bookings, [], [], T0, T0 + WEEK, window=WEEK)
    by_step = {r.step: r for r in report}
    assert by_step["thanks"].comparison == Comparison(0, 0, 0, 0)
    assert counts(by_step["first_nudge"].comparison) == (1, 0, 1, 1)
    assert by_step["first_nudge"].planned == 1  # the held-out message is not planned
    assert by_step["second_nudge"].comparison == Comparison(1, 0, 0, 0)


def test_the_report_window_bounds_attribution_and_the_comparison() -> None:
    messages = [fact(1, 1), fact(2, 2, status="cancelled", reason=HELD_OUT)]
    bookings = [Booking(1, "s-1", T0 + timedelta(days=3)), Booking(2, "s-2", T0 + timedelta(days=3))]
    [short] = build_report(messages, bookings, [], [], T0, T0 + WEEK, window=timedelta(days=2))
    assert short.rebooked_attributed == 0 and counts(short.comparison) == (1, 0, 1, 0)
    [default] = build_report(messages, bookings, [], [], T0, T0 + WEEK)  # 7 days
    assert default.rebooked_attributed == 1 and counts(default.comparison) == (1, 1, 1, 1)


def test_each_client_is_compared_from_their_first_touch_or_first_due_time() -> None:
    messages = [
        fact(1, 1, at=T0 + timedelta(days=5)),  # listed first, but later
        fact(2, 1, at=T0),
        fact(3, 2, status="cancelled", reason=HELD_OUT, at=T0 + timedelta(days=5)),
        fact(4, 2, status="cancelled", reason=HELD_OUT, at=T0),
        fact(5, 3, at=T0, delivery="failed"),  # no touch: not reached
    ]
    # 9 days after the first: outside the window of the first, inside that of the later one
    bookings = [Booking(1, "s-1", T0 + timedelta(days=9)), Booking(2, "s-2", T0 + timedelta(days=9))]
    assert counts(group_comparison(messages, bookings, WEEK)) == (1, 0, 1, 0)
    early = [Booking(1, "s-1", T0 + timedelta(days=1)), Booking(2, "s-2", T0 + timedelta(days=1))]
    assert counts(group_comparison(messages, early, WEEK)) == (1, 1, 1, 1)
    other_client = [Booking(9, "s-9", T0 + timedelta(days=1))]
    assert counts(group_comparison(messages, other_client, WEEK)) == (1, 0, 1, 0)


def test_same_instant_ties_go_to_the_later_message_id() -> None:
    messages = [fact(5, 1), fact(3, 1), fact(4, 2, channel="email")]
    assert attribute(messages, [Booking(1, "s-1", T0 + timedelta(days=1))], WEEK) == {"s-1": 5}
    found = answered(messages, ClientEvent(1, T0))
    assert found is not None and found.id == 5
    assert answered(messages, ClientEvent(2, T0)) is None  # an email does not take a text's reply
    assert answered(messages, ClientEvent(2, T0), channel="email") == messages[2]


def test_attribution_looks_only_at_the_booking_clients_touches() -> None:
    messages = [fact(1, 1), fact(2, 2, at=T0 + timedelta(days=1))]
    bookings = [Booking(1, "s-1", T0 + timedelta(days=2)), Booking(3, "s-3", T0 + timedelta(days=2))]
    assert attribute(messages, bookings, WEEK) == {"s-1": 1}


def test_a_booking_known_at_the_very_instant_of_the_touch_follows_it() -> None:
    assert Booking(1, "s-now", T0, starts_at=T0 + timedelta(days=3)).follows(T0, WEEK)
    assert attribute([fact(1, 1)], [Booking(1, "s-1", T0)], WEEK) == {"s-1": 1}


def test_an_interval_touching_zero_is_no_conclusion() -> None:
    assert Comparison(40, 10, 40, 5, 0.1, 0.0, 0.2).sentence().startswith("No difference that chance")
    assert Comparison(40, 5, 40, 10, -0.1, -0.2, 0.0).sentence().startswith("No difference that chance")
    assert Comparison(40, 10, 40, 5, 0.1, 1e-9, 0.2).sentence().startswith("It works:")
    assert Comparison(40, 5, 40, 10, -0.1, -0.2, -1e-9).sentence().startswith("Reached clients rebooked less often:")


def test_delivered_and_expired_messages_add_up() -> None:
    messages = [
        fact(1, 1, delivery="delivered"),
        fact(2, 2, delivery="delivered"),
        fact(3, 3, status="expired"),
        fact(4, 4, status="expired"),
        fact(5, 5, status="expired"),
    ]
    [step] = build_report(messages, [], [], [], T0, T0 + WEEK)
    assert (step.sent, step.delivered, step.expired, step.planned) == (2, 2, 3, 5)
