"""The weekly owner digest: an email to the owner every Monday at 8:00 clinic time with last
week's numbers, the replies still unanswered, the opt-outs, the failures that need a human
and next week's volume.

It is an outbox row like any message (campaign ``owner_digest``, no client), queued by the
worker's dispatch tick once Monday 8:00 has come and sent by the same dispatcher (the dry run
writes it as an ``.eml``); ``simulate`` runs the same code on its virtual clock and shows it.
Its idempotency key is the Monday's date, so several workers, restarts and replays queue it
once.  It is rendered when it is queued, with the numbers as they are at that moment.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from followup.config.loader import ClinicConfig
from followup.core.durations import local_datetime
from followup.engine.report import gather
from followup.store.port import OWNER_DIGEST, ClinicMessage, MessageQuery, Store
from followup.timeutil import require_aware, zone

DIGEST_AT = time(8, 0)  # Monday, clinic time
# A digest not sent within a day (the worker was down all Monday) is dropped: the next
# Monday's covers the week after, and a summary arriving mid-week would only confuse.
DIGEST_EXPIRY = timedelta(days=1)
WEEK = timedelta(days=7)
# Failures a person must look at (a landline, a dead number, a bounced address): the outbox
# gave up on them, and only the clinic can fix the number or the address.
HUMAN_STATUSES = ("failed",)
LISTED = 20  # entries shown per list; the digest is read on a phone


def last_digest_time(now: datetime, tz_name: str) -> datetime:
    """The latest Monday 8:00 in the clinic's zone at or before ``now`` (aware, in that zone;
    DST-safe: 8:00 is wall-clock time whatever the offset)."""
    local = require_aware(now, "now").astimezone(zone(tz_name))
    monday = local.date() - timedelta(days=local.weekday())
    at = local_datetime(monday, DIGEST_AT, zone(tz_name))
    return at if at <= local else local_datetime(monday - WEEK, DIGEST_AT, zone(tz_name))


def next_digest_time(now: datetime, tz_name: str) -> datetime:
    """The first Monday 8:00 in the clinic's zone strictly after ``now``."""
    last = last_digest_time(now, tz_name)
    return local_datetime(last.date() + WEEK, DIGEST_AT, zone(tz_name))


def digest_key(at: datetime) -> str:
    return f"clinic/{OWNER_DIGEST}/{at.date().isoformat()}"


def queue_digest(store: Store, clinic: ClinicConfig, now: datetime) -> int | None:
    """Queue this week's digest if Monday 8:00 has come, it is not queued yet and not too
    late; the new message's id, else None.  One indexed read when there is nothing to do."""
    settings = clinic.settings
    if not settings.digest_enabled:
        return None
    at = last_digest_time(now, settings.default_timezone)
    if now - at >= DIGEST_EXPIRY:
        return None
    key = digest_key(at)
    if store.has_message(key):
        return None
    subject, text = compose_digest(store, clinic, at, now)
    message = ClinicMessage(
        key=key,
        campaign=OWNER_DIGEST,
        step="weekly",
        to=settings.business_owner_email or settings.business_email,
        subject=subject,
        text=text,
        due_at=at,
        expires_at=at + DIGEST_EXPIRY,
        why=f"weekly digest for the week to {at:%Y-%m-%d}",
    )
    return store.enqueue_to_clinic(message, now)


def _when(moment: datetime, tz_name: str) -> str:
    local = moment.astimezone(zone(tz_name))
    return f"{local:%a %b} {local.day}, {local:%I:%M %p}".replace(" 0", " ")


def compose_digest(store: Store, clinic: ClinicConfig, at: datetime, now: datetime) -> tuple[str, str]:
    """(subject, plain text) of the digest for the week that ended at ``at`` (Monday 8:00)."""
    settings = clinic.settings
    tz_name = settings.default_timezone
    end = datetime.combine(at.date(), time(0), zone(tz_name))
    start = end - WEEK
    steps, _ = gather(store, start, end, settings.report_attribution_window)
    sent = sum(s.sent for s in steps)
    rebooked = sum(s.rebooked_attributed for s in steps)
    label = f"{start:%b} {start.day} to {(end - timedelta(days=1)):%b} {(end - timedelta(days=1)).day}"
    lines = [
        f"Hello, here is what {settings.business_short_name}'s follow-up messages did last week",
        f"({label}; times in {tz_name}).",
        "",
        "LAST WEEK",
    ]
    if not steps:
        lines.append("  No client messages were due or sent.")
    by_campaign: Counter[str] = Counter()
    for step in steps:
        by_campaign[step.campaign] += step.sent
    lines += [
        f"  Sent: {sent}; delivered: {sum(s.delivered for s in steps)}; failed: {sum(s.failed for s in steps)};"
        f" expired: {sum(s.expired for s in steps)}",
        *(f"    {campaign}: {count} sent" for campaign, count in sorted(by_campaign.items()) if count),
        f"  Bookings credited to a message (last touch, within"
        f" {settings.report_attribution_window.days} days): {rebooked}",
        "",
    ]
    waiting = [r for r in store.replies(unhandled=True) if r.received_at < now]
    lines.append(f"REPLIES WAITING FOR AN ANSWER ({len(waiting)})")
    for reply in waiting[:LISTED]:
        who = reply.client_name or reply.client
        sender = f"{who} ({reply.sender})" if who else reply.sender
        lines.append(f'  - #{reply.id} {sender}, {_when(reply.received_at, tz_name)}: "{reply.text[:120]}"')
    if len(waiting) > LISTED:
        lines.append(f"  ... and {len(waiting) - LISTED} more: run followup replies --unhandled")
    if waiting:
        lines.append("  When you have answered one, mark it handled: followup replies handle <number after #>")
    lines.append("")
    opt_outs = store.consent_records(start, end, action="opt_out")
    lines.append(f"OPT-OUTS ({len(opt_outs)})")
    shown_out = opt_outs[:LISTED]
    lines += [f"  - {c.client}: {c.channel} {c.purpose} ({c.source}), {_when(c.at, tz_name)}" for c in shown_out]
    lines.append("")
    query = MessageQuery(statuses=HUMAN_STATUSES, due_after=start - WEEK, due_before=end, limit=LISTED + 1)
    failed = [m for m in store.messages(query) if m.client_id is not None]
    lines.append(
        f"NEEDS A HUMAN ({len(failed) if len(failed) <= LISTED else f'over {LISTED}'}):"
        " numbers or addresses that could not be reached"
    )
    lines += [
        f"  - {m.client_external_id} {m.sent_channel or m.channel}: {m.status_reason or 'failed'}"
        for m in failed[:LISTED]
    ]
    lines.append("")
    channels = store.scheduled_counts(at, at + WEEK)
    words = {"sms": "by text", "email": "by email", "preferred": "by each client's preferred channel"}
    lines.append(
        f"NEXT WEEK: {sum(channels.values())} messages scheduled"
        + (" (" + ", ".join(f"{v} {words.get(k, k)}" for k, v in sorted(channels.items())) + ")" if channels else "")
        + "; some may still be held back by consent, caps or a booking"
    )
    dashboard = settings.public_base_url.rstrip("/") + "/admin"
    lines += ["", f"See everything with the command followup report, or on the dashboard: {dashboard}"]
    subject = f"Weekly follow-up summary, {label}: {sent} sent, {rebooked} rebooked, {len(waiting)} replies waiting"
    return subject, "\n".join(lines) + "\n"


def next_event(now: datetime, clinic: ClinicConfig) -> datetime | None:
    """When the next digest is due, for a clock that jumps from event to event."""
    if not clinic.settings.digest_enabled:
        return None
    return next_digest_time(now, clinic.settings.default_timezone)
