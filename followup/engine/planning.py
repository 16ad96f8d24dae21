"""Glue between the pure core and the store: plan the clients an event touched, and re-plan
everyone, in batches, when the campaigns change.

Planning is driven by events, not by a timer over all clients.  Whatever changes a client's
data (an import, an API call, a session status) plans that client at once.  Time adds nothing
to a plan: a step due later (a reminder, a rebook nudge after ``no_rebook`` days, a win-back
after ``lapsed`` days) is planned ahead as an outbox row with its due time, and the send-time
rules (:func:`followup.core.rules.decide`) check its exit conditions (rebooked, cancelled,
consent) when it comes due.  So periodic work costs what is due, not the number of clients.

What time cannot tell is a campaign edit.  :func:`plan_pending` compares the campaigns'
fingerprint with the one the last full pass planned with (table ``plan_passes``) and, when
they differ, re-plans every client in batches of :data:`BATCH`, by increasing id, saving its
place after each batch: a stopped pass resumes where it was, a finished one costs one read.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from followup.config.loader import ClinicConfig
from followup.core.campaigns import Campaign
from followup.core.planner import PreparedCampaigns, plan_client, prepare
from followup.logfmt import logfmt
from followup.store.port import PlanChanges, PlanPass, Store

log = logging.getLogger("followup.plan")

# Clients planned per transaction: large enough that per-statement costs are shared, small
# enough that a stop (Ctrl-C, SIGTERM) is honoured within a fraction of a second.
BATCH = 500

CAMPAIGNS_PASS = "campaigns"  # noqa: S105 - the name of a planning pass, not a password

# Bumped when the planner's own logic changes what it plans, so that a new release re-plans
# every client once, just as a campaign edit does.
PLANNER_VERSION = "2"


def campaigns_fingerprint(campaigns: Mapping[str, Campaign]) -> str:
    """A SHA-256 hex digest of everything the planner reads from the campaigns (their models'
    reprs are stable field-by-field dumps) and the planner's version."""
    text = PLANNER_VERSION + repr(sorted(campaigns.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _batches(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def plan_batch(
    store: Store,
    clinic: ClinicConfig,
    client_ids: list[int],
    now: datetime,
    level: int = logging.INFO,
    campaigns: PreparedCampaigns | None = None,
) -> PlanChanges:
    """Plan these clients in one transaction; one ``planned`` log line (at ``level``) per client
    that changed.  ``campaigns``: ``clinic.campaigns`` already prepared (a caller planning many
    batches prepares them once)."""
    total = PlanChanges()
    prepared = campaigns if campaigns is not None else prepare(clinic.campaigns)
    with store.transaction():
        states = store.client_states(client_ids)
        plans = [(state.id, plan_client(prepared, state.client, state.sessions, now)) for state in states]
        changes = store.apply_plans(plans, now)
    for state in states:
        change = changes[state.id]
        if (change.created or change.updated or change.cancelled or change.revived) and log.isEnabledFor(level):
            log.log(
                level,
                logfmt(
                    "planned",
                    client=state.client.external_id,
                    created=change.created,
                    updated=change.updated,
                    cancelled=change.cancelled,
                    revived=change.revived,
                ),
            )
        total += change
    return total


def replan(
    store: Store,
    clinic: ClinicConfig,
    client_ids: Iterable[int],
    now: datetime,
    stop: threading.Event | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> PlanChanges:
    """Plan these clients (the ones an event touched), :data:`BATCH` per transaction.

    A set ``stop`` ends the loop after the batch in hand (``interrupted`` is then true);
    nothing is half-written.  ``on_batch(n)`` is told after each batch of ``n`` clients."""
    total = PlanChanges()
    prepared = prepare(clinic.campaigns)
    for chunk in _batches(client_ids, BATCH):
        if stop is not None and stop.is_set():
            total.interrupted = True
            break
        total += plan_batch(store, clinic, chunk, now, campaigns=prepared)
        if on_batch is not None:
            on_batch(len(chunk))
    return total


def replan_client(store: Store, clinic: ClinicConfig, client_id: int, now: datetime) -> PlanChanges:
    return plan_batch(store, clinic, [client_id], now)


@dataclass
class PassResult:
    """What :func:`plan_pending` did."""

    changes: PlanChanges
    clients: int = 0  # clients planned in this call
    remaining: int = 0  # clients still to plan with these campaigns (0 when the pass finished)
    ran: bool = False  # False: the campaigns had not changed since the last finished pass
    resumed: bool = False  # the pass continued one stopped earlier
    reason: str = ""  # why it ran, in words for the owner's log

    @property
    def interrupted(self) -> bool:
        return self.changes.interrupted


def plan_pending(
    store: Store,
    clinic: ClinicConfig,
    now: datetime,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    *,
    restart: bool = False,
) -> PassResult:
    """Re-plan every client if the campaigns changed since the last finished pass (or the pass
    was stopped, or ``restart``); otherwise do nothing, at the cost of one row read.

    ``on_start(n)`` is told how many clients the pass has left before it begins, ``on_batch``
    after each batch (a progress bar); a set ``stop`` ends it after the batch in hand, and the
    next call resumes after the last client planned."""
    fingerprint = campaigns_fingerprint(clinic.campaigns)
    state = store.plan_pass(CAMPAIGNS_PASS)
    if not restart and state is not None and state.fingerprint == fingerprint and state.finished_at is not None:
        return PassResult(PlanChanges())
    resumed = not restart and state is not None and state.fingerprint == fingerprint
    if resumed and state is not None:
        current = state
    else:
        current = PlanPass(fingerprint=fingerprint, cursor=0, started_at=now)
        store.save_plan_pass(CAMPAIGNS_PASS, current, now)
    if restart:
        why = "asked for (--all)"
    elif resumed:
        why = "resuming a pass that was stopped"
    elif state is None:
        why = "no full pass recorded yet (a new or upgraded database)"
    else:
        why = "the campaigns changed since the last full pass"
    result = PassResult(PlanChanges(), ran=True, resumed=resumed, reason=why)
    prepared = prepare(clinic.campaigns)
    if on_start is not None:
        on_start(store.count_clients_after(current.cursor))
    while True:
        if stop is not None and stop.is_set():
            result.changes.interrupted = True
            result.remaining = store.count_clients_after(current.cursor)
            return result
        ids = store.client_ids_after(current.cursor, BATCH)
        if not ids:
            break
        current = PlanPass(fingerprint, ids[-1], current.started_at)
        with store.transaction():  # the batch and the place it got to, together
            # One line per client would be tens of thousands for a campaign edit: DEBUG here,
            # the caller logs the pass's progress and totals.
            result.changes += plan_batch(store, clinic, ids, now, logging.DEBUG, prepared)
            store.save_plan_pass(CAMPAIGNS_PASS, current, now)
        result.clients += len(ids)
        if on_batch is not None:
            on_batch(len(ids))
    store.save_plan_pass(CAMPAIGNS_PASS, PlanPass(fingerprint, current.cursor, current.started_at, now), now)
    return result


def replan_all(store: Store, clinic: ClinicConfig, now: datetime, stop: threading.Event | None = None) -> PlanChanges:
    """Every client, now, whatever the last pass did (``followup replan --all``, tests)."""
    return plan_pending(store, clinic, now, stop, restart=True).changes
