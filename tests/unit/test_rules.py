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


# --- send window edges ---------------------------------------------------------------------


def test_window_opens_at_exactly_nine_and_closes_at_exactly_eight_pm() -> None:
    # New York's fall-back day, 2026-11-01: the window is the client's wall clock, EST after 02:00.
    reminder = facts(expires_at=datetime(2026, 11, 2, 12, 0, tzinfo=NY))
    tomorrow = [sess(start=datetime(2026, 11, 2, 14, 0, tzinfo=NY))]
    opening = datetime(2026, 11, 1, 9, 0, tzinfo=NY)
    assert decide(reminder, CARE, CLIENT, tomorrow, opening, WINDOW) == Send("sms")
    assert decide(reminder, CARE, CLIENT, tomorrow, opening - timedelta(seconds=1), WINDOW) == Defer(
        opening, "outside the send window"
    )
    last_minute = datetime(2026, 11, 1, 19, 59, tzinfo=NY)
    assert decide(reminder, CARE, CLIENT, tomorrow, last_minute, WINDOW) == Send("sms")
    closing = datetime(2026, 11, 1, 20, 0, tzinfo=NY)
    assert decide(reminder, CARE, CLIENT, tomorrow, closing, WINDOW) == Defer(
        datetime(2026, 11, 2, 9, 0, tzinfo=NY), "outside the send window"
    )


def test_marketing_at_exactly_eight_pm_waits_for_the_morning() -> None:
    evening = datetime(2026, 12, 9, 20, 0, tzinfo=NY)
    last = sess("completed", evening - timedelta(days=14))
    nudge = facts(purpose="marketing", expires_at=evening + timedelta(days=2))
    wide = SendWindow(time(7, 0), time(21, 30))
    assert decide(nudge, NUDGE, CLIENT, [last], evening, wide) == Defer(
        datetime(2026, 12, 10, 8, 0, tzinfo=NY), "outside the send window"
    )


def test_marketing_keeps_a_clinic_window_that_is_already_narrower() -> None:
    # The clinic only texts 10:00-18:00; marketing may not stretch that to 8:00-20:00.
    narrow = SendWindow(time(10, 0), time(18, 0))
    assert narrow.for_marketing() == narrow
    evening = datetime(2026, 12, 9, 18, 30, tzinfo=NY)
    last = sess("completed", evening - timedelta(days=14))
    nudge = facts(purpose="marketing", expires_at=evening + timedelta(days=2))
    assert decide(nudge, NUDGE, CLIENT, [last], evening, narrow) == Defer(
        datetime(2026, 12, 10, 10, 0, tzinfo=NY), "outside the send window"
    )


# --- channel choice ------------------------------------------------------------------------


def test_care_message_needs_no_marketing_consent() -> None:
    # Default consent: SMS care yes, SMS marketing no.  The reminder still goes by text.
    plain = replace(CLIENT, consent=Consent())
    assert decide(facts(), CARE, plain, [sess()], NOW, WINDOW) == Send("sms")
    assert decide(facts(channel="sms"), CARE, plain, [sess()], NOW, WINDOW) == Send("sms")


def test_client_preferring_email_without_an_address_gets_a_text() -> None:
    no_email = replace(CLIENT, preferred_channel="email", email=None)
    assert decide(facts(), CARE, no_email, [sess()], NOW, WINDOW) == Send("sms")
    both_missing = replace(no_email, phone=None)
    assert decide(facts(), CARE, both_missing, [sess()], NOW, WINDOW) == Final(
        "suppressed", "no email address; no phone number"
    )


def test_step_configured_for_email_goes_by_email_only() -> None:
    # The win-back is `channel: email`; Maria prefers texts, but the step says email.
    last = sess("completed", NOW - timedelta(days=60))
    email_step = facts(channel="email", purpose="marketing")
    assert decide(email_step, NUDGE, CLIENT, [last], NOW, WINDOW) == Send("email")
    assert decide(facts(channel="email"), CARE, CLIENT, [sess()], NOW, WINDOW) == Send("email")
    # No address: suppressed, never switched to SMS.
    no_email = replace(CLIENT, email=None)
    assert decide(email_step, NUDGE, no_email, [last], NOW, WINDOW) == Final("suppressed", "no email address")


# --- exits and removed steps ---------------------------------------------------------------


def test_message_for_a_step_removed_from_the_campaign_is_cancelled() -> None:
    # The owner cut the campaign down to one step; a queued message for step 2 must not go out.
    decision = decide(facts(step_index=1), CARE, CLIENT, [sess()], NOW, WINDOW)
    assert decision == Final("cancelled", "campaign or step removed from config")


def test_expired_message_says_by_when_it_should_have_gone() -> None:
    deadline = datetime(2026, 12, 9, 14, 0, tzinfo=NY)
    decision = decide(facts(expires_at=deadline), CARE, CLIENT, [sess()], NOW, WINDOW)
    assert isinstance(decision, Final) and decision.status == "expired"
    assert deadline.isoformat() in decision.reason


def test_no_show_cancels_the_reminder_too() -> None:
    assert decide(facts(), CARE, CLIENT, [sess("no_show")], NOW, WINDOW) == Final("cancelled", "session no_show")


def test_reminder_is_not_cancelled_by_another_booking_later_on() -> None:
    # Maria has tomorrow's session and one next week: tomorrow's reminder still goes out.
    next_week = sess("booked", NOW + timedelta(days=7), sid="s2")
    assert decide(facts(), CARE, CLIENT, [sess(), next_week], NOW, WINDOW) == Send("sms")


def test_later_completed_visit_cancels_the_nudge() -> None:
    # A walk-in visit after the nudge's session, already completed, counts as coming back.
    last = sess("completed", NOW - timedelta(days=14))
    walk_in = sess("completed", NOW - timedelta(days=2), sid="s2")
    nudge = facts(purpose="marketing")
    assert decide(nudge, NUDGE, CLIENT, [last, walk_in], NOW, WINDOW) == Final("cancelled", "rebooked (session s2)")


def test_message_whose_session_is_gone_from_the_import_still_sends() -> None:
    other = sess("completed", NOW - timedelta(days=30), sid="s0")
    assert decide(facts(purpose="marketing"), NUDGE, CLIENT, [other], NOW, WINDOW) == Send("sms")


# --- caps: 24 hours exactly, and priorities of messages due together --------------------


def test_a_send_exactly_24_hours_ago_no_longer_counts() -> None:
    done = sess("completed", NOW - timedelta(hours=3))
    message = facts(session_external_id=done.external_id)
    full_day = Traffic(sent=sent(1, 5, 24))
    assert decide(message, AFTERCARE, CLIENT, [done], NOW, WINDOW, CAPS, full_day) == Send("sms")
    tip = facts(purpose="marketing", session_external_id=done.external_id)
    yesterdays_tip = Traffic(sent=sent(24, purpose="marketing"))
    assert decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, yesterdays_tip) == Send("sms")


def test_tip_waits_for_aftercare_due_later_today() -> None:
    done = sess("completed", NOW - timedelta(hours=3))
    tip = facts(purpose="marketing", session_external_id=done.external_id)
    traffic = Traffic(sent=sent(2, 6), upcoming=((NOW + timedelta(hours=2), "aftercare"),))
    assert decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, traffic) == Defer(
        NOW + timedelta(hours=2, minutes=1), "leaving room for a higher-priority message"
    )


def test_aftercare_waits_for_tonights_reminder() -> None:
    done = sess("completed", NOW - timedelta(hours=3))
    aftercare = facts(session_external_id=done.external_id)
    traffic = Traffic(sent=sent(2, 6), upcoming=((NOW + timedelta(hours=4), "reminder"),))
    assert decide(aftercare, AFTERCARE, CLIENT, [done], NOW, WINDOW, CAPS, traffic) == Defer(
        NOW + timedelta(hours=4, minutes=1), "leaving room for a higher-priority message"
    )


def test_messages_of_equal_priority_do_not_hold_each_other_back() -> None:
    # Two sessions today, two aftercare messages due together: the first one goes.
    done = sess("completed", NOW - timedelta(hours=3))
    aftercare = facts(session_external_id=done.external_id)
    traffic = Traffic(sent=sent(2, 6), upcoming=((NOW + timedelta(minutes=30), "aftercare"),))
    assert decide(aftercare, AFTERCARE, CLIENT, [done], NOW, WINDOW, CAPS, traffic) == Send("sms")


def test_tip_goes_when_there_is_room_for_the_reminder_too() -> None:
    done = sess("completed", NOW - timedelta(hours=3))
    tip = facts(purpose="marketing", session_external_id=done.external_id)
    one_sent = Traffic(sent=sent(6), upcoming=((NOW + timedelta(hours=3), "reminder"),))
    assert decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, one_sent) == Send("sms")
    # A reminder due exactly a day from now is tomorrow's business: it reserves nothing today.
    tomorrow = Traffic(sent=sent(2, 6), upcoming=((NOW + timedelta(hours=24), "reminder"),))
    assert decide(tip, TIP, CLIENT, [done], NOW, WINDOW, CAPS, tomorrow) == Send("sms")
