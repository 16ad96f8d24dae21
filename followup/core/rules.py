"""Send-time rules: may this message go out now, on which channel, or what happens to it.

Pure: a function of the message, the campaign, the client's current data and ``now``.
The dispatcher and ``simulate`` both call :func:`decide`; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from followup.core.campaigns import Campaign
from followup.core.domain import ChannelName, Client, Purpose, Session
from followup.core.durations import local_datetime
from followup.timeutil import require_aware, zone


@dataclass(frozen=True)
class MessageFacts:
    """What the rules need to know about one outbox row."""

    campaign: str
    step_index: int
    channel: str  # sms | email | preferred
    purpose: str
    due_at: datetime
    expires_at: datetime
    session_external_id: str | None
    fell_back: bool = False


@dataclass(frozen=True)
class Send:
    channel: ChannelName


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Final:
    status: Literal["expired", "cancelled", "suppressed"]
    reason: str


Decision = Send | Defer | Final


MARKETING_EARLIEST = time(8, 0)
MARKETING_LATEST = time(20, 0)


@dataclass(frozen=True)
class SendWindow:
    start: time = time(9, 0)
    end: time = time(20, 0)

    def for_marketing(self) -> SendWindow:
        """Never wider than 8:00-20:00 for marketing (TCPA / Florida FTSA quiet hours)."""
        return SendWindow(max(self.start, MARKETING_EARLIEST), min(self.end, MARKETING_LATEST))

    def next_opening(self, moment: datetime, tz_name: str) -> datetime | None:
        """``None`` when ``moment`` is inside the window, else the next opening (client-local)."""
        tz = zone(tz_name)
        local = moment.astimezone(tz)
        if self.start <= local.time() < self.end:
            return None
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return local_datetime(day, self.start, tz)


def _reachable(client: Client, channel: ChannelName) -> bool:
    return bool(client.phone) if channel == "sms" else bool(client.email)


def choose_channel(message: MessageFacts, client: Client) -> ChannelName | Final:
    purpose: Purpose = "marketing" if message.purpose == "marketing" else "care"
    if message.channel == "preferred":
        other: ChannelName = "email" if client.preferred_channel == "sms" else "sms"
        candidates: tuple[ChannelName, ...] = (client.preferred_channel, other)
    else:
        candidates = ("sms",) if message.channel == "sms" else ("email",)
    if message.fell_back:
        candidates = ("email",)
    reasons = []
    for channel in candidates:
        if not _reachable(client, channel):
            reasons.append(f"no {'phone number' if channel == 'sms' else 'email address'}")
        elif not client.consent.allows(channel, purpose):
            reasons.append(f"no consent for {purpose} {channel}")
        else:
            return channel
    return Final("suppressed", "; ".join(reasons))


PRIORITY_RANK = {"tip": 0, "nudge": 1, "aftercare": 2, "reminder": 3}
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Caps:
    """Per client, per rolling 24 hours (Florida's FTSA: at most 3 on one subject)."""

    any_per_day: int = 3
    marketing_per_day: int = 1


@dataclass(frozen=True)
class Traffic:
    """What the caps look at: sent in the last 24 h, and scheduled soon with higher priority."""

    sent: tuple[tuple[datetime, str], ...] = ()  # (sent at, purpose)
    upcoming: tuple[tuple[datetime, str], ...] = ()  # (due at, priority) of other scheduled messages


def cap_deferral(message: MessageFacts, priority: str, traffic: Traffic, now: datetime, caps: Caps) -> Defer | None:
    """When a cap bites, the message waits (never dropped): until the oldest send leaves the
    24-hour window.  A lower-priority message also waits when sending it now would leave no
    room for a higher-priority one due within the day (a tip never crowds out a reminder)."""
    recent = sorted(at for at, _ in traffic.sent if now - at < DAY)
    marketing = sorted(at for at, purpose in traffic.sent if purpose == "marketing" and now - at < DAY)
    if message.purpose == "marketing" and len(marketing) >= caps.marketing_per_day:
        return Defer(marketing[-caps.marketing_per_day] + DAY, f"marketing cap ({caps.marketing_per_day} per 24 h)")
    if len(recent) >= caps.any_per_day:
        return Defer(recent[-caps.any_per_day] + DAY, f"daily cap ({caps.any_per_day} per 24 h)")
    rank = PRIORITY_RANK.get(priority, 2)
    reserved = [due for due, other in traffic.upcoming if PRIORITY_RANK.get(other, 2) > rank and due < now + DAY]
    if reserved and len(recent) + len(reserved) >= caps.any_per_day:
        return Defer(max(*reserved, now) + timedelta(minutes=1), "leaving room for a higher-priority message")
    return None


# Triggers whose messages assume the booking data is current: a nudge to rebook someone who
# already booked (and we haven't heard) is the mistake stale data makes.
STALENESS_SENSITIVE = frozenset({"no_rebook", "lapsed"})
STALE_RECHECK = timedelta(hours=1)


def decide(
    message: MessageFacts,
    campaign: Campaign | None,
    client: Client,
    sessions: Sequence[Session],
    now: datetime,
    window: SendWindow | None = None,
    caps: Caps | None = None,
    traffic: Traffic = Traffic(),
    booking_data_at: datetime | None = None,
    max_staleness: timedelta | None = None,
) -> Decision:
    """What to do with one due message now: send it (on which channel), defer it (until when,
    why) or end it (expired, cancelled, suppressed, why).

    ``booking_data_at`` is when booking data last arrived: a rebook nudge or win-back
    (``no_rebook`` / ``lapsed`` triggers) waits while that is older than ``max_staleness``,
    since the client may have booked since the last import.  Care messages never wait for it.
    """
    require_aware(now, "now")
    if campaign is None or message.step_index >= len(campaign.steps):
        return Final("cancelled", "campaign or step removed from config")
    if not campaign.enabled:
        return Final("cancelled", "campaign disabled")
    if now >= message.expires_at:
        return Final("expired", f"not sent by {message.expires_at.isoformat()}")
    session = next((s for s in sessions if s.external_id == message.session_external_id), None)
    exits = campaign.exits
    if "session_cancelled" in exits and session is not None and session.status in ("cancelled", "no_show"):
        return Final("cancelled", f"session {session.status}")
    if "rebooked" in exits and session is not None:
        later = [s for s in sessions if s.start > session.start and s.status in ("booked", "completed")]
        if later:
            return Final("cancelled", f"rebooked (session {later[0].external_id})")
    if (
        max_staleness is not None
        and campaign.trigger.type in STALENESS_SENSITIVE
        and booking_data_at is not None  # never refreshed: no age to judge (a store from before 0004)
        and now - booking_data_at > max_staleness
    ):
        return Defer(now + STALE_RECHECK, "stale booking data")
    channel = choose_channel(message, client)
    if isinstance(channel, Final):
        return channel
    if window is not None:
        active = window.for_marketing() if campaign.purpose == "marketing" else window
        opening = active.next_opening(now, client.timezone)
        if opening is not None:
            return Defer(opening, "outside the send window")
    if caps is not None:
        deferral = cap_deferral(message, campaign.effective_priority, traffic, now, caps)
        if deferral is not None:
            return deferral
    return Send(channel)
