"""What an inbound SMS or a delivery status callback does to our data."""

from __future__ import annotations

import logging

from followup.channels.base import Outgoing
from followup.core.keywords import Keyword
from followup.logfmt import logfmt
from followup.rendering.templates import RenderedEmail, text_to_html
from followup.timeutil import zone
from followup.web.context import WebContext

log = logging.getLogger("followup.inbound")

# Delivery statuses only move forward, whatever order Twilio's callbacks arrive in.
STATUS_RANK = {
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}
# Final failures that mean: stop texting this number.
NUMBER_DEAD = {"21610", "30005", "30006", "21614", "21211"}


class InboundService:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.settings = context.clinic.settings

    def handle(self, form: dict[str, str], keyword: Keyword) -> str | None:
        """Record the text (once per MessageSid); act on keywords; forward replies.
        Returns the SMS to answer with, if any."""
        store, now = self.context.store, self.context.now()
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        sender = form.get("From", "")
        body = form.get("Body", "")
        client_id = store.find_client_id(phone=sender) if sender else None
        kind = "reply" if keyword.meaning == "reply" else "keyword"
        if not sid or not store.record_inbound(sid, client_id, sender, body, now, kind, keyword.word):
            log.info(logfmt("inbound_replayed", sid=sid))
            return None  # a replayed webhook changes nothing (and gets no second reply)
        # Twilio's Advanced Opt-Out already answered STOP/START/HELP: record, do not reply twice.
        answered = bool(form.get("OptOutType"))
        settings = self.settings
        log.info(logfmt("inbound", sid=sid, client_id=client_id, meaning=keyword.meaning))
        if keyword.meaning == "reply":
            self.forward(client_id, sender, body)
            return None
        if keyword.meaning == "help":
            return None if answered else settings.help_reply()
        if keyword.meaning == "extra":
            template = settings.keywords_extra[next(k for k in settings.keywords_extra if k.upper() == keyword.word)]
            return template.format(
                booking_url=settings.booking_url,
                business_phone=settings.business_phone,
                business_name=settings.business_name,
            )
        stopped = (
            f"{settings.business_short_name}: you are unsubscribed and will get no more texts from us. "
            "Reply START to resubscribe."
        )
        if client_id is None:
            # Not a client we know (yet): the number goes on the suppression list, so a client
            # imported later with it is never texted; a STOP is always acknowledged.
            log.warning(logfmt("keyword_from_unknown_number", sid=sid, meaning=keyword.meaning))
            if sender and keyword.meaning in ("stop", "stop_marketing"):
                scope = "all" if keyword.meaning == "stop" else "marketing"
                store.suppress(sender, "sms", scope, now, source="keyword", detail=body)
            return stopped if keyword.meaning == "stop" and not answered else None
        if keyword.meaning == "stop":
            store.record_consent(client_id, "sms", "all", "opt_out", now, source="keyword", wording=body)
            return None if answered else stopped
        if keyword.meaning == "stop_marketing":
            store.record_consent(client_id, "sms", "marketing", "opt_out", now, source="keyword", wording=body)
            return (
                f"{settings.business_short_name}: no more tips or offers. You will still get appointment "
                "reminders and aftercare. Reply STOP to stop all texts."
            )
        # start
        store.record_consent(client_id, "sms", "all", "opt_in", now, source="keyword", wording=body)
        return (
            None
            if answered
            else (f"{settings.business_short_name}: you are resubscribed to texts. Reply HELP for help, STOP to stop.")
        )

    def forward(self, client_id: int | None, sender: str, body: str) -> None:
        """A reply for a human: email it to the clinic with who sent it and their last visit."""
        store, settings, now = self.context.store, self.settings, self.context.now()
        who, last = sender, "no session on record"
        if client_id is not None:
            state = store.client_state(client_id)
            who = f"{state.client.full_name} ({sender})"
            done = [s for s in state.sessions if s.status == "completed"]
            if done:
                s = done[-1]
                local = s.start.astimezone(zone(state.client.timezone))
                last = f"{s.service} with {s.therapist or 'staff'} on {local:%a %b %d, %I:%M %p}"
        text = f"{who} replied by text:\n\n{body}\n\nLast session: {last}\nReply to them at {sender}.\n"
        channel = self.context.email
        if channel is None:
            log.warning(logfmt("reply_not_forwarded", reason="no email channel", sender=sender))
            return
        outgoing = Outgoing(
            message_id=0,
            key=f"reply/{sender}/{now.timestamp():.0f}",
            channel="email",
            to=settings.business_email,
            purpose="care",
            expires_at=now,
            client_external_id="clinic",
            campaign="inbound",
            step="reply",
            at=now,
            email=RenderedEmail(subject=f"Text from {who}: {body[:40]}", text=text, html=str(text_to_html(text))),
        )
        channel.send(outgoing)
        store.mark_forwarded(sender, now)

    def status(self, message_id: str, form: dict[str, str]) -> None:
        store, now = self.context.store, self.context.now()
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        code = form.get("ErrorCode") or ""
        if not message_id.isdigit() or status not in STATUS_RANK:
            log.warning(logfmt("status_ignored", m=message_id, status=status))
            return
        client_id = store.advance_delivery_status(int(message_id), status, STATUS_RANK, now)
        if client_id is None:
            return
        log.info(logfmt("delivery_status", m=message_id, status=status, code=code or None))
        if status in ("undelivered", "failed") and code in NUMBER_DEAD:
            store.record_opt_out(client_id, "sms", now, source="provider", detail=f"Twilio error {code}")
