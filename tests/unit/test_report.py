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
    MessageFact,
    answered,
    attribute,
    build_report,
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
