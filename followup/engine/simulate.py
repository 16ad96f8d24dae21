"""``followup simulate``: a month of the campaigns on a virtual clock, nothing sent.

The data is copied into an in-memory SQLite store; then the *same* planner, rules,
rendering and dispatcher as the worker run on a :class:`followup.timeutil.FixedClock`
that jumps from one event to the next (a message due, a session ending): nothing happens
between two events, so nothing is computed there.  Channels are the in-memory fakes.  One
assumption the real world does not need: a session still marked booked when its end passes
is treated as completed (in production the booking system says so).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from followup.channels.memory import InMemoryChannel
from followup.config.loader import ClinicConfig
from followup.core.domain import ChannelName
from followup.core.holdout import HELD_OUT
from followup.core.rules import Caps, SendWindow
from followup.engine import digest
from followup.engine.dispatch import Backoff, Dispatcher
from followup.engine.planning import plan_pending, replan
from followup.store.port import OWNER_DIGEST, TERMINAL, MessageQuery, Store
from followup.timeutil import FixedClock, map_iso_times, require_aware, zone


@dataclass(frozen=True)
class SimulatedMessage:
    client: str
    campaign: str
    step: str
    channel: str
    send_at: datetime  # in the client's time zone
    status: str
    reason: str | None
    subject: str | None
    body: str | None
    tip: str | None
    session: str | None
    due_at: datetime
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client": self.client,
            "campaign": self.campaign,
            "step": self.step,
            "channel": self.channel,
            "send_at": self.send_at.isoformat(),
            "status": self.status,
            "reason": self.reason,
            "body": self.body,
            "session": self.session,
            "due_at": self.due_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }
        if self.channel == "email":
            out["subject"] = self.subject
        if self.tip:
            out["tip"] = self.tip
        return out


def simulate(store: Store, clinic: ClinicConfig, start: datetime, days: int) -> list[SimulatedMessage]:
    """Run on ``store`` (already a private copy) from ``start`` for ``days`` days."""
    require_aware(start, "start")
    end = start + timedelta(days=days)
    done_before = settled_before(store, start)
    clock = FixedClock(start)
    channels: dict[ChannelName, InMemoryChannel] = {"sms": InMemoryChannel("sms"), "email": InMemoryChannel("email")}
    settings = clinic.settings
    dispatcher = Dispatcher(
        store,
        clinic,
        channels,
        clock,
        worker="simulate",
        batch_size=200,
        backoff=Backoff(),
        window=SendWindow(settings.send_window_start, settings.send_window_end),
        caps=Caps(settings.cap_any_per_day, settings.cap_marketing_per_day),
        max_staleness=timedelta(0),  # the simulation assumes booking data as fresh as it is now
        rng=random.Random(0),  # noqa: S311 - repeatable jitter
    )
    # One connection for the whole run: every store call otherwise checks one out (and the
    # events are many: each due time and each session end is one).
    with store.pinned():
        # The copy is planned with these campaigns, as a worker would at start; what that pass
        # cancels was planned with campaigns since edited, and is labelled so.
        waiting = {m.id for m in store.messages(MessageQuery(statuses=("scheduled",)))}
        edit = plan_pending(store, clinic, start)
        relabel: dict[int, str] = {}
        if edit.ran:
            for m in store.messages(MessageQuery(statuses=("cancelled",))):
                if m.id in waiting and (m.status_reason or "").startswith("no longer planned"):
                    relabel[m.id] = EDITED_OUT
        now = start
        # Sessions change only here (the copy has no other writer), so the next end is read
        # again only once it has passed (at the start: every booked session that already ended).
        session_end: datetime | None = start
        while now < end:
            ended = session_end is not None and session_end <= now
            advance(store, clinic, dispatcher, now, sessions_ended=ended)
            if ended:
                session_end = store.next_session_end(now)
            events = (store.next_due(), session_end, digest.next_event(now, clinic))
            upcoming = [t for t in events if t is not None and t > now]
            if not upcoming:
                break
            now = min(*upcoming, end)
            clock.set(now)
        return collect(store, done_before, end, clinic.settings.default_timezone, relabel)


# The reason of a message the simulation's first planning pass cancels because the campaigns
# were edited since the worker last planned (the store's own words, "no longer planned
# (campaign or session changed)", do not say which).
EDITED_OUT = "not in the campaigns as edited since it was planned (the worker cancels it at its next start)"


def settled_before(store: Store, start: datetime) -> set[int]:
    """The messages already settled (sent, cancelled, expired...) when the simulation starts:
    history, not part of the simulated period, even when their due time falls in it (a
    message cancelled last week by a campaign edit or a changed booking was shown in every
    simulation, "cancelled - no longer planned", though nothing had changed since).  The
    exception is a message held out of a campaign's holdout group: recorded as cancelled
    when planned, it is what the period would hold, so it is shown when due in it."""
    return {
        m.id
        for m in store.messages(MessageQuery(statuses=tuple(sorted(TERMINAL))))
        if m.due_at < start or m.status_reason != HELD_OUT
    }


def advance(
    store: Store, clinic: ClinicConfig, dispatcher: Dispatcher, now: datetime, *, sessions_ended: bool = True
) -> None:
    """One moment of the simulation: sessions whose end has passed are completed (the booking
    system's part, assumed) and their clients re-planned, as an import would; then whatever is
    due goes out through the worker's dispatcher (the owner's Monday digest included).
    ``sessions_ended=False``: the caller knows no booked session has ended since the last call."""
    if sessions_ended:
        ended = store.complete_ended_sessions(now, now)
        if ended:
            replan(store, clinic, ended, now)
    digest.queue_digest(store, clinic, now)
    dispatcher.run_once()


def local_reason(reason: str | None, tz: ZoneInfo) -> str | None:
    """``reason`` with every ISO time in it in ``tz`` (the client's zone, as ``send_at`` and
    ``expires_at`` are): the dispatcher writes them in UTC."""
    if not reason:
        return reason
    return map_iso_times(reason, lambda moment: moment.astimezone(tz).isoformat())


def collect(
    store: Store, done_before: set[int], end: datetime, clinic_zone: str, relabel: dict[int, str] | None = None
) -> list[SimulatedMessage]:
    """What the simulated period holds, in send order; ``relabel``: message id -> its reason
    instead of the stored one."""
    relabel = relabel or {}
    out = []
    timezones = store.client_timezones()  # one read: keyed by external id (and phone, email)
    for row in store.messages(MessageQuery(due_before=end)):
        if row.id in done_before:
            continue
        if row.client_id is None:
            if row.campaign != OWNER_DIGEST:
                continue  # other messages to the clinic (a forwarded reply) answer events simulate has none of
            tz = zone(clinic_zone)
        else:
            tz = zone(timezones[row.client_external_id])
        when = row.sent_at if row.status == "sent" and row.sent_at else row.next_attempt_at
        if row.status in ("expired", "cancelled", "suppressed", "failed"):
            when = row.due_at
        out.append(
            SimulatedMessage(
                client=row.client_external_id,
                campaign=row.campaign,
                step=row.step,
                channel=row.sent_channel or row.channel,
                send_at=when.astimezone(tz),
                status=row.status,
                reason=relabel.get(row.id) or local_reason(row.status_reason, tz),
                subject=row.subject,
                body=row.body,
                tip=row.tip_id,
                session=row.session_external_id,
                due_at=row.due_at.astimezone(tz),
                expires_at=row.expires_at.astimezone(tz),
            )
        )
    return sorted(out, key=lambda m: (m.send_at, m.client, m.campaign, m.step))
