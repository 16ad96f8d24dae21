"""One sending rate per sender, shared by every worker: four ``followup run`` processes with
``[twilio] messages_per_second = 2`` against the Twilio stand-in, which records when each
request arrives and answers 429 to one that comes too soon.

The messages fall due a few seconds after the workers start, so that all four are polling
(as deployed) when sending begins, not still importing Python.

Tolerance: the workers take their slots exactly 0.5 s apart in the database, but a request
reaches the stand-in some milliseconds after its slot (the process waking up, the HTTP
exchange; more when five Python processes share two cores), and that delay differs between
requests.  Two arrivals may thus be closer than 0.5 s by the difference of two delays.
Measured here: at most 12 ms (smallest gap 0.488 s); 0.1 s (a fifth of the interval, eight
times that) is forgiven.  Twilio itself queues such a burst at the number's rate rather than
refusing it.  Over the whole run the delays cannot add up: the average rate must stay within
2 % of 2 per second (one delay of 0.1 s over ~11.5 s is under 1 %).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from followup.config.loader import load_clinic
from followup.core.domain import Client, Session
from followup.engine.planning import replan_all
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from tests.conftest import MINI_TOML, ClinicFactory
from tests.integration.test_concurrency import noon_zone, run_until_sent, worker
from tests.integration.twilio_standin import ACCOUNT, twilio_standin

RATE = 2.0
TOLERANCE = 0.1  # seconds (see the module docstring)
MESSAGES = 24
WORKERS = 4
START_DELAY = timedelta(seconds=8)  # the workers' start-up, before anything is due


def seed(db_url: str, config: Path, templates: Path) -> SqlStore:
    """MESSAGES clients whose "thanks" (2 h after the session) falls due START_DELAY from now."""
    clinic = load_clinic(config, templates, env_file=None)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    now = datetime.now(UTC)
    ended = now - timedelta(hours=2) + START_DELAY
    with store.transaction():
        for n in range(MESSAGES):
            client_id, _ = store.upsert_client(
                Client(external_id=f"c{n}", first_name=f"C{n}", phone=f"+1305555{n:04d}", timezone=noon_zone(now)), now
            )
            store.upsert_session(
                Session(
                    external_id=f"s{n}",
                    client_external_id=f"c{n}",
                    start=ended - timedelta(hours=1),
                    end=ended,
                    service="NMT 60",
                    status="completed",
                ),
                client_id,
                now,
            )
    replan_all(store, clinic, now)
    return store


def test_four_workers_share_one_rate(db_url: str, make_clinic: ClinicFactory, tmp_path: Path) -> None:
    config, templates = make_clinic(toml=MINI_TOML + f"\n[twilio]\nmessages_per_second = {RATE:g}\n")
    store = seed(db_url, config, templates)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    assert not any(k.startswith("FOLLOWUP_TWILIO_MESSAGES") for k in os.environ)
    with twilio_standin() as twilio:
        twilio.rate, twilio.tolerance = RATE, TOLERANCE
        live = {
            "FOLLOWUP_DELIVERY": "live",
            "FOLLOWUP_PUBLIC_BASE_URL": "https://followup.shoreline-nmt.example",
            "FOLLOWUP_SECRET_KEY": "a-long-random-test-key",
            "FOLLOWUP_TWILIO_ACCOUNT_SID": ACCOUNT,
            "FOLLOWUP_TWILIO_AUTH_TOKEN": "test-auth-token",
            "FOLLOWUP_TWILIO_FROM": "+13055550100",
            "FOLLOWUP_TWILIO_API_URL": twilio.base_url,
            "FOLLOWUP_SMTP_HOST": "127.0.0.1",  # never used: every message here is a text
            "FOLLOWUP_SMTP_TLS": "none",
            "FOLLOWUP_SMTP_FROM": "Shoreline NMT <hello@shoreline-nmt.example>",
            "FOLLOWUP_WORKER_BATCH_SIZE": "2",  # small batches: all four workers get some
        }
        workers = [worker(db_url, config, templates, outbox, once=False, **live) for _ in range(WORKERS)]
        outputs = run_until_sent(store, workers, MESSAGES, deadline_s=120, output_timeout=60)
    rows = [m for m in store.messages(MessageQuery()) if m.step == "thanks"]
    trouble = [line for log in outputs for line in log.splitlines() if "event=sent " not in line and "event=" in line]
    assert {m.status for m in rows} == {"sent"}, (twilio.too_fast, trouble[-20:])
    busy = [log.count("event=sent ") for log in outputs]
    assert sum(busy) == MESSAGES and sum(1 for n in busy if n) >= 2, busy
    assert twilio.too_fast == 0 and len(twilio.posts) == MESSAGES == len(twilio.accepted)
    arrivals = sorted(twilio.arrivals)
    gaps = [b - a for a, b in pairwise(arrivals)]
    pairs = [c - a for a, c in zip(arrivals, arrivals[2:], strict=False)]  # any second holds at most 2
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(f"measured: {rate:.3f} msg/s over {len(arrivals)} sends, smallest gap {min(gaps):.3f} s, per worker {busy}")
    assert min(gaps) >= 1 / RATE - TOLERANCE, gaps
    assert min(pairs) >= 2 / RATE - TOLERANCE, pairs
    assert rate <= RATE * 1.02, rate
    store.close()


def test_sender_slots_are_spaced_paused_and_alert_once(db_url: str) -> None:
    """The store's side of it, on SQLite and PostgreSQL: slots, pauses, one alert per fault."""
    store = SqlStore.from_url(db_url)
    store.upgrade()
    t0 = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    half = timedelta(milliseconds=500)
    assert store.claim_send_slot("twilio:+1", t0, timedelta(0)).at == t0  # no row, nothing written
    slots = [store.claim_send_slot("twilio:+1", t0, half).at for _ in range(3)]
    assert slots == [t0, t0 + half, t0 + 2 * half]
    assert store.claim_send_slot("twilio:+2", t0, half).at == t0  # another sender, its own rate
    later = t0 + timedelta(minutes=5)
    assert store.claim_send_slot("twilio:+1", later, half).at == later  # idle time is not saved up
    # A pause holds every worker; a shorter one never shortens it; an account fault alerts once.
    assert not store.pause_sender("twilio:+1", later + timedelta(minutes=10), later, reason="429", fault=False)
    assert store.pause_sender("twilio:+1", later + timedelta(minutes=1), later, reason="401", fault=True)
    assert not store.pause_sender("twilio:+1", later + timedelta(minutes=15), later, reason="401", fault=True)
    held = store.claim_send_slot("twilio:+1", later + timedelta(minutes=14), half)
    assert held.paused_until == later + timedelta(minutes=15) and held.reason == "401" and held.fault == "401"
    free = store.claim_send_slot("twilio:+1", later + timedelta(minutes=15), half)
    assert free.paused_until is None and free.fault == "401"
    store.clear_sender_fault("twilio:+1", later + timedelta(minutes=15))
    assert store.claim_send_slot("twilio:+1", later + timedelta(minutes=16), half).fault is None
    assert store.pause_sender("twilio:+1", later + timedelta(hours=1), later, reason="401 again", fault=True)
    store.close()


def test_concurrent_claims_never_share_a_slot(db_url: str) -> None:
    """Eight threads on their own connections, 20 claims each: 160 distinct slots 0.5 s apart."""
    store = SqlStore.from_url(db_url)
    store.upgrade()
    t0 = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    half = timedelta(milliseconds=500)
    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(lambda _: [store.claim_send_slot("s", t0, half).at for _ in range(20)], range(8)))
    taken = sorted(at for batch in batches for at in batch)
    assert taken == [t0 + n * half for n in range(160)]
    store.close()
