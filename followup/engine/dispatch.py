"""The dispatcher: claim due messages, re-check them, render, send, record.

It never reads the wall clock: ``clock.now()`` is the worker's real clock or the
simulator's virtual one, so ``followup simulate`` runs exactly this code.

Two last guards run on the rendered text, just before it goes out:

- **Duplicates**: a body identical to one sent to the same client on the same channel
  within ``[sends] duplicate_window`` (24 h) is not sent; the message is recorded
  ``suppressed`` with the reason ``duplicate``.  Email bodies are compared without their
  unsubscribe link (its token carries the time it was issued).
- **Length**: an SMS of more than ``[sms] max_segments`` segments (counted as carriers
  bill them, :func:`followup.core.sms_encoding.analyse`) is recorded with a ``warning``
  event; a marketing text is then suppressed (``over segment limit``), a care text (a
  reminder, aftercare) still goes out.

Provider faults lose nothing:

- **Unknown outcomes** (a timeout, a dropped connection, a 5xx after the request was sent)
  are reconciled by a lookup before any resend (:meth:`Dispatcher.reconcile`).
- **Pauses**: a 429 (for its ``Retry-After``) or an account fault (401/403, a suspended
  account, a From number that is not ours; for ``account_pause``) pauses the channel's
  sender for every worker, through the store.  The message and the rest of the batch on
  that sender stay ``scheduled`` until the pause ends: no failure, no fallback to email.
  An account fault is told to the owner once (an ERROR log line and an ``owner_alert``
  event), until a message goes out again.
- **Rate**: before each send the dispatcher claims the sender's next free slot in the store
  and waits for it, so all workers together keep to ``messages_per_second``.

**Batches.**  A claimed batch's clients are read at once (:meth:`Store.dispatch_state`: client,
sessions, tips, and the messages the caps and the duplicate guard look at), and each outcome is
applied to that picture as it is decided, so two messages to one client in one batch see each
other exactly as if the first had been stored before the second was decided.  Outcomes are
stored together (:meth:`Store.finish_many`), in the transaction that claims the next batch (one
commit a batch, not two; the last batch's in a transaction of their own, or with the empty
claim that ends the run), for
channels whose lookup always knows what went out (dry run, in-memory:
``Channel.outcomes_in_batches``); a live channel's (Twilio, SMTP) are stored one by one, right
after each send, as before: claimed (``sending``), sent, recorded, and reconciled after a crash.
A stop or a crash in mid-batch loses no decision: what was not stored is still ``sending`` and
is reconciled after the lease.

**Messages to the clinic or its owner** (a client's reply, forwarded; rows without a client,
rendered when they were queued) are not client messages: no consent, send window, caps or
duplicate guard applies, only their expiry.  They are sent, retried, paused, reconciled and
recorded exactly like the others.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from followup.channels.base import Channel, Outgoing
from followup.config.loader import ClinicConfig
from followup.core.domain import ChannelName, Client
from followup.core.durations import format_duration
from followup.core.planner import group_visits, visit_number
from followup.core.rules import (
    PRIORITY_RANK,
    STALENESS_SENSITIVE,
    Caps,
    Decision,
    Defer,
    Final,
    SendWindow,
    Traffic,
    decide,
)
from followup.core.sms_encoding import GSM7_BASIC, analyse
from followup.core.tipselect import choose_tip
from followup.exceptions import (
    AccountError,
    ChannelPausedError,
    DeliveryError,
    PermanentDeliveryError,
    RecipientOptedOutError,
    TemplateRenderError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from followup.logfmt import logfmt
from followup.rendering.compose import Composed, compose, templates_pinned
from followup.rendering.templates import RenderedEmail, text_to_html
from followup.store.port import (
    OWNER_ALERT,
    ClientState,
    ClinicMessage,
    DispatchState,
    Finish,
    MessageRow,
    OutboxEntry,
    SendSlot,
    Store,
)
from followup.timeutil import Clock, zone

log = logging.getLogger("followup.dispatch")

ACCOUNT_PAUSE = timedelta(minutes=15)  # an account fault: try again after this (the owner is told)
RATE_PAUSE = timedelta(minutes=1)  # a 429 without Retry-After
DAY = timedelta(hours=24)  # the caps' window (core.rules)
_UNREAD = object()  # booking_data_at not read yet in this batch
QUIET_EVENTS = frozenset({"deferred"})  # logged one by one at DEBUG only (see _recorded)


def basic_segments(text: str) -> int | None:
    """Segments of an SMS made only of GSM-7 basic characters (one septet each, none that an
    escape must keep whole): 1 up to 160, else one per 153; None for any other text (then
    :func:`followup.core.sms_encoding.analyse` counts).  The common case without analyse's walk
    over every character."""
    if not GSM7_BASIC.issuperset(text):
        return None
    length = len(text)
    return 0 if length == 0 else 1 if length <= 160 else -(-length // 153)


def worker_name() -> str:
    return f"{socket.gethostname()}:{threading.get_native_id()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits base * 2**(n-1), capped, times 0.5-1."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        raw: timedelta = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return raw * (0.5 + rng.random() / 2)


@dataclass
class DispatchStats:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def __getitem__(self, key: str) -> int:
        return self.counts.get(key, 0)


@dataclass
class _Pending:
    """An outcome decided but not stored yet (stored with the batch)."""

    message: MessageRow
    outcome: Finish
    at: datetime
    event: str
    fields: dict[str, object]


@dataclass
class _Batch:
    """One claimed batch: its clients' state as read at its start plus the outcomes decided
    since, the outcomes not stored yet, and the senders' pause state."""

    stats: DispatchStats
    states: dict[int, DispatchState] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    slots: dict[str, SendSlot] = field(default_factory=dict)  # senders without a rate: read once
    data_at: object = _UNREAD
    immediate: bool = False  # a live channel's outcome in hand: store it now
    fresh: bool = False  # a live channel is configured: each message reads its client again


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clinic: ClinicConfig,
        channels: Mapping[ChannelName, Channel],
        clock: Clock,
        *,
        worker: str | None = None,
        batch_size: int = 20,
        lease: timedelta = timedelta(minutes=15),
        backoff: Backoff | None = None,
        window: SendWindow | None = None,
        caps: Caps | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        duplicate_window: timedelta | None = None,
        max_staleness: timedelta | None = None,
        account_pause: timedelta = ACCOUNT_PAUSE,
        rate_pause: timedelta = RATE_PAUSE,
    ) -> None:
        self.store = store
        self.clinic = clinic
        self.channels = channels
        self.clock = clock
        self.worker = worker or worker_name()
        self.batch_size = batch_size
        self.lease = lease
        self.backoff = backoff or Backoff()
        self.window = window
        self.caps = caps
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.account_pause = account_pause
        self.rate_pause = rate_pause
        settings = clinic.settings
        self.duplicate_window = settings.sends_duplicate_window if duplicate_window is None else duplicate_window
        self.max_segments = settings.sms_max_segments
        # timedelta(0): never hold nudges for stale booking data (simulate assumes fresh data).
        staleness = settings.intake_max_staleness if max_staleness is None else max_staleness
        self.max_staleness = staleness if staleness > timedelta(0) else None
        self._stale_told = False
        self._batch: _Batch | None = None
        # Unsubscribe links differ in every email (the token is signed with its issue time).
        self._unsubscribe_link = re.compile(re.escape(settings.public_base_url) + r"/u/[A-Za-z0-9_.=-]+")

    # --- the loop -----------------------------------------------------------------

    def run_once(self) -> DispatchStats:
        """Reconcile stale work, then send everything due, batch by batch, until none is left
        or a stop was requested (the message in hand is always finished)."""
        stats = DispatchStats()
        # One pooled connection for the whole run: a checkout pre-pings the server (PostgreSQL).
        # The templates are found and checked for edits once per run, not once per message.
        with self.store.pinned(), templates_pinned(self.clinic):
            self.reconcile(stats)
            for channel in self.channels.values():
                channel.open()
            done: _Batch | None = None  # a batch whose outcomes are not stored yet
            try:
                while True:
                    # One transaction: the last batch's outcomes, then the next claim and the
                    # reads for it (a commit each costs; the claim's reads see the outcomes).
                    with self.store.transaction():
                        if done is not None:
                            self._store_pending(done)
                            done = None
                        if self.stop.is_set():
                            break
                        batch = self.store.claim_due(self.clock.now(), self.batch_size, self.worker)
                        if not batch:
                            break
                        states = self._load({m.client_id for m in batch if m.client_id is not None})
                        slots = self._pauses()
                    # Of what is due together, the more important goes first (caps may hold the rest).
                    batch.sort(key=lambda m: (-PRIORITY_RANK.get(m.priority, 2), m.next_attempt_at, m.id))
                    fresh = not all(c.outcomes_in_batches for c in self.channels.values())
                    done = _Batch(stats, states, slots=slots, fresh=fresh)
                    self._dispatch_batch(batch, done)
            finally:
                if done is not None:  # an error mid-batch: what was decided is still stored
                    self._store_pending(done)
                for channel in self.channels.values():
                    channel.close()
        return stats

    def _pauses(self) -> dict[str, SendSlot]:
        """Whether each batched sender without a rate is paused (a sender with a rate takes a slot
        per send; a live one without is asked before each send, as other workers may pause it)."""
        senders = [
            provider.sender_key()
            for provider in self.channels.values()
            if not provider.messages_per_second and provider.outcomes_in_batches
        ]
        return self.store.sender_pauses(senders, self.clock.now()) if senders else {}

    def _dispatch_batch(self, batch: list[MessageRow], context: _Batch) -> None:
        """Decide, render and send each message of a claimed batch; the outcomes stay in
        ``context.pending`` (stored by run_once with the next claim), except a live channel's,
        stored one by one.  A stop gives back what was not begun."""
        stats = context.stats
        self._batch = context
        try:
            for index, message in enumerate(batch):
                if self.stop.is_set():
                    self._flush()
                    self.store.release([m.id for m in batch[index:]], self.worker)
                    break
                stats.add("claimed")
                self.process(message, stats)
        finally:
            self._batch = None

    def _load(self, client_ids: set[int]) -> dict[int, DispatchState]:
        """The clients' state and the messages their caps and duplicate guard may look at.  The
        rows are read with some slack (``lease``) for the clock moving on during the batch; each
        message then filters them at its own ``now``."""
        now = self.clock.now()
        return self.store.dispatch_state(
            client_ids,
            sent_since=now - max(DAY, self.duplicate_window),
            due_before=now + DAY + self.lease,
        )

    def _client(self, client_id: int) -> DispatchState:
        """A client of the batch in hand (read again when the batch's picture was dropped)."""
        batch = self._batch
        if batch is None:  # process() called outside run_once
            return self._load({client_id})[client_id]
        found = batch.states.get(client_id)
        if found is None:
            self._flush()  # what was decided must be read back
            found = batch.states[client_id] = self._load({client_id})[client_id]
        return found

    def _forget(self, client_id: int) -> None:
        """The client's stored data changed outside the batch's picture (an opt-out): read it again."""
        if self._batch is not None:
            self._batch.states.pop(client_id, None)

    def _booking_data_at(self) -> datetime | None:
        batch = self._batch
        if batch is None:
            return self.store.booking_data_at()
        if batch.data_at is _UNREAD:
            batch.data_at = self.store.booking_data_at()
        return batch.data_at  # type: ignore[return-value]

    def process(self, message: MessageRow, stats: DispatchStats) -> None:
        now = self.clock.now()
        if message.client_id is None:
            self._send_to_clinic(message, now, stats)
            return
        if self._batch is not None and self._batch.fresh:
            # Live delivery is paced (a batch may take minutes): read the client again for
            # each message, so a STOP that arrived meanwhile is honoured by the very next text.
            self._forget(message.client_id)
        known = self._client(message.client_id)
        state = known.state
        campaign = self.clinic.campaigns.get(message.campaign)
        traffic = self._traffic(known.outbox, now, exclude=message.id) if self.caps else Traffic()
        data_at = None
        if self.max_staleness is not None and campaign is not None and campaign.trigger.type in STALENESS_SENSITIVE:
            data_at = self._booking_data_at()
        decision = decide(
            message.facts(),
            campaign,
            state.client,
            state.sessions,
            now,
            self.window,
            self.caps,
            traffic,
            booking_data_at=data_at,
            max_staleness=self.max_staleness,
        )
        self._tell_owner_once(decision, data_at)
        if isinstance(decision, Final):
            self._finish(message, Finish(status=decision.status, reason=decision.reason), stats, decision.status)
        elif isinstance(decision, Defer):
            outcome = Finish(status="scheduled", reason=decision.reason, next_attempt_at=decision.until)
            self._finish(message, outcome, stats, "deferred", until=decision.until.isoformat())
        else:
            self._send(message, state, decision.channel, now, stats)

    def _tell_owner_once(self, decision: Decision, data_at: datetime | None) -> None:
        """One warning per stale spell (not one per held message): the owner should refresh the data."""
        stale = isinstance(decision, Defer) and decision.reason == "stale booking data"
        if stale and not self._stale_told:
            log.warning(
                logfmt(
                    "stale_booking_data",
                    last_refresh=data_at.isoformat() if data_at else "never",
                    limit=format_duration(self.max_staleness) if self.max_staleness else "",
                    action="rebook nudges and win-backs wait until bookings are imported again",
                )
            )
        if data_at is not None and not stale:
            self._stale_told = False  # fresh again: a later stale spell is told again
        elif stale:
            self._stale_told = True

    # --- sending --------------------------------------------------------------------

    def _clinic_outgoing(self, message: MessageRow, now: datetime) -> Outgoing:
        """A message to the clinic/owner, as rendered when it was queued (subject and text)."""
        text = message.body or ""
        return Outgoing(
            message_id=message.id,
            key=message.key,
            channel="email",
            to=message.to_address or "",
            purpose=message.purpose,
            expires_at=message.expires_at,
            client_external_id=message.client_external_id,
            campaign=message.campaign,
            step=message.step,
            at=now,
            email=RenderedEmail(subject=message.subject or "", text=text, html=str(text_to_html(text))),
        )

    def _send_to_clinic(self, message: MessageRow, now: datetime, stats: DispatchStats) -> None:
        """A message to the clinic or its owner: only its expiry is checked, then it is sent
        (and retried, paused, reconciled) like any email."""
        if now >= message.expires_at:
            outcome = Finish(status="expired", reason=f"not sent by {message.expires_at.isoformat()}")
            self._finish(message, outcome, stats, "expired")
            return
        if not message.to_address or message.body is None:
            outcome = Finish(status="failed", reason="no recipient or text", error="a message to the clinic needs both")
            self._finish(message, outcome, stats, "failed")
            return
        if "email" not in self.channels:
            later = min(now + timedelta(hours=1), message.expires_at)
            outcome = Finish(status="scheduled", reason="no email channel", next_attempt_at=later)
            self._finish(message, outcome, stats, "deferred", until=later.isoformat())
            return
        base = Finish(status="sent", sent_channel="email", subject=message.subject, body=message.body, attempted=True)

        def permanent(exc: PermanentDeliveryError) -> None:
            outcome = replace(base, status="failed", error=str(exc), reason="permanent failure")
            self._finish(message, outcome, stats, "failed", error=str(exc))

        self._deliver(message, "email", self._clinic_outgoing(message, now), base, now, stats, permanent)

    def _outgoing(
        self, message: MessageRow, client: Client, channel: ChannelName, now: datetime, **rendered: Any
    ) -> Outgoing:
        """``rendered``: the other fields of Outgoing (the text, the unsubscribe link, ``paced``)."""
        return Outgoing(
            message_id=message.id,
            key=message.key,
            channel=channel,
            to=(client.phone if channel == "sms" else client.email) or "",
            purpose=message.purpose,
            expires_at=message.expires_at,
            client_external_id=client.external_id,
            campaign=message.campaign,
            step=message.step,
            at=now,
            **rendered,
        )

    def _send(
        self, message: MessageRow, state: ClientState, channel: ChannelName, now: datetime, stats: DispatchStats
    ) -> None:
        campaign = self.clinic.campaigns[message.campaign]
        step = campaign.steps[message.step_index]
        # The text speaks of the whole visit (an add-on's service too), as the planner planned it.
        visits, _ = group_visits(state.sessions, zone(state.client.timezone))
        session = next((s for s in visits if s.external_id == message.session_external_id), None)
        tip = None
        if step.tip is not None:
            focus = session.focus_areas if session else ()
            tip = choose_tip(self.clinic.tips, step.tip.categories, state.tips, focus, state.client.external_id)
        try:
            composed = compose(
                self.clinic,
                client=state.client,
                session=session,
                visit_count=visit_number(session, visits) if session else 0,
                campaign_name=message.campaign,
                step_index=message.step_index,
                channel=channel,
                now=now,
                tip=tip,
            )
        except TemplateRenderError as exc:
            self._finish(message, Finish(status="failed", error=str(exc), reason="template error"), stats, "failed")
            return
        outgoing = self._outgoing(
            message,
            state.client,
            channel,
            now,
            sms=composed.sms,
            email=composed.email,
            unsubscribe_url=composed.unsubscribe_url,
            paced=True,  # only ever sent after _slot()
        )
        subject = composed.email.subject if composed.email else None
        base = Finish(status="sent", sent_channel=channel, subject=subject, body=composed.body, attempted=True)
        checked = self._last_guards(message, channel, composed, base, now, stats)
        if checked is None:
            return
        base = checked

        def permanent(exc: PermanentDeliveryError) -> None:
            if isinstance(exc, RecipientOptedOutError) and message.client_id is not None:
                # a carrier's "unsubscribed" (Twilio 21610) or a hard bounce: the address is suppressed
                self.store.record_opt_out(message.client_id, channel, now, source="provider", detail=str(exc))
                self._forget(message.client_id)  # its consent just changed
            if channel == "sms" and step.fallback_to_email and not message.fell_back and state.client.email:
                outcome = replace(
                    base,
                    status="scheduled",
                    error=str(exc),
                    reason="sms failed for good; email instead",
                    next_attempt_at=now,
                    fell_back=True,
                )
                self._finish(message, outcome, stats, "fallback", error=str(exc))
            else:
                outcome = replace(base, status="failed", error=str(exc), reason="permanent failure")
                self._finish(message, outcome, stats, "failed", error=str(exc))

        self._deliver(message, channel, outgoing, base, now, stats, permanent, tip_id=tip.id if tip else None)

    def _deliver(
        self,
        message: MessageRow,
        channel: ChannelName,
        outgoing: Outgoing,
        base: Finish,
        now: datetime,
        stats: DispatchStats,
        permanent: Callable[[PermanentDeliveryError], None],
        *,
        tip_id: str | None = None,
    ) -> None:
        """Take the sender's slot, send, and record the outcome: sent, retried with backoff,
        paused, unknown (to reconcile) or unconfirmed; a permanent failure is ``permanent``'s."""
        provider = self.channels[channel]
        batch = self._batch
        live = batch is not None and not provider.outcomes_in_batches
        if live:
            # A live provider: what the batch decided so far is stored first (before the slot:
            # nothing may delay a send past its slot, or it crowds the next one), then this
            # message is sent and its outcome stored at once (live delivery's exactly-once).
            self._flush()
        slot = self._slot(provider)
        if slot.paused_until is not None:
            outcome = replace(
                base,
                status="scheduled",
                attempted=False,
                reason=f"{channel} paused: {slot.reason or 'provider fault'}",
                next_attempt_at=slot.paused_until,
            )
            self._finish(message, outcome, stats, "paused", until=slot.paused_until.isoformat())
            return
        if batch is None or not live:
            self._attempt(message, provider, outgoing, base, slot, now, stats, permanent, tip_id=tip_id)
            return
        batch.immediate = True
        try:
            self._attempt(message, provider, outgoing, base, slot, now, stats, permanent, tip_id=tip_id)
        finally:
            batch.immediate = False

    def _attempt(
        self,
        message: MessageRow,
        provider: Channel,
        outgoing: Outgoing,
        base: Finish,
        slot: SendSlot,
        now: datetime,
        stats: DispatchStats,
        permanent: Callable[[PermanentDeliveryError], None],
        *,
        tip_id: str | None = None,
    ) -> None:
        channel = provider.name
        try:
            sent = provider.send(outgoing if outgoing.paced else replace(outgoing, paced=True))
        except ChannelPausedError as exc:
            self._paused(message, provider, exc, base, now, stats)
        except TransientDeliveryError as exc:
            retry_at = now + self.backoff.delay(message.attempts + 1, self.rng)
            if retry_at >= message.expires_at:
                outcome = replace(base, status="expired", error=str(exc), reason="provider unavailable until expiry")
                self._finish(message, outcome, stats, "expired")
            else:
                outcome = replace(
                    base,
                    status="scheduled",
                    error=str(exc),
                    reason="transient failure, will retry",
                    next_attempt_at=retry_at,
                )
                self._finish(message, outcome, stats, "retry", until=retry_at.isoformat(), error=str(exc))
        except PermanentDeliveryError as exc:
            permanent(exc)
        except UnknownOutcomeError as exc:
            if not provider.can_reconcile:
                outcome = replace(
                    base,
                    status="unconfirmed",
                    error=str(exc),
                    reason="the provider's answer was lost; not resent to avoid a duplicate",
                )
                self._finish(message, outcome, stats, "unconfirmed", error=str(exc))
                return
            # Never resend blindly: reconcile with the provider first (see reconcile()).
            outcome = replace(
                base,
                status="unknown",
                error=str(exc),
                reason="outcome unknown; will reconcile",
                next_attempt_at=now + timedelta(minutes=1),
            )
            self._finish(message, outcome, stats, "unknown", error=str(exc))
        else:
            outcome = replace(base, status="sent", provider_id=sent.provider_id, tip_id=tip_id)
            self._finish(message, outcome, stats, "sent", channel=channel, provider_id=sent.provider_id)
            if slot.fault is not None:
                self.store.clear_sender_fault(provider.sender_key(), self.clock.now())
                if self._batch is not None and provider.sender_key() in self._batch.slots:
                    self._batch.slots[provider.sender_key()] = replace(slot, fault=None)
                log.info(logfmt("sender_resumed", sender=provider.sender_key(), fault=slot.fault))

    # --- the sender's shared rate and pauses -------------------------------------------

    def _slot(self, provider: Channel) -> SendSlot:
        """Claim the sender's next send slot (shared by all workers) and wait for it; or learn
        that the sender is paused.  The wait ends early on stop (the message still goes)."""
        rate = provider.messages_per_second
        interval = timedelta(seconds=1 / rate) if rate else timedelta(0)
        batch = self._batch
        if not rate and batch is not None and provider.outcomes_in_batches:
            # No rate, no live provider: no slot to take, only a pause to learn of; read once per
            # batch (this worker's own pauses update it, another worker's show from the next).
            sender = provider.sender_key()
            known = batch.slots.get(sender)
            if known is None:
                known = batch.slots[sender] = self.store.claim_send_slot(sender, self.clock.now(), interval)
            return known
        slot = self.store.claim_send_slot(provider.sender_key(), self.clock.now(), interval)
        if slot.paused_until is None:
            wait = (slot.at - self.clock.now()).total_seconds()
            if wait > 0:
                self.stop.wait(wait)
        return slot

    def _pause_length(self, exc: ChannelPausedError) -> timedelta:
        if exc.pause is not None:
            return exc.pause  # the provider said (Retry-After)
        return self.account_pause if isinstance(exc, AccountError) else self.rate_pause

    def _paused(
        self,
        message: MessageRow,
        provider: Channel,
        exc: ChannelPausedError,
        base: Finish,
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        """A 429 or an account fault: pause the sender for every worker, keep the message."""
        account = isinstance(exc, AccountError)
        until = now + self._pause_length(exc)
        sender = provider.sender_key()
        alert = self.store.pause_sender(sender, until, now, reason=str(exc), fault=account, message_id=message.id)
        if self._batch is not None:
            known = self._batch.slots.get(sender)
            longest = until if known is None or known.paused_until is None else max(until, known.paused_until)
            fault = str(exc) if account else (known.fault if known else None)
            self._batch.slots[sender] = SendSlot(at=now, paused_until=longest, reason=str(exc), fault=fault)
        outcome = replace(
            base,
            status="scheduled",
            error=str(exc),
            reason=f"{provider.name} paused: {exc}",
            next_attempt_at=until,
        )
        self._finish(message, outcome, stats, "paused", until=until.isoformat(), error=str(exc))
        if alert:
            # Once per fault (every worker shares the store), until a message goes out again.
            log.error(
                logfmt(
                    "owner_alert",
                    channel=provider.name,
                    sender=sender,
                    error=str(exc),
                    paused_until=until.isoformat(),
                    action="fix the provider account (credentials, balance, sender number); "
                    "messages stay scheduled and go out once it works",
                )
            )
            if account:
                self._email_owner(provider.name, sender, exc, until, now)

    def _email_owner(self, channel: str, sender: str, exc: ChannelPausedError, until: datetime, now: datetime) -> None:
        """The owner hears of an account fault by email too, through the outbox (once per fault:
        the key names the fault's first pause)."""
        settings = self.clinic.settings
        shown = until.astimezone(zone(settings.default_timezone)).strftime("%a %b %d, %I:%M %p %Z")
        text = (
            f"followup could not send by {channel} ({sender}): {exc}\n\n"
            "This is a problem with the provider account (credentials, balance or sender number), "
            "not with any client. Nothing is lost: messages stay scheduled and go out once it works; "
            f"followup tries again after {shown}.\n\n"
            "Check the settings named in the README, section Live delivery, then run "
            "`followup send-test` to confirm.\n"
        )
        self.store.enqueue_to_clinic(
            ClinicMessage(
                key=f"clinic/{OWNER_ALERT}/{channel}/{now.isoformat()}",
                campaign=OWNER_ALERT,
                step=channel,
                to=settings.business_email,
                subject=f"followup: {channel} paused - the provider refused our account",
                text=text,
                due_at=now,
                expires_at=now + timedelta(days=7),
                why=f"{channel} paused by an account fault",
            ),
            now,
        )

    def _last_guards(
        self,
        message: MessageRow,
        channel: ChannelName,
        composed: Composed,
        base: Finish,
        now: datetime,
        stats: DispatchStats,
    ) -> Finish | None:
        """Duplicate and length guards on the rendered text (see the module docstring).
        Returns the outcome to send with (``base``, with a warning for an over-long care
        text), or None when the message was suppressed and recorded here."""
        earlier = self._duplicate_of(message, channel, composed.body, now)
        if earlier is not None:
            window = format_duration(self.duplicate_window)
            outcome = Finish(
                status="suppressed",
                reason="duplicate",
                subject=base.subject,
                body=composed.body,
                error=f"identical to message {earlier}, sent to this client within {window}",
            )
            self._finish(message, outcome, stats, "suppressed", duplicate_of=earlier)
            return None
        warning = self._over_limit(message, composed)
        if warning is None:
            return base
        if message.purpose == "marketing":
            outcome = Finish(
                status="suppressed",
                reason="over segment limit",
                subject=base.subject,
                body=composed.body,
                warning=warning,
            )
            self._finish(message, outcome, stats, "suppressed", warning=warning)
            return None
        return replace(base, warning=warning)  # care (a reminder, aftercare) still goes out

    def _comparable(self, body: str) -> str:
        return self._unsubscribe_link.sub("<unsubscribe>", body)

    def _duplicate_of(self, message: MessageRow, channel: ChannelName, body: str, now: datetime) -> int | None:
        """The id of a message with the same body sent to this client on ``channel`` within
        the duplicate window, or None (always None when the window is 0)."""
        if self.duplicate_window <= timedelta(0) or message.client_id is None:
            return None
        since = now - self.duplicate_window
        recent = self._recent_bodies(message.client_id, channel, since, exclude=message.id)
        if not recent:
            return None  # most sends: nothing to compare with, no need to strip the link
        wanted = self._comparable(body)
        for earlier, sent_body in recent:
            if self._comparable(sent_body) == wanted:
                return earlier
        return None

    # --- the batch's picture of each client's messages -----------------------------------
    # These compute, from the rows read with the batch plus the outcomes decided since, what
    # Store.traffic and Store.recent_bodies would answer if every outcome were stored already.

    @staticmethod
    def _traffic(outbox: Mapping[int, OutboxEntry], now: datetime, exclude: int) -> Traffic:
        sent = tuple(
            (e.sent_at, e.purpose)
            for e in outbox.values()
            if e.status in ("sent", "unconfirmed") and e.sent_at is not None and e.sent_at > now - DAY
        )
        upcoming = tuple(
            (e.next_attempt_at, e.priority)
            for e in outbox.values()
            if e.status in ("scheduled", "sending") and e.id != exclude and e.next_attempt_at < now + DAY
        )
        return Traffic(sent=sent, upcoming=upcoming)

    def _recent_bodies(self, client_id: int, channel: str, since: datetime, exclude: int) -> list[tuple[int, str]]:
        """As :meth:`followup.store.port.OutboxStore.recent_bodies`."""
        found = [
            (e.sent_at or e.updated_at, e.id, e.body)
            for e in self._client(client_id).outbox.values()
            if e.sent_channel == channel
            and e.status in ("sent", "unconfirmed", "unknown")
            and e.body is not None
            and e.id != exclude
            and (e.sent_at or e.updated_at) >= since
        ]
        return [(message_id, body) for _, message_id, body in sorted(found)]

    def _apply(self, message: MessageRow, outcome: Finish, now: datetime) -> None:
        """Apply an outcome to the batch's picture of the client, as Store.finish stores it."""
        if self._batch is None or message.client_id is None:
            return
        known = self._batch.states.get(message.client_id)
        if known is None:
            return
        entry = known.outbox.get(message.id)
        if entry is None:
            entry = known.outbox[message.id] = OutboxEntry(
                id=message.id,
                status=message.status,
                purpose=message.purpose,
                priority=message.priority,
                next_attempt_at=message.next_attempt_at,
                updated_at=now,
                sent_at=message.sent_at,
                sent_channel=message.sent_channel,
                body=message.body,
            )
        entry.status = outcome.status
        entry.updated_at = now
        if outcome.status == "sent":
            entry.sent_at = now
            if outcome.tip_id:
                known.state.tips.append(outcome.tip_id)
        entry.next_attempt_at = outcome.next_attempt_at or entry.next_attempt_at
        entry.sent_channel = outcome.sent_channel or entry.sent_channel
        entry.body = outcome.body if outcome.body is not None else entry.body

    def _over_limit(self, message: MessageRow, composed: Composed) -> str | None:
        """Why an SMS is too long (its segments, units and the limit), or None."""
        if composed.sms is None:
            return None
        quick = basic_segments(composed.sms)
        if quick is not None and quick <= self.max_segments:
            return None
        info = analyse(composed.sms)
        if info.segments <= self.max_segments:
            return None
        warning = (
            f"{info.segments} SMS segments ({info.units} {info.encoding} units), "
            f"over the limit of {self.max_segments} ([sms] max_segments)"
        )
        log.warning(
            logfmt(
                "over_segment_limit",
                id=message.id,
                campaign=message.campaign,
                step=message.step,
                client=message.client_external_id,
                purpose=message.purpose,
                segments=info.segments,
                limit=self.max_segments,
            )
        )
        return warning

    def _finish(self, message: MessageRow, outcome: Finish, stats: DispatchStats, event: str, **fields: object) -> None:
        """Record an outcome: with the batch (see the module docstring), or now."""
        now = self.clock.now()
        batch = self._batch
        self._apply(message, outcome, now)
        if batch is not None and not batch.immediate:
            batch.pending.append(_Pending(message, outcome, now, event, fields))
            return
        if not self.store.finish(message.id, self.worker, outcome, now):
            self._lost(message)
            if message.client_id is not None:
                self._forget(message.client_id)  # the picture assumed this outcome stored
            return
        self._recorded(_Pending(message, outcome, now, event, fields), stats)

    def _flush(self) -> None:
        """Store the batch in hand's pending outcomes now (one transaction)."""
        if self._batch is not None:
            self._store_pending(self._batch)

    def _store_pending(self, batch: _Batch) -> None:
        """Store ``batch``'s pending outcomes (one transaction, or the caller's), then count and log them."""
        if not batch.pending:
            return
        pending, batch.pending = batch.pending, []
        stored = self.store.finish_many(self.worker, [(p.message.id, p.outcome, p.at) for p in pending])
        for p in pending:
            if p.message.id in stored:
                self._recorded(p, batch.stats)
                continue
            self._lost(p.message)
            if p.message.client_id is not None:
                self._forget(p.message.client_id)  # the picture assumed this outcome stored

    def _lost(self, message: MessageRow) -> None:
        log.warning(logfmt("lost_claim", id=message.id, key=message.key, worker=self.worker))

    @staticmethod
    def _recorded(done: _Pending, stats: DispatchStats) -> None:
        stats.add(done.event)
        # A deferral (the send window, a cap) is routine and comes in thousands when a backlog
        # meets a closed window (7,862 lines on a first start): one line each only at DEBUG;
        # the run's summary line (event=dispatch deferred=N) counts them.
        level = logging.DEBUG if done.event in QUIET_EVENTS else logging.INFO
        if not log.isEnabledFor(level):
            return  # building the line costs as much as storing the outcome
        message, fields = done.message, dict(done.fields)
        log.log(
            level,
            logfmt(
                done.event,
                id=message.id,
                campaign=message.campaign,
                step=message.step,
                client=message.client_external_id,
                channel=fields.pop("channel", message.channel),
                due=message.due_at.isoformat(),
                reason=done.outcome.reason,
                **fields,
            ),
        )

    # --- crash and unknown-outcome recovery -----------------------------------------

    def reconcile(self, stats: DispatchStats) -> None:
        now = self.clock.now()
        for message in self.store.stale(now, self.lease):
            if message.status == "unknown" and message.next_attempt_at > now:
                continue
            if not self.store.take_over(message, self.worker, now):
                continue
            client = None if message.client_id is None else self.store.client_state(message.client_id).client
            candidates: list[ChannelName] = (
                [message.sent_channel] if message.sent_channel in ("sms", "email") else ["sms", "email"]  # type: ignore[list-item]
            )
            if client is None:
                candidates = ["email"]  # a message to the clinic is only ever an email
            found = None
            try:
                for channel in candidates:
                    if channel in self.channels:
                        # As attempted: when (the claim) and, when recorded, what (the body).
                        at = message.claimed_at or now
                        attempt = (
                            self._clinic_outgoing(message, at)
                            if client is None
                            else self._outgoing(message, client, channel, at)
                        )
                        if channel == "sms" and message.body:
                            attempt = replace(attempt, sms=message.body)
                        found = self.channels[channel].lookup(attempt)
                        if found is not None:
                            break
            except DeliveryError as exc:
                # Could not ask: still unknown, ask again later (never resend without an answer).
                later = now + self.backoff.delay(message.attempts + 1, self.rng)
                if isinstance(exc, ChannelPausedError):
                    later = now + self._pause_length(exc)
                    sender = self.channels[channel].sender_key()
                    self.store.pause_sender(sender, later, now, reason=str(exc), fault=False)
                outcome = Finish(
                    status="unknown", error=str(exc), reason="lookup failed; will ask again", next_attempt_at=later
                )
                self._finish(message, outcome, stats, "lookup_failed", error=str(exc))
                continue
            if found is not None:
                outcome = Finish(status="sent", provider_id=found.provider_id, reason="reconciled: provider has it")
                self._finish(message, outcome, stats, "reconciled_sent")
            else:
                outcome = Finish(
                    status="scheduled", next_attempt_at=now, reason="reconciled: provider never got it; sending again"
                )
                self._finish(message, outcome, stats, "reconciled_retry")
