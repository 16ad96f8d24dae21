"""What an inbound SMS or a delivery status callback does to our data."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from followup.core.keywords import (
    Keyword,
    keyword_language,
    language_from_keyword,
    may_mean_appointment,
    normalise,
    reply_text,
)
from followup.core.sms_encoding import strip_accents
from followup.logfmt import logfmt
from followup.store.port import REPLY_FORWARD, ClinicMessage
from followup.timeutil import zone
from followup.web.context import WebContext

log = logging.getLogger("followup.inbound")

# A reply forwarded to the clinic is retried until this long after it arrived, then expires
# (the text itself stays stored in inbound_messages).
FORWARD_EXPIRY = timedelta(days=7)

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
# 21610 unsubscribed, 30004 blocked by the recipient, 30005 unknown/inactive, 30006 landline or
# unreachable carrier, 21614 not a mobile, 21211 invalid: stop texting the number, for every
# client on it (https://www.twilio.com/docs/api/errors).
NUMBER_DEAD = {"21610", "30004", "30005", "30006", "21614", "21211"}


class InboundService:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.settings = context.clinic.settings

    def handle(self, form: dict[str, str], keyword: Keyword) -> str | None:
        """Record the text (once per MessageSid); act on keywords; forward replies.
        Returns the SMS to answer with, if any.

        ``form`` is Twilio's webhook form (MessageSid, From, Body, OptOutType...); ``keyword``
        is :func:`followup.core.keywords.classify` of its Body.  STOP stops every client on the
        number (one confirmation); START/YES/UNSTOP only undo an earlier STOP of the number
        (otherwise they are an ordinary reply); nothing here ever grants consent that was not
        given before.

        All of it is one transaction: the text, a consent change and the outbox row that
        forwards it to the clinic are stored together or not at all (a webhook Twilio retries
        after a failure is then handled afresh)."""
        with self.context.store.transaction():
            return self._handle(form, keyword)

    def _handle(self, form: dict[str, str], keyword: Keyword) -> str | None:
        store, now = self.context.store, self.context.now()
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        sender = form.get("From", "")
        body = form.get("Body", "")
        client_id = store.find_client_id(phone=sender) if sender else None
        meaning = keyword.meaning
        if meaning == "start" and not (sender and store.suppressed(sender, "sms")):
            meaning = "reply"  # "Yes" from a number that never said STOP answers a person, not us
        kind = "reply" if meaning == "reply" else "keyword"
        word = keyword.word if kind == "keyword" else None
        if not sid or not store.record_inbound(sid, client_id, sender, body, now, kind, word):
            log.info(logfmt("inbound_replayed", sid=sid))
            return None  # a replayed webhook changes nothing (and gets no second reply)
        # Twilio's Advanced Opt-Out already answered STOP/START/HELP: record, do not reply twice.
        answered = bool(form.get("OptOutType"))
        settings = self.settings
        log.info(
            logfmt(
                "inbound",
                sid=sid,
                client_id=client_id,
                meaning=meaning,
                possible_opt_out=keyword.possible_opt_out or None,
            )
        )
        if meaning == "reply":
            self.forward(sid, client_id, sender, body, possible_opt_out=keyword.possible_opt_out)
            return None
        language = self._language(client_id, keyword)
        if meaning == "help":
            return None if answered else self._reply("help", language)
        if meaning == "extra":
            template = next((t for k, t in settings.keywords_extra.items() if normalise(k) == keyword.word), None)
            if template is not None:
                return template.format(
                    booking_url=settings.booking_url,
                    business_phone=settings.business_phone,
                    business_name=settings.business_name,
                )
        elif meaning in ("stop", "stop_marketing"):
            if client_id is not None and may_mean_appointment(keyword.word):
                self._cancel_may_mean_appointment(sid, client_id, sender, body)
            return self._stop(client_id, sender, body, meaning, sid, answered, language)
        elif meaning == "start":
            lifted = store.lift_suppression(sender, "sms", now, source="keyword", wording=body)
            if lifted is not None:
                return None if answered else self._reply("start", language)
        # A meaning not handled above (or a START that lost a race with another START) never
        # falls through to consent: a person at the clinic reads it.
        log.warning(logfmt("keyword_forwarded", sid=sid, meaning=meaning))
        self.forward(sid, client_id, sender, body)
        return None

    def _language(self, client_id: int | None, keyword: Keyword) -> str:
        """The language to answer a keyword in: the client's (when it is one of ``languages``),
        else the keyword's own (PARAR, AYUDA... are Spanish, STOP, HELP... English), else the
        default.

        A keyword sets the language of a client whose language nobody chose (see
        :func:`followup.core.keywords.language_from_keyword`): they wrote to us in it.  A
        language set by an import, the API, the owner or an earlier keyword stays."""
        settings = self.settings
        spoken = keyword_language(keyword.word)
        spoken = spoken if spoken in settings.languages else None
        if client_id is None:
            return spoken or settings.default_language
        client = self.context.store.client_state(client_id).client
        chosen = language_from_keyword(
            keyword.word, client.language, client.language_source, settings.default_language, settings.languages
        )
        if chosen is not None:
            self.context.store.upsert_client(
                replace(client, language=chosen, language_source="keyword"), self.context.now()
            )
            log.info(logfmt("language_set", client=client.external_id, language=chosen, source="keyword"))
            return chosen
        return client.language if client.language in settings.languages else settings.default_language

    def _reply(self, kind: str, language: str) -> str:
        """A keyword reply in ``language``, accents stripped as ``[sms] accents`` says."""
        settings = self.settings
        text = reply_text(
            kind,
            language,
            name=settings.business_name,
            short=settings.business_short_name,
            phone=settings.business_phone,
            cap=settings.cap_any_per_day,
        )
        return strip_accents(text) if settings.strip_accents(language) else text

    def _stop(
        self, client_id: int | None, sender: str, body: str, meaning: str, sid: str, answered: bool, language: str
    ) -> str | None:
        """STOP (everything) or STOP TIPS (marketing) from ``sender``: every client on the number,
        or the number alone when it is no client yet; one reply, in ``language``."""
        store, now = self.context.store, self.context.now()
        stopped = self._reply("stop", language)
        if client_id is None:
            # Not a client we know (yet): the number goes on the suppression list, so a client
            # imported later with it is never texted; a STOP is always acknowledged.
            log.warning(logfmt("keyword_from_unknown_number", sid=sid, meaning=meaning))
            if sender:
                scope = "all" if meaning == "stop" else "marketing"
                store.suppress(sender, "sms", scope, now, source="keyword", detail=body)
            return stopped if meaning == "stop" and not answered else None
        if meaning == "stop":
            store.record_consent(client_id, "sms", "all", "opt_out", now, source="keyword", wording=body)
            return None if answered else stopped
        store.record_consent(client_id, "sms", "marketing", "opt_out", now, source="keyword", wording=body)
        return self._reply("stop_marketing", language)

    def forward(
        self, sid: str, client_id: int | None, sender: str, body: str, *, possible_opt_out: bool = False
    ) -> int | None:
        """A reply for a human: queue an email to the clinic (an outbox row, sent, retried and
        recorded by the dispatcher) with who sent it and their last visit; ``possible_opt_out``
        (it reads like "please stop texting me") says so in the subject and the text, since
        followup has not opted them out.  Idempotent by the inbound ``sid``; returns the
        outbox row's id (None when it was queued before)."""
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
        subject = f"Text from {who}: {body[:40]}"
        if possible_opt_out:
            subject = f"Possible opt-out: {subject}"
            text = (
                "POSSIBLE OPT-OUT: this reads like a request to stop texting, but it is not a keyword, so "
                "followup has NOT opted them out. If they want no more texts, record it "
                "(followup clients optout ... --channel sms) or ask them to reply STOP.\n\n" + text
            )
        message = ClinicMessage(
            key=f"clinic/{REPLY_FORWARD}/{sid}",
            campaign=REPLY_FORWARD,
            step="possible_opt_out" if possible_opt_out else "reply",
            to=settings.business_email,
            subject=subject,
            text=text,
            due_at=now,
            expires_at=now + FORWARD_EXPIRY,
            why=f"text {sid} from {sender}",
        )
        message_id = store.enqueue_to_clinic(message, now)
        store.mark_forwarded(sid, now)
        log.info(logfmt("reply_queued_for_clinic", sid=sid, m=message_id, possible_opt_out=possible_opt_out or None))
        return message_id

    def _cancel_may_mean_appointment(self, sid: str, client_id: int, sender: str, body: str) -> int | None:
        """CANCEL / CANCELAR is a full opt-out (carriers and CTIA say so, and it stays one), but a
        client with a booked session ahead may have meant "cancel my appointment": the clinic
        gets an email saying so, with the session, so someone can call them.  None when the
        client has no upcoming booked session (or it was queued before)."""
        store, settings, now = self.context.store, self.settings, self.context.now()
        state = store.client_state(client_id)
        ahead = [s for s in state.sessions if s.status == "booked" and s.start > now]
        if not ahead:
            return None
        session = min(ahead, key=lambda s: s.start)
        local = session.start.astimezone(zone(state.client.timezone))
        when = f"{local:%a %b %d, %I:%M %p}"
        who = f"{state.client.full_name} ({sender})"
        subject = f"Opted out with {body.strip()!r} — they may have meant to cancel their appointment on {when}"
        text = (
            f"{who} texted {body.strip()!r}. That is an opt-out keyword, so followup has opted them out of "
            "all texts (carriers require it) and sent the opt-out confirmation.\n\n"
            f"They have a session booked: {session.service} with {session.therapist or 'staff'} on {when}. "
            "They may have meant to cancel that appointment: call them to check. The session is NOT cancelled.\n\n"
            f"Reply to them at {sender}. If they want texts again, they can reply START.\n"
        )
        message = ClinicMessage(
            key=f"clinic/{REPLY_FORWARD}/{sid}",
            campaign=REPLY_FORWARD,
            step="opt_out_cancel",
            to=settings.business_email,
            subject=subject,
            text=text,
            due_at=now,
            expires_at=now + FORWARD_EXPIRY,
            why=f"text {sid} from {sender}",
        )
        message_id = store.enqueue_to_clinic(message, now)
        store.mark_forwarded(sid, now)
        log.info(logfmt("opt_out_cancel_queued_for_clinic", sid=sid, m=message_id, session=session.external_id))
        return message_id

    def status(self, message_id: str, form: dict[str, str]) -> None:
        store, now = self.context.store, self.context.now()
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        code = form.get("ErrorCode") or ""
        if not message_id.isdigit() or status not in STATUS_RANK:
            log.warning(logfmt("status_ignored", m=message_id, status=status))
            return
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        # Only the message this callback is about: a stored provider id must be the MessageSid.
        client_id = store.advance_delivery_status(int(message_id), status, STATUS_RANK, now, sid=sid)
        if client_id is None:
            log.warning(logfmt("status_not_applied", m=message_id, sid=sid, status=status))
            return
        log.info(logfmt("delivery_status", m=message_id, status=status, code=code or None))
        if status in ("undelivered", "failed") and code in NUMBER_DEAD:
            store.record_opt_out(client_id, "sms", now, source="provider", detail=f"Twilio error {code}")
