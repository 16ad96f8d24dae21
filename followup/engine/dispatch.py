"""The dispatcher: claim due messages, re-check them, render, send, record.

It never reads the wall clock: ``clock.now()`` is the worker's real clock or the
simulator's virtual one, so ``followup simulate`` runs exactly this code.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from followup.channels.base import Channel, Outgoing
from followup.config.loader import ClinicConfig
from followup.core.domain import ChannelName, Client
from followup.core.planner import visit_number
from followup.core.rules import PRIORITY_RANK, Caps, Defer, Final, SendWindow, Traffic, decide
from followup.core.tipselect import choose_tip
from followup.exceptions import (
    PermanentDeliveryError,
    RecipientOptedOutError,
    TemplateRenderError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from followup.logfmt import logfmt
from followup.rendering.compose import compose
from followup.store.port import ClientState, Finish, MessageRow, Store
from followup.timeutil import Clock

log = logging.getLogger("followup.dispatch")


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

    # --- the loop -----------------------------------------------------------------

    def run_once(self) -> DispatchStats:
        """Reconcile stale work, then send everything due, batch by batch, until none is left
        or a stop was requested (the message in hand is always finished)."""
        stats = DispatchStats()
        self.reconcile(stats)
        for channel in self.channels.values():
            channel.open()
        try:
            while not self.stop.is_set():
                batch = self.store.claim_due(self.clock.now(), self.batch_size, self.worker)
                if not batch:
                    break
                # Of what is due together, the more important goes first (caps may hold the rest).
                batch.sort(key=lambda m: (-PRIORITY_RANK.get(m.priority, 2), m.next_attempt_at, m.id))
                for index, message in enumerate(batch):
                    if self.stop.is_set():
                        self.store.release([m.id for m in batch[index:]], self.worker)
                        break
                    stats.add("claimed")
                    self.process(message, stats)
        finally:
            for channel in self.channels.values():
                channel.close()
        return stats

    def process(self, message: MessageRow, stats: DispatchStats) -> None:
        now = self.clock.now()
        state = self.store.client_state(message.client_id)
        campaign = self.clinic.campaigns.get(message.campaign)
        traffic = self.store.traffic(message.client_id, now, exclude=message.id) if self.caps else Traffic()
        decision = decide(message.facts(), campaign, state.client, state.sessions, now, self.window, self.caps, traffic)
        if isinstance(decision, Final):
            self._finish(message, Finish(status=decision.status, reason=decision.reason), stats, decision.status)
        elif isinstance(decision, Defer):
            outcome = Finish(status="scheduled", reason=decision.reason, next_attempt_at=decision.until)
            self._finish(message, outcome, stats, "deferred", until=decision.until.isoformat())
        else:
            self._send(message, state, decision.channel, now, stats)

    # --- sending --------------------------------------------------------------------

    def _outgoing(self, message: MessageRow, client: Client, channel: ChannelName, now: datetime) -> Outgoing:
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
        )

    def _send(
        self, message: MessageRow, state: ClientState, channel: ChannelName, now: datetime, stats: DispatchStats
    ) -> None:
        campaign = self.clinic.campaigns[message.campaign]
        step = campaign.steps[message.step_index]
        session = next((s for s in state.sessions if s.external_id == message.session_external_id), None)
        tip = None
        if step.tip is not None:
            focus = session.focus_areas if session else ()
            tip = choose_tip(self.clinic.tips, step.tip.categories, state.tips, focus, state.client.external_id)
        try:
            composed = compose(
                self.clinic,
                client=state.client,
                session=session,
                visit_count=visit_number(session, state.sessions) if session else 0,
                campaign_name=message.campaign,
                step_index=message.step_index,
                channel=channel,
                now=now,
                tip=tip,
            )
        except TemplateRenderError as exc:
            self._finish(message, Finish(status="failed", error=str(exc), reason="template error"), stats, "failed")
            return
        outgoing = self._outgoing(message, state.client, channel, now)
        outgoing = Outgoing(
            **{
                **outgoing.__dict__,
                "sms": composed.sms,
                "email": composed.email,
                "unsubscribe_url": composed.unsubscribe_url,
            }
        )
        subject = composed.email.subject if composed.email else None
        base = Finish(status="sent", sent_channel=channel, subject=subject, body=composed.body, attempted=True)
        try:
            sent = self.channels[channel].send(outgoing)
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
            if isinstance(exc, RecipientOptedOutError):
                self.store.record_opt_out(message.client_id, "sms", now, source="provider", detail=str(exc))
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
        except UnknownOutcomeError as exc:
            if not self.channels[channel].can_reconcile:
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
            outcome = replace(base, status="sent", provider_id=sent.provider_id, tip_id=tip.id if tip else None)
            self._finish(message, outcome, stats, "sent", channel=channel, provider_id=sent.provider_id)

    def _finish(self, message: MessageRow, outcome: Finish, stats: DispatchStats, event: str, **fields: object) -> None:
        now = self.clock.now()
        if not self.store.finish(message.id, self.worker, outcome, now):
            log.warning(logfmt("lost_claim", id=message.id, key=message.key, worker=self.worker))
            return
        stats.add(event)
        log.info(
            logfmt(
                event,
                id=message.id,
                campaign=message.campaign,
                step=message.step,
                client=message.client_external_id,
                channel=fields.pop("channel", message.channel),
                due=message.due_at.isoformat(),
                reason=outcome.reason,
                **fields,
            )
        )

    # --- crash and unknown-outcome recovery -----------------------------------------

    def reconcile(self, stats: DispatchStats) -> None:
        now = self.clock.now()
        for message in self.store.stale(now, self.lease):
            if message.status == "unknown" and message.next_attempt_at > now:
                continue
            if not self.store.take_over(message, self.worker, now):
                continue
            state = self.store.client_state(message.client_id)
            candidates: list[ChannelName] = (
                [message.sent_channel] if message.sent_channel in ("sms", "email") else ["sms", "email"]  # type: ignore[list-item]
            )
            found = None
            for channel in candidates:
                if channel in self.channels:
                    # As attempted: when (the claim) and, when recorded, what (the body).
                    attempt = self._outgoing(message, state.client, channel, message.claimed_at or now)
                    if channel == "sms" and message.body:
                        attempt = replace(attempt, sms=message.body)
                    found = self.channels[channel].lookup(attempt)
                    if found is not None:
                        break
            if found is not None:
                outcome = Finish(status="sent", provider_id=found.provider_id, reason="reconciled: provider has it")
                self._finish(message, outcome, stats, "reconciled_sent")
            else:
                outcome = Finish(
                    status="scheduled", next_attempt_at=now, reason="reconciled: provider never got it; sending again"
                )
                self._finish(message, outcome, stats, "reconciled_retry")
