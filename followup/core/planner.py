"""Which messages the campaigns call for, for one client: a pure function of data and ``now``.

The planner does not look at the outbox.  It says what *should* exist (``planned``) and
which planned-before messages must not go out any more and why (``blocked``); the store
reconciles that with the rows it has (insert new, re-time unsent, cancel blocked).
Re-running it is harmless: every message has a stable idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from followup.core.campaigns import Campaign, Conditions, Step
from followup.core.domain import Client, Session
from followup.core.durations import Offset
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


@dataclass(frozen=True)
class _StepPlan:
    """One step with what the planner derives from it worked out once: its name, channels and
    conditions (services case-folded), so that planning a client only does per-client work."""

    index: int
    name: str
    offset: Offset
    expires_after: timedelta
    channels: tuple[str, ...]
    when: Conditions | None
    services: frozenset[str]
    focus_areas: frozenset[str]


@dataclass(frozen=True)
class CampaignPlan:
    """One campaign as the planner reads it, derived once per set of campaigns (see
    :class:`PreparedCampaigns`): its horizon, priority and steps do not depend on the client."""

    name: str
    campaign: Campaign
    horizon: timedelta
    priority: str
    steps: tuple[_StepPlan, ...]

    @classmethod
    def of(cls, name: str, campaign: Campaign) -> CampaignPlan:
        steps = tuple(
            _StepPlan(
                index=index,
                name=campaign.step_name(index),
                offset=step.offset,
                expires_after=step.expires_after,
                channels=_channels(step),
                when=step.when,
                services=frozenset(s.casefold() for s in step.when.services) if step.when else frozenset(),
                focus_areas=frozenset(step.when.focus_areas) if step.when else frozenset(),
            )
            for index, step in enumerate(campaign.steps)
        )
        return cls(name, campaign, horizon(campaign), campaign.effective_priority, steps)


class PreparedCampaigns:
    """The campaigns with their per-campaign work done once (:class:`CampaignPlan`): a pass over
    thousands of clients prepares them once and passes this to :func:`plan_client` for each.

    ``campaigns`` is the mapping it was made from (name -> campaign, in the owner's order)."""

    __slots__ = ("campaigns", "enabled", "every")

    def __init__(self, campaigns: Mapping[str, Campaign]) -> None:
        self.campaigns = campaigns
        self.every = tuple(CampaignPlan.of(name, c) for name, c in campaigns.items())
        self.enabled = tuple(p for p in self.every if p.campaign.enabled)


def prepare(campaigns: Mapping[str, Campaign] | PreparedCampaigns) -> PreparedCampaigns:
    """``campaigns`` prepared for :func:`plan_client` (a prepared set is returned as it is)."""
    return campaigns if isinstance(campaigns, PreparedCampaigns) else PreparedCampaigns(campaigns)


def visit_number(session: Session, sessions: Sequence[Session]) -> int:
    """How many completed visits the client had up to and including ``session``."""
    return sum(1 for s in sessions if s.status == "completed" and s.start <= session.start)


def _conditions_hold(step: _StepPlan, session: Session, visits: int) -> bool:
    when = step.when
    if when is None:
        return True
    if when.min_visits is not None and visits < when.min_visits:
        return False
    if when.max_visits is not None and visits > when.max_visits:
        return False
    if step.services and session.service.casefold() not in step.services:
        return False
    return not (step.focus_areas and step.focus_areas.isdisjoint(session.focus_areas))


# Why a message exists, per trigger ("{days}": the trigger's days).
_WHY = {
    "session_completed": "after session {session} was completed",
    "session_booked": "before booked session {session}",
    "first_visit": "after first visit (session {session})",
    "no_rebook": "{days} days after session {session} with nothing booked",
    "lapsed": "{days} days since session {session}, the last visit",
}


def _add_steps(
    planned: list[Planned],
    plan: CampaignPlan,
    client: Client,
    tz: ZoneInfo,
    anchor: datetime,
    session: Session,
    visits: int,
    *,
    cap: datetime | None = None,
    held_out: bool,
) -> None:
    """Append to ``planned`` the messages of ``plan``'s steps whose conditions hold, timed from
    ``anchor`` in the client's zone ``tz``.  Every message hangs on a session (the visit that
    triggered it); ``cap`` bounds the expiry (a reminder ends when its session starts)."""
    name = plan.name
    campaign = plan.campaign
    sid = session.external_id
    client_id = client.external_id
    describe = _WHY[campaign.trigger.type].format(session=sid, days=campaign.trigger.days)
    for step in plan.steps:
        if not _conditions_hold(step, session, visits):
            continue
        due = step.offset.apply(anchor, tz)
        expires = due + step.expires_after
        if cap is not None:  # a reminder is pointless once the session has started
            expires = min(expires, cap)
        why = f"{step.offset.text} {describe}"
        for channel in step.channels:
            planned.append(
                Planned(
                    key=f"{name}/{step.name}/{client_id}/{sid}/{channel}",
                    campaign=name,
                    step=step.name,
                    step_index=step.index,
                    client_external_id=client_id,
                    session_external_id=sid,
                    channel=channel,
                    purpose=campaign.purpose,
                    priority=plan.priority,
                    due_at=due,
                    expires_at=expires,
                    why=why,
                    held_out=held_out,
                )
            )


def _block(result: PlanResult, plan: CampaignPlan, client: Client, session: Session, reason: str) -> None:
    """Mark every message ``plan`` could have made for ``session`` as blocked for ``reason``."""
    prefix = f"{client.external_id}/{session.external_id}/"
    for step in plan.steps:
        for channel in step.channels:
            result.blocked[f"{plan.name}/{step.name}/{prefix}{channel}"] = reason


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
    campaigns: Mapping[str, Campaign] | PreparedCampaigns, client: Client, sessions: Sequence[Session], now: datetime
) -> PlanResult:
    """Every message the enabled campaigns call for, for ``client``, as of ``now``.

    ``campaigns`` is name -> campaign, or the same prepared once (:func:`prepare`) when many
    clients are planned with them: the result is the same.  Sessions are first grouped into
    visits (:func:`group_visits`): messages are planned per visit, and any planned for a
    session that became part of another visit are cancelled."""
    require_aware(now, "now")
    prepared = prepare(campaigns)
    result = PlanResult()
    tz = zone(client.timezone)
    # group_visits returns the visits by (start, id), so they are in start order already.
    ordered, absorbed = group_visits(sessions, tz)
    completed = [s for s in ordered if s.status == "completed"]
    for plan in prepared.enabled:
        campaign = plan.campaign
        held_out = campaign.purpose == "marketing" and in_holdout(plan.name, client.external_id, campaign.holdout)
        _plan_campaign(result, plan, client, tz, ordered, completed, now, held_out)
    if absorbed:
        by_id = {s.external_id: s for s in sessions}
        for part, visit in absorbed.items():
            for plan in prepared.every:
                _block(result, plan, client, by_id[part], f"part of visit {visit}")
    return result


def _plan_campaign(
    result: PlanResult,
    plan: CampaignPlan,
    client: Client,
    tz: ZoneInfo,
    ordered: list[Session],
    completed: list[Session],
    now: datetime,
    held_out: bool,
) -> None:
    """One campaign's messages for one client, added to ``result`` (``held_out``: recorded as
    withheld, see :attr:`Planned.held_out`)."""
    oldest = now - plan.horizon
    trigger = plan.campaign.trigger.type
    planned = result.planned
    if trigger == "session_completed":
        for session in completed:
            if session.end >= oldest:
                visits = visit_number(session, ordered)
                _add_steps(planned, plan, client, tz, session.end, session, visits, held_out=held_out)
    elif trigger == "session_booked":
        for session in ordered:
            if session.start < oldest:
                continue
            if session.status == "booked":
                visits = visit_number(session, ordered)
                _add_steps(
                    planned, plan, client, tz, session.start, session, visits, cap=session.start, held_out=held_out
                )
            else:
                reason = "session cancelled" if session.status in ("cancelled", "no_show") else "session done"
                _block(result, plan, client, session, reason)
    elif trigger == "first_visit":
        if completed and completed[0].end >= oldest:
            first = completed[0]
            _add_steps(planned, plan, client, tz, first.end, first, 1, held_out=held_out)
    elif trigger in ("no_rebook", "lapsed") and completed and completed[-1].end >= oldest:
        last = completed[-1]
        # Nudges for an earlier visit are moot once a later one took place.
        for earlier in completed[:-1]:
            if earlier.end >= oldest:
                _block(result, plan, client, earlier, f"a later visit took place (session {last.external_id})")
        # Any booking after the last visit counts, even one under way and not yet marked completed.
        rebooked = [s for s in ordered if s.status == "booked" and s.start > last.start]
        if rebooked:
            _block(result, plan, client, last, f"rebooked (session {rebooked[0].external_id})")
            return
        days = plan.campaign.trigger.days
        assert days is not None  # the campaign's own validation requires days for these triggers
        # Days are calendar days in the client's zone, like step offsets.
        # (Wall-clock arithmetic: the same tzinfo, so the result needs no conversion back.)
        anchor = last.end.astimezone(tz) + timedelta(days=days)
        _add_steps(planned, plan, client, tz, anchor, last, len(completed), held_out=held_out)
