"""Which messages the campaigns call for, for one client: a pure function of data and ``now``.

The planner does not look at the outbox.  It says what *should* exist (``planned``) and
which planned-before messages must not go out any more and why (``blocked``); the store
reconciles that with the rows it has (insert new, re-time unsent, cancel blocked).
Re-running it is harmless: every message has a stable idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo

from followup.core.campaigns import Campaign, Step
from followup.core.domain import Client, Session
from followup.core.holdout import in_holdout
from followup.timeutil import require_aware, zone

# Sessions that ended longer ago than every step's offset + expiry can't produce a message.
_MARGIN = timedelta(days=2)


@dataclass(frozen=True)
class Planned:
    key: str
    campaign: str
    step: str
    step_index: int
    client_external_id: str
    session_external_id: str | None
    channel: str  # sms | email | preferred
    purpose: str
    priority: str
    due_at: datetime
    expires_at: datetime
    why: str
    # The client is in the campaign's holdout group: the message is recorded (cancelled,
    # reason "held out") so the report can compare, and never sent.
    held_out: bool = False


@dataclass
class PlanResult:
    planned: list[Planned] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # idempotency key -> reason

    def keys(self) -> set[str]:
        return {p.key for p in self.planned}


def message_key(campaign: str, step: str, client: str, anchor: str, channel: str) -> str:
    return f"{campaign}/{step}/{client}/{anchor}/{channel}"


def horizon(campaign: Campaign) -> timedelta:
    """How long after its anchor a campaign can still produce a sendable message."""
    days = campaign.trigger.days or 0
    longest = max(abs(s.offset.approx()) + s.expires_after for s in campaign.steps)
    return timedelta(days=days) + longest + _MARGIN


def _channels(step: Step) -> tuple[str, ...]:
    return ("sms", "email") if step.channel == "both" else (step.channel,)


def visit_number(session: Session, sessions: Sequence[Session]) -> int:
    """How many completed visits the client had up to and including ``session``."""
    return sum(1 for s in sessions if s.status == "completed" and s.start <= session.start)


def _conditions_hold(step: Step, session: Session | None, visits: int) -> bool:
    when = step.when
    if when is None:
        return True
    if when.min_visits is not None and visits < when.min_visits:
        return False
    if when.max_visits is not None and visits > when.max_visits:
        return False
    services = {s.casefold() for s in when.services}
    if services and (session is None or session.service.casefold() not in services):
        return False
    return not (when.focus_areas and (session is None or not set(when.focus_areas) & set(session.focus_areas)))


def _describe(trigger: str, session: Session | None, days: int | None) -> str:
    ref = f"session {session.external_id}" if session else "client"
    return {
        "session_completed": f"after {ref} was completed",
        "session_booked": f"before booked {ref}",
        "first_visit": f"after first visit ({ref})",
        "no_rebook": f"{days} days after {ref} with nothing booked",
        "lapsed": f"{days} days since {ref}, the last visit",
    }[trigger]


def _steps_for(
    name: str,
    campaign: Campaign,
    client: Client,
    anchor: datetime,
    session: Session | None,
    visits: int,
    *,
    cap: datetime | None = None,
) -> Iterator[Planned]:
    tz = zone(client.timezone)
    anchor_id = session.external_id if session else "client"
    for index, step in enumerate(campaign.steps):
        if not _conditions_hold(step, session, visits):
            continue
        due = step.offset.apply(anchor, tz)
        expires = due + step.expires_after
        if cap is not None:  # a reminder is pointless once the session has started
            expires = min(expires, cap)
        step_name = campaign.step_name(index)
        for channel in _channels(step):
            yield Planned(
                key=message_key(name, step_name, client.external_id, anchor_id, channel),
                campaign=name,
                step=step_name,
                step_index=index,
                client_external_id=client.external_id,
                session_external_id=session.external_id if session else None,
                channel=channel,
                purpose=campaign.purpose,
                priority=campaign.effective_priority,
                due_at=due,
                expires_at=expires,
                why=f"{step.offset.text} {_describe(campaign.trigger.type, session, campaign.trigger.days)}",
            )


def _keys_for(name: str, campaign: Campaign, client: Client, session: Session) -> Iterator[str]:
    for index, step in enumerate(campaign.steps):
        for channel in _channels(step):
            yield message_key(name, campaign.step_name(index), client.external_id, session.external_id, channel)


_IN_VISIT = ("booked", "completed")


def _day(moment: datetime, tz: tzinfo | None) -> date:
    return (moment.astimezone(tz) if tz is not None else moment).date()


def group_visits(sessions: Sequence[Session], tz: tzinfo | None = None) -> tuple[list[Session], dict[str, str]]:
    """One client's sessions as visits: booked or completed sessions that overlap or touch on
    the same day (an add-on, a booking split in rows, one appointment exported twice under two
    ids) become one visit, so it gets one reminder, one aftercare sequence and one tip.

    Returns (the sessions with each visit as its first session, stretched to the visit's end,
    services joined with " + " and focus areas merged; completed when any part is), and
    {absorbed session id: the id of the visit it is part of}.  Cancelled and no-show
    sessions are left as they are.  "The same day" is judged in ``tz`` (the client's zone;
    default each session's own), never in UTC: an evening visit in Miami spans two UTC dates.
    """
    ordered = sorted(sessions, key=lambda s: (s.start, s.external_id))
    out: list[Session] = []
    absorbed: dict[str, str] = {}
    current: Session | None = None
    for session in ordered:
        joins = (
            current is not None
            and session.status in _IN_VISIT
            and session.start <= current.end
            and _day(session.start, tz) == _day(current.start, tz)
        )
        if current is not None and joins:
            services = current.service.split(" + ")
            if session.service not in services:
                services.append(session.service)
            current = replace(
                current,
                end=max(current.end, session.end),
                service=" + ".join(services),
                therapist=current.therapist or session.therapist,
                focus_areas=tuple(dict.fromkeys((*current.focus_areas, *session.focus_areas))),
                status="completed" if "completed" in (current.status, session.status) else current.status,
            )
            out[-1] = current
            absorbed[session.external_id] = current.external_id
            continue
        out.append(session)
        current = session if session.status in _IN_VISIT else None
    return out, absorbed


def plan_client(
    campaigns: Mapping[str, Campaign], client: Client, sessions: Sequence[Session], now: datetime
) -> PlanResult:
    """Every message the enabled campaigns call for, for ``client``, as of ``now``.

    Sessions are first grouped into visits (:func:`group_visits`): messages are planned per
    visit, and any planned for a session that became part of another visit are cancelled."""
    require_aware(now, "now")
    result = PlanResult()
    merged, absorbed = group_visits(sessions, zone(client.timezone))
    ordered = sorted(merged, key=lambda s: s.start)
    completed = [s for s in ordered if s.status == "completed"]
    last = completed[-1] if completed else None

    for name, campaign in campaigns.items():
        if not campaign.enabled:
            continue
        if campaign.purpose == "marketing" and in_holdout(name, client.external_id, campaign.holdout):
            before = len(result.planned)
            _plan_campaign(result, name, campaign, client, ordered, completed, last, now)
            result.planned[before:] = [replace(p, held_out=True) for p in result.planned[before:]]
        else:
            _plan_campaign(result, name, campaign, client, ordered, completed, last, now)
    by_id = {s.external_id: s for s in sessions}
    for part, visit in absorbed.items():
        for name, campaign in campaigns.items():
            for key in _keys_for(name, campaign, client, by_id[part]):
                result.blocked[key] = f"part of visit {visit}"
    return result


def _plan_campaign(
    result: PlanResult,
    name: str,
    campaign: Campaign,
    client: Client,
    ordered: list[Session],
    completed: list[Session],
    last: Session | None,
    now: datetime,
) -> None:
    """One campaign's messages for one client, added to ``result``."""
    oldest = now - horizon(campaign)
    trigger = campaign.trigger.type
    if trigger == "session_completed":
        for session in completed:
            if session.end >= oldest:
                result.planned.extend(
                    _steps_for(name, campaign, client, session.end, session, visit_number(session, ordered))
                )
    elif trigger == "session_booked":
        for session in ordered:
            if session.start < oldest:
                continue
            if session.status == "booked":
                result.planned.extend(
                    _steps_for(
                        name,
                        campaign,
                        client,
                        session.start,
                        session,
                        visit_number(session, ordered),
                        cap=session.start,
                    )
                )
            else:
                reason = "session cancelled" if session.status in ("cancelled", "no_show") else "session done"
                for key in _keys_for(name, campaign, client, session):
                    result.blocked[key] = reason
    elif trigger == "first_visit":
        if completed and completed[0].end >= oldest:
            first = completed[0]
            result.planned.extend(_steps_for(name, campaign, client, first.end, first, 1))
    elif trigger in ("no_rebook", "lapsed") and last is not None and last.end >= oldest:
        # Nudges for an earlier visit are moot once a later one took place.
        for earlier in completed[:-1]:
            if earlier.end >= oldest:
                for key in _keys_for(name, campaign, client, earlier):
                    result.blocked[key] = f"a later visit took place (session {last.external_id})"
        # Any booking after the last visit counts, even one under way and not yet marked completed.
        rebooked = [s for s in ordered if s.status == "booked" and s.start > last.start]
        if rebooked:
            for key in _keys_for(name, campaign, client, last):
                result.blocked[key] = f"rebooked (session {rebooked[0].external_id})"
            return
        days = campaign.trigger.days or 0
        # Days are calendar days in the client's zone, like step offsets.
        local_end = last.end.astimezone(zone(client.timezone))
        anchor = (local_end + timedelta(days=days)).astimezone(zone(client.timezone))
        result.planned.extend(_steps_for(name, campaign, client, anchor, last, len(completed)))
