"""Send-time rules: may this message go out now, on which channel, or what happens to it.

Pure: a function of the message, the campaign, the client's current data and ``now``.
The dispatcher and ``simulate`` both call :func:`decide`; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from followup.config.campaigns import Campaign
from followup.config.durations import local_datetime
from followup.domain import ChannelName, Client, Purpose, Session
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


@dataclass(frozen=True)
class SendWindow:
    start: time = time(9, 0)
    end: time = time(20, 0)

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


def decide(
    message: MessageFacts,
    campaign: Campaign | None,
    client: Client,
    sessions: Sequence[Session],
    now: datetime,
    window: SendWindow | None = None,
) -> Decision:
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
    channel = choose_channel(message, client)
    if isinstance(channel, Final):
        return channel
    if window is not None:
        opening = window.next_opening(now, client.timezone)
        if opening is not None:
            return Defer(opening, "outside the send window")
    return Send(channel)
