"""What happened, and did it work: the report's counts, last-touch attribution and the holdout
comparison, as pure functions (facts and dates in, results out; no I/O, no clock).

Terms, as marketers use them:

- a **touch** is a marketing message that reached the client: status ``sent`` and a delivery
  status that is ``delivered`` or none yet (a text the carrier said was undelivered, or
  failed, is no touch);
- **last-touch attribution**: a booking made (``booked_at``: when it became known) within the
  attribution window after one or more touches of that client is credited to the latest of
  them, and to no other;
- the **conversion rate** of a campaign step is bookings attributed to it / messages of it
  that were touches;
- the **holdout** comparison: the share of reached clients who booked within the window after
  their first touch, against the share of held-out clients who booked within the window after
  the moment they would have got it (the held-out message's due time); the difference with a
  95 % confidence interval (Newcombe's method, statsmodels' ``confint_proportions_2indep``).
  Held-out clients the campaign could not have reached (no phone or email with consent for
  it) are left out of the comparison, as the reached group leaves them out by construction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from followup.core.holdout import HELD_OUT

OPT_OUT_WINDOW = timedelta(days=7)  # "opted out within 7 days after" a message
# Each group needs this many clients before a difference in rebook rates is worth a sentence:
# below it a 95 % interval spans tens of points and says nothing an owner can use.
MIN_GROUP = 30
CONFIDENCE = 0.95

SUPPRESSION_KINDS = ("consent", "window", "cap", "duplicate", "over segment limit", "other")
CANCEL_KINDS = ("rebooked", "session cancelled", "other")
_NOT_TOUCHED = frozenset({"undelivered", "failed"})


@dataclass(frozen=True)
class MessageFact:
    """One outbox row, as the report reads it.  Times are aware (UTC from the store)."""

    id: int
    campaign: str
    step: str
    step_index: int
    client_id: int
    purpose: str  # care | marketing
    status: str
    reason: str | None
    due_at: datetime
    sent_at: datetime | None
    sent_channel: str | None  # sms | email, once sent
    delivery_status: str | None  # Twilio's last status callback, if any
    segments: int = 0  # SMS segments of the body sent (0 for email and unsent messages)
    error: str | None = None
    # Held-out messages only: could the campaign have reached this client (a phone or email
    # with consent for it)?  Only those join the comparison: a client the campaign could never
    # reach is no counterpart of a reached one.
    reachable: bool = True

    @property
    def held_out(self) -> bool:
        return self.status == "cancelled" and self.reason == HELD_OUT

    @property
    def touch_at(self) -> datetime | None:
        """When this message touched the client, for attribution; None when it is no touch."""
        if self.purpose != "marketing" or self.status != "sent" or self.sent_at is None:
            return None
        return None if self.delivery_status in _NOT_TOUCHED else self.sent_at


@dataclass(frozen=True)
class Booking:
    """A session as the booking data told it: ``booked_at`` is when it became known
    (``sessions.created_at``), not when it takes place."""

    client_id: int
    session: str  # external id
    booked_at: datetime
    starts_at: datetime | None = None  # when the session takes place (None: not known)

    def follows(self, touch: datetime, window: timedelta) -> bool:
        """Whether this booking can be a response to something that happened at ``touch``: it
        became known within ``window`` after it, and the session takes place after it.  A
        visit entered late (a past appointment imported after the message), or the very
        session a nudge is about, is no rebooking."""
        return touch <= self.booked_at <= touch + window and (self.starts_at is None or self.starts_at > touch)


@dataclass(frozen=True)
class ClientEvent:
    """Something a client did at a time: an opt-out (consent ledger) or a reply (inbound text)."""

    client_id: int
    at: datetime


@dataclass(frozen=True)
class Comparison:
    """Reached vs held-out clients' rebook rates.  ``difference``, ``low``, ``high``: reached
    rate minus held-out rate and its 95 % confidence interval, as fractions (0.12 = 12 points);
    None when a group is empty.  ``conclusive``: both groups have at least :data:`MIN_GROUP`
    clients."""

    reached: int
    reached_rebooked: int
    held_out: int
    held_out_rebooked: int
    difference: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def conclusive(self) -> bool:
        return self.reached >= MIN_GROUP and self.held_out >= MIN_GROUP

    def sentence(self) -> str:
        """The comparison in one plain sentence for the owner."""
        if self.held_out == 0:
            return "No holdout group: nothing to compare with."
        if not self.conclusive or self.difference is None or self.low is None or self.high is None:
            return (
                f"Too few clients to conclude: {self.reached} reached and {self.held_out} held out "
                f"(at least {MIN_GROUP} in each group are needed)."
            )
        rates = (
            f"{_pct(self.reached_rebooked, self.reached)} of reached clients rebooked, "
            f"{_pct(self.held_out_rebooked, self.held_out)} of held-out ones"
        )
        interval = (
            f"difference {self.difference * 100:+.1f} points, 95% CI {self.low * 100:+.1f} to {self.high * 100:+.1f}"
        )
        if self.low > 0:
            return f"It works: {rates} ({interval})."
        if self.high < 0:
            return f"Reached clients rebooked less often: {rates} ({interval})."
        return f"No difference that chance cannot explain: {rates} ({interval})."


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.0f}%" if whole else "-"


def compare(reached: int, reached_rebooked: int, held_out: int, held_out_rebooked: int) -> Comparison:
    """The holdout comparison with a 95 % confidence interval for the difference in
    proportions (Newcombe's hybrid score interval, statsmodels); counts in, fractions out."""
    if reached == 0 or held_out == 0:
        return Comparison(reached, reached_rebooked, held_out, held_out_rebooked)
    # Imported here: statsmodels (and numpy, scipy) cost a second at start-up, and only the
    # report needs them.
    from statsmodels.stats.proportion import confint_proportions_2indep  # noqa: PLC0415

    low, high = confint_proportions_2indep(
        reached_rebooked, reached, held_out_rebooked, held_out, method="newcomb", compare="diff", alpha=1 - CONFIDENCE
    )
    difference = reached_rebooked / reached - held_out_rebooked / held_out
    return Comparison(reached, reached_rebooked, held_out, held_out_rebooked, difference, float(low), float(high))


def attribute(messages: Iterable[MessageFact], bookings: Iterable[Booking], window: timedelta) -> dict[str, int]:
    """Last-touch attribution: {booking's session id: id of the message credited}.

    A booking is credited to the client's latest touch at or before ``booked_at``, no more
    than ``window`` before it, and before the session it books (:meth:`Booking.follows`);
    bookings with no such touch are left out."""
    touches: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for m in messages:
        at = m.touch_at
        if at is not None:
            touches[m.client_id].append((at, m.id))
    out: dict[str, int] = {}
    for booking in bookings:
        eligible = [(at, mid) for at, mid in touches.get(booking.client_id, ()) if booking.follows(at, window)]
        if eligible:
            out[booking.session] = max(eligible)[1]
    return out


def answered(messages: Sequence[MessageFact], reply: ClientEvent, channel: str = "sms") -> MessageFact | None:
    """The message a reply answered: the last one sent to that client on the reply's ``channel``
    (a text answers a text, not the email sent after it) at or before it (any purpose)."""
    before = [
        m
        for m in messages
        if m.client_id == reply.client_id
        and m.sent_channel == channel
        and m.sent_at is not None
        and m.sent_at <= reply.at
    ]
    return max(before, key=lambda m: (m.sent_at, m.id)) if before else None


def suppression_kind(reason: str | None) -> str:
    """A suppression's reason as one of :data:`SUPPRESSION_KINDS`."""
    text = (reason or "").lower()
    for needle, kind in (
        ("consent", "consent"),
        ("opted out", "consent"),
        ("no phone", "consent"),
        ("no email", "consent"),
        ("window", "window"),
        ("cap", "cap"),
        ("duplicate", "duplicate"),
        ("segment", "over segment limit"),
    ):
        if needle in text:
            return kind
    return "other"


def cancel_kind(reason: str | None) -> str:
    """A cancellation's reason as one of :data:`CANCEL_KINDS`."""
    text = (reason or "").lower()
    if text.startswith("rebooked") or "later visit" in text:
        return "rebooked"
    if text.startswith("session cancelled") or text.startswith("session no_show"):
        return "session cancelled"
    return "other"


@dataclass
class StepReport:
    """One campaign step over the period.  Counts are messages unless named clients;
    ``sms_cost`` is in the currency of ``[sms] price_per_segment``."""

    campaign: str
    step: str
    step_index: int
    purpose: str
    planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    suppressed: int = 0
    suppressed_by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUPPRESSION_KINDS, 0))
    cancelled: int = 0
    cancelled_by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CANCEL_KINDS, 0))
    opted_out_after: int = 0
    replied: int = 0
    touches: int = 0
    rebooked_attributed: int = 0
    sms_segments: int = 0
    sms_cost: float = 0.0
    email_bounces: int = 0
    comparison: Comparison = field(default_factory=lambda: Comparison(0, 0, 0, 0))

    @property
    def conversion_rate(self) -> float | None:
        """Bookings attributed / touches; None with no touch."""
        return self.rebooked_attributed / self.touches if self.touches else None

    def as_json(self) -> dict[str, object]:
        c = self.comparison
        return {
            "campaign": self.campaign,
            "step": self.step,
            "purpose": self.purpose,
            "planned": self.planned,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_reason": self.failed_by_reason,
            "expired": self.expired,
            "suppressed": self.suppressed,
            "suppressed_by_reason": self.suppressed_by_reason,
            "cancelled": self.cancelled,
            "cancelled_by_reason": self.cancelled_by_reason,
            "opted_out_after": self.opted_out_after,
            "replied": self.replied,
            "sms_segments": self.sms_segments,
            "sms_cost": round(self.sms_cost, 4),
            "email_bounces": self.email_bounces,
            "rebooked_attributed": self.rebooked_attributed,
            "conversion_rate": None if self.conversion_rate is None else round(self.conversion_rate, 4),
            "reached_clients": c.reached,
            "reached_rebooked": c.reached_rebooked,
            "holdout_clients": c.held_out,
            "holdout_rebooked": c.held_out_rebooked,
            "difference": _round(c.difference),
            "ci_low": _round(c.low),
            "ci_high": _round(c.high),
            "conclusion": c.sentence() if self.purpose == "marketing" else None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _rebooked_within(client_id: int, start: datetime, bookings: Sequence[Booking], window: timedelta) -> bool:
    return any(b.client_id == client_id and b.follows(start, window) for b in bookings)


def group_comparison(messages: Sequence[MessageFact], bookings: Sequence[Booking], window: timedelta) -> Comparison:
    """Reached vs held-out clients over ``messages`` (one campaign, or one step of it): each
    client counted once, from their first touch (reached) or first held-out due time."""
    first_touch: dict[int, datetime] = {}
    first_held: dict[int, datetime] = {}
    for m in messages:
        at = m.touch_at
        if at is not None and (m.client_id not in first_touch or at < first_touch[m.client_id]):
            first_touch[m.client_id] = at
        if m.held_out and m.reachable and (m.client_id not in first_held or m.due_at < first_held[m.client_id]):
            first_held[m.client_id] = m.due_at
    by_client: dict[int, list[Booking]] = defaultdict(list)
    for b in bookings:
        by_client[b.client_id].append(b)
    reached_rebooked = sum(_rebooked_within(c, at, by_client[c], window) for c, at in first_touch.items())
    held_rebooked = sum(_rebooked_within(c, at, by_client[c], window) for c, at in first_held.items())
    return compare(len(first_touch), reached_rebooked, len(first_held), held_rebooked)


def build_report(
    messages: Sequence[MessageFact],
    bookings: Sequence[Booking],
    opt_outs: Sequence[ClientEvent],
    replies: Sequence[ClientEvent],
    start: datetime,
    end: datetime,
    *,
    window: timedelta = timedelta(days=7),
    price_per_segment: float = 0.0,
) -> list[StepReport]:
    """Per campaign step, ordered by campaign then step: the counts, attribution and holdout
    comparison of the messages due (held out, unsent) or sent in [``start``, ``end``).

    ``messages`` may hold more than the period (the attribution and the replies look at every
    message sent); ``bookings``, ``opt_outs`` and ``replies`` are every one the store has from
    ``start`` on.  Raises nothing; an empty period gives an empty list."""
    in_period = [m for m in messages if start <= (m.sent_at or m.due_at) < end]
    credited = attribute(messages, bookings, window)
    credits: dict[int, int] = defaultdict(int)
    for message_id in credited.values():
        credits[message_id] += 1
    reply_to: dict[int, int] = defaultdict(int)
    for reply in replies:
        target = answered(messages, reply)
        if target is not None:
            reply_to[target.id] += 1
    outs: dict[int, list[datetime]] = defaultdict(list)
    for event in opt_outs:
        outs[event.client_id].append(event.at)

    steps: dict[tuple[str, int, str], StepReport] = {}
    members: dict[tuple[str, int, str], list[MessageFact]] = defaultdict(list)
    for m in sorted(in_period, key=lambda m: (m.campaign, m.step_index, m.step, m.id)):
        key = (m.campaign, m.step_index, m.step)
        r = steps.setdefault(key, StepReport(m.campaign, m.step, m.step_index, m.purpose))
        members[key].append(m)
        if m.held_out:
            continue  # counted in the comparison, not as planned
        r.planned += 1
        if m.status == "sent":
            r.sent += 1
            if m.delivery_status == "delivered":
                r.delivered += 1
            if m.touch_at is not None:
                r.touches += 1
            if m.sent_channel == "sms":
                r.sms_segments += m.segments
            if m.sent_at is not None and any(m.sent_at <= at <= m.sent_at + OPT_OUT_WINDOW for at in outs[m.client_id]):
                r.opted_out_after += 1
        elif m.status == "failed":
            r.failed += 1
            reason = m.reason or "unknown"
            r.failed_by_reason[reason] = r.failed_by_reason.get(reason, 0) + 1
            if m.sent_channel == "email":
                r.email_bounces += 1  # an SMTP 5xx: the server refused the address
        elif m.status == "expired":
            r.expired += 1
        elif m.status == "suppressed":
            r.suppressed += 1
            r.suppressed_by_reason[suppression_kind(m.reason)] += 1
        elif m.status == "cancelled":
            r.cancelled += 1
            r.cancelled_by_reason[cancel_kind(m.reason)] += 1
        r.replied += reply_to.get(m.id, 0)
        r.rebooked_attributed += credits.get(m.id, 0)
    for key, r in steps.items():
        r.sms_cost = r.sms_segments * price_per_segment
        if r.purpose == "marketing":
            r.comparison = group_comparison(members[key], bookings, window)
    return list(steps.values())


def campaign_comparisons(
    messages: Sequence[MessageFact], bookings: Sequence[Booking], start: datetime, end: datetime, window: timedelta
) -> dict[str, Comparison]:
    """The holdout comparison per marketing campaign (all its steps together) over the period."""
    by_campaign: dict[str, list[MessageFact]] = defaultdict(list)
    for m in messages:
        if m.purpose == "marketing" and start <= (m.sent_at or m.due_at) < end:
            by_campaign[m.campaign].append(m)
    return {name: group_comparison(ms, bookings, window) for name, ms in sorted(by_campaign.items())}
