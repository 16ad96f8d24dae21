"""Send-time rules with a fixed ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Consent, Session, SessionStatus
from followup.core.rules import Caps, Defer, Final, MessageFacts, Send, SendWindow, Traffic, decide
from followup.timeutil import zone

NY = zone("America/New_York")
CARE = Campaign.model_validate(
    {"description": "d", "purpose": "care", "trigger": "session_booked", "steps": [{"offset": "-24h", "template": "t"}]}
)
NUDGE = Campaign.model_validate(
    {
        "description": "d",
        "purpose": "marketing",
        "trigger": {"type": "no_rebook", "days": 14},
        "steps": [{"offset": "0d at 11:00", "template": "t"}],
    }
)
CLIENT = Client(
    external_id="c1",
    first_name="Maria",
    phone="+13055550101",
    email="m@example.com",
    consent=Consent(sms_marketing=True),
)
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=NY)
WINDOW = SendWindow(time(9, 0), time(20, 0))


def facts(**kw: object) -> MessageFacts:
    base = MessageFacts(
        campaign="c",
        step_index=0,
        channel="preferred",
        purpose="care",
        due_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(hours=5),
        session_external_id="s1",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def sess(status: SessionStatus = "booked", start: datetime = NOW + timedelta(days=1), sid: str = "s1") -> Session:
    return Session(
        external_id=sid,
        client_external_id="c1",
        start=start,
        end=start + timedelta(hours=1),
        service="NMT",
        status=status,
    )


def test_send_on_preferred_channel() -> None:
    assert decide(facts(), CARE, CLIENT, [sess()], NOW, WINDOW) == Send("sms")
    email_first = replace(CLIENT, preferred_channel="email")
    assert decide(facts(), CARE, email_first, [sess()], NOW, WINDOW) == Send("email")


def test_expiry_wins() -> None:
    decision = decide(facts(expires_at=NOW), CARE, CLIENT, [sess()], NOW, WINDOW)
    assert isinstance(decision, Final) and decision.status == "expired"


def test_cancelled_session_cancels_reminder() -> None:
    decision = decide(facts(), CARE, CLIENT, [sess("cancelled")], NOW, WINDOW)
    assert decision == Final("cancelled", "session cancelled")


def test_rebooked_client_gets_no_nudge() -> None:
    last = sess("completed", NOW - timedelta(days=14))
    new = sess("booked", NOW + timedelta(days=3), sid="s2")
    nudge = facts(purpose="marketing")
    assert decide(nudge, NUDGE, CLIENT, [last], NOW, WINDOW) == Send("sms")
    assert decide(nudge, NUDGE, CLIENT, [last, new], NOW, WINDOW) == Final("cancelled", "rebooked (session s2)")


def test_consent_and_reachability_pick_or_suppress_the_channel() -> None:
    no_sms_marketing = replace(CLIENT, consent=Consent(sms_marketing=False))
    last = sess("completed", NOW - timedelta(days=14))
    assert decide(facts(purpose="marketing"), NUDGE, no_sms_marketing, [last], NOW, WINDOW) == Send("email")
    nothing = replace(no_sms_marketing, email=None)
    decision = decide(facts(purpose="marketing"), NUDGE, nothing, [last], NOW, WINDOW)
    assert decision == Final("suppressed", "no consent for marketing sms; no email address")
    sms_only = facts(channel="sms")
    assert decide(sms_only, CARE, replace(CLIENT, phone=None), [sess()], NOW, WINDOW) == Final(
        "suppressed", "no phone number"
    )


def test_fell_back_message_goes_by_email() -> None:
    assert decide(facts(channel="sms", fell_back=True), CARE, CLIENT, [sess()], NOW, WINDOW) == Send("email")


def test_outside_window_defers_to_next_local_opening() -> None:
    late = datetime(2026, 12, 9, 21, 30, tzinfo=NY)
    decision = decide(
        facts(expires_at=late + timedelta(days=1)), CARE, CLIENT, [sess(start=late + timedelta(days=1))], late, WINDOW
    )
    assert decision == Defer(datetime(2026, 12, 10, 9, 0, tzinfo=NY), "outside the send window")
    early = datetime(2026, 12, 9, 6, 0, tzinfo=NY)
    decision = decide(facts(expires_at=early + timedelta(days=1)), CARE, CLIENT, [sess()], early, WINDOW)
    assert isinstance(decision, Defer) and decision.until == datetime(2026, 12, 9, 9, 0, tzinfo=NY)


def test_window_is_the_clients_own_across_dst() -> None:
    madrid = replace(CLIENT, timezone="Europe/Madrid")
    # 2026-03-29 Madrid springs forward at 02:00; 07:30 local is outside, next opening 09:00 CEST.
    moment = datetime(2026, 3, 29, 7, 30, tzinfo=zone("Europe/Madrid"))
    decision = decide(
        facts(expires_at=moment + timedelta(days=1)),
        CARE,
        madrid,
        [sess(start=moment + timedelta(days=2))],
        moment,
        WINDOW,
    )
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 3, 29, 9, 0, tzinfo=zone("Europe/Madrid"))
    assert decision.until.utcoffset() == timedelta(hours=2)
    # New York's fall-back day: 20:30 EST is outside; the next opening is 09:00 EST the next day.
    evening = datetime(2026, 11, 1, 20, 30, tzinfo=NY)
    decision = decide(
        facts(expires_at=evening + timedelta(days=1)),
        CARE,
        CLIENT,
        [sess(start=evening + timedelta(days=2))],
        evening,
        WINDOW,
    )
    assert isinstance(decision, Defer) and decision.until == datetime(2026, 11, 2, 9, 0, tzinfo=NY)


def test_removed_or_disabled_campaign_cancels() -> None:
    assert decide(facts(), None, CLIENT, [sess()], NOW, WINDOW) == Final(
        "cancelled", "campaign or step removed from config"
    )
    off = CARE.model_copy(update={"enabled": False})
    assert decide(facts(), off, CLIENT, [sess()], NOW, WINDOW) == Final("cancelled", "campaign disabled")


# --- caps -------------------------------------------------------------------------------

TIP = Campaign.model_validate(
    {
        "description": "d",
        "purpose": "marketing",
        "trigger": "session_completed",
        "steps": [{"offset": "1d", "template": "t", "tip": {"categories": ["p"]}}],
    }
)
AFTERCARE = Campaign.model_validate(
    {
        "description": "d",
        "purpose": "care",
        "trigger": "session_completed",
        "steps": [{"offset": "2h", "template": "t"}],
    }
)
CAPS = Caps()


def sent(*hours_ago: float, purpose: str = "care") -> tuple[tuple[datetime, str], ...]:
    return tuple((NOW - timedelta(hours=h), purpose) for h in hours_ago)


def test_three_a_day_then_wait_for_the_oldest_to_age_out() -> None:
    done = sess("completed", NOW - timedelta(hours=3))
    message = facts(session_external_id=done.external_id)
    traffic = Traffic(sent=sent(1, 5, 20))
    decision = decide(message, AFTERCARE, CLIENT, [done], NOW, WINDOW, CAPS, traffic)
    assert decision == Defer(NOW + timedelta(hours=4), "daily cap (3 per 24 h)")
    assert decide(message, AFTERCARE, CLIENT, [done], NOW, WINDOW, CAPS, Traffic(sent=sent(1, 5, 25))) == Send("sms")


def test_one_marketing_message_a_day() -> None:
    done = sess("completed", NOW - timedelta(days=1))
    tip = facts(purpose="marketing", session_external_id=done.external_id)
    decision = decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, Traffic(sent=sent(2, purpose="marketing")))
    assert decision == Defer(NOW + timedelta(hours=22), "marketing cap (1 per 24 h)")
    # A care message that day does not use up the marketing allowance.
    assert decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, Traffic(sent=sent(2))) == Send("sms")


def test_four_due_the_same_day_the_tip_waits_for_the_reminder() -> None:
    """Aftercare and a check-in already went out; a reminder is due tonight: the tip waits."""
    done = sess("completed", NOW - timedelta(hours=3))
    tip = facts(purpose="marketing", session_external_id=done.external_id)
    traffic = Traffic(sent=sent(2, 6), upcoming=((NOW + timedelta(hours=3), "reminder"),))
    decision = decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, traffic)
    assert decision == Defer(NOW + timedelta(hours=3, minutes=1), "leaving room for a higher-priority message")
    # The reminder itself is not held back by the lower-priority tip.
    reminder = decide(
        facts(), CARE, CLIENT, [sess()], NOW, WINDOW, CAPS, Traffic(sent=sent(2, 6), upcoming=((NOW, "tip"),))
    )
    assert reminder == Send("sms")


def test_marketing_window_is_never_wider_than_8_to_20() -> None:
    wide = SendWindow(time(7, 0), time(21, 30))
    assert wide.for_marketing() == SendWindow(time(8, 0), time(20, 0))
    evening = datetime(2026, 12, 9, 20, 30, tzinfo=NY)
    last = sess("completed", evening - timedelta(days=14))
    nudge = facts(purpose="marketing", expires_at=evening + timedelta(days=1))
    assert isinstance(decide(nudge, NUDGE, CLIENT, [last], evening, wide), Defer)
    care = decide(
        facts(expires_at=evening + timedelta(days=1)),
        CARE,
        CLIENT,
        [sess(start=evening + timedelta(days=1))],
        evening,
        wide,
    )
    assert care == Send("sms")


def test_window_on_new_yorks_spring_forward_day() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT.  At 01:30 EST the next opening is 09:00 EDT, 6.5 h later.
    night = datetime(2026, 3, 8, 1, 30, tzinfo=NY)
    decision = decide(
        facts(expires_at=night + timedelta(days=1)),
        CARE,
        CLIENT,
        [sess(start=night + timedelta(days=2))],
        night,
        WINDOW,
    )
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 3, 8, 9, 0, tzinfo=NY) and decision.until.utcoffset() == timedelta(hours=-4)
    assert decision.until.astimezone(UTC) - night.astimezone(UTC) == timedelta(hours=6, minutes=30)
