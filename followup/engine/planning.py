"""Glue between the pure core and the store: plan a client, plan everyone."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

from followup.config.loader import ClinicConfig
from followup.core.planner import plan_client
from followup.logfmt import logfmt
from followup.store.port import PlanChanges, Store

log = logging.getLogger("followup.plan")


def replan_client(store: Store, clinic: ClinicConfig, client_id: int, now: datetime) -> PlanChanges:
    state = store.client_state(client_id)
    result = plan_client(clinic.campaigns, state.client, state.sessions, now)
    changes = store.apply_plan(client_id, result, now)
    if changes.created or changes.updated or changes.cancelled or changes.revived:
        log.info(
            logfmt(
                "planned",
                client=state.client.external_id,
                created=changes.created,
                updated=changes.updated,
                cancelled=changes.cancelled,
                revived=changes.revived,
            )
        )
    return changes


def replan(
    store: Store, clinic: ClinicConfig, client_ids: Iterable[int], now: datetime, stop: threading.Event | None = None
) -> PlanChanges:
    """Plan each client in turn; a set ``stop`` ends the loop after the client in hand (each
    client is planned in its own transaction, so stopping leaves nothing half-written)."""
    total = PlanChanges()
    for client_id in client_ids:
        if stop is not None and stop.is_set():
            total.interrupted = True
            break
        total += replan_client(store, clinic, client_id, now)
    return total


def replan_all(store: Store, clinic: ClinicConfig, now: datetime, stop: threading.Event | None = None) -> PlanChanges:
    """The periodic scan: no_rebook / lapsed moments arrive with time, and edited campaigns re-plan."""
    return replan(store, clinic, store.client_ids(), now, stop)
