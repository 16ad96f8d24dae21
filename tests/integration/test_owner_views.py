"""What the owner sees of a simulation and of the worker's log: only what the simulated period
holds (no old cancellations), a campaign edit named as such, and followup's own log lines."""

from __future__ import annotations

import logging
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from followup.config.loader import ClinicConfig, load_clinic
from followup.engine.demo_data import load_sample_data
from followup.engine.planning import replan_all
from followup.engine.simulate import EDITED_OUT, SimulatedMessage, simulate
from followup.engine.worker import Worker
from followup.store.port import MessageQuery
from followup.timeutil import FixedClock, zone
from followup.wiring import make_channels, memory_store
from tests.conftest import REPO

START = datetime(2026, 12, 1, 3, 0, tzinfo=zone("America/New_York"))


def edited_clinic(tmp: Path) -> ClinicConfig:
    """The shipped clinic with the first self-care tip renamed and moved (day3_tip -> day4_tip)."""
    config = tmp / "config"
    shutil.copytree(REPO / "config", config)
    campaigns = config / "campaigns.yaml"
    text = campaigns.read_text(encoding="utf-8")
    assert "name: day3_tip" in text and "offset: 3d at 10:30" in text
    text = text.replace("name: day3_tip", "name: day4_tip").replace("offset: 3d at 10:30", "offset: 4d at 10:30")
    campaigns.write_text(text, encoding="utf-8")
    return load_clinic(config, REPO / "templates")


def cancelled(results: list[SimulatedMessage]) -> Counter[tuple[str, str]]:
    return Counter((r.step, r.reason or "") for r in results if r.status == "cancelled")


def test_cancellations_from_before_the_start_are_not_part_of_the_simulation(tmp_path: Path) -> None:
    """The newcomer's "about 107 rows cancelled - no longer planned although nothing changed":
    a campaign edit the worker had already applied cancelled the old step's messages in the
    database; their due times fell in the simulated month, so every simulation listed them."""
    shipped = load_clinic(REPO / "config", REPO / "templates")
    store = memory_store()
    load_sample_data(store, shipped, START)
    clinic = edited_clinic(tmp_path)
    replan_all(store, clinic, START)  # the worker applies the edit
    before = [m for m in store.messages(MessageQuery(statuses=("cancelled",))) if m.due_at >= START]
    assert before and all((m.status_reason or "").startswith("no longer planned") for m in before)

    results = simulate(store, clinic, START, 30)
    assert not cancelled(results), cancelled(results)
    assert {r.step for r in results if r.campaign == "self_care_tips" and r.status == "sent"} >= {"day4_tip"}


def test_a_campaign_edit_the_worker_has_not_applied_is_named_in_the_reason(tmp_path: Path) -> None:
    shipped = load_clinic(REPO / "config", REPO / "templates")
    store = memory_store()
    load_sample_data(store, shipped, START)
    results = simulate(store, edited_clinic(tmp_path), START, 30)
    got = cancelled(results)
    assert got and set(got) == {("day3_tip", EDITED_OUT)}, got


def test_held_out_messages_planned_before_the_start_are_still_shown() -> None:
    """What the exclusion keeps: a message held out of a campaign's holdout group is recorded
    cancelled when planned, and it is what the period holds (commit 001831b)."""
    clinic = load_clinic(REPO / "config", REPO / "templates")
    held = {  # 90 %, the most allowed: most clients are held out of every marketing campaign
        name: campaign.model_copy(update={"holdout": 0.9}) if campaign.purpose == "marketing" else campaign
        for name, campaign in clinic.campaigns.items()
    }
    clinic = replace(clinic, campaigns=held)
    store = memory_store()
    load_sample_data(store, clinic, START)
    results = simulate(store, clinic, START, 30)
    assert any(r.status == "cancelled" and r.reason == "held out" for r in results)


@pytest.fixture
def scheduler_level() -> Iterator[None]:
    logger = logging.getLogger("apscheduler")
    level = logger.level
    yield
    logger.setLevel(level)


def run_stopped_worker(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    """``run_forever`` of a worker told to stop at once: the scheduler starts, adds its jobs
    and shuts down (in a thread: no signal handlers are installed outside the main one)."""
    clinic = load_clinic(REPO / "config", REPO / "templates")
    worker = Worker(memory_store(), clinic, make_channels(clinic), clock=FixedClock(START))
    worker.stop.set()
    caplog.set_level(level)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return caplog.records


@pytest.mark.usefixtures("scheduler_level")
def test_the_worker_log_shows_followups_events_not_apschedulers(caplog: pytest.LogCaptureFixture) -> None:
    records = run_stopped_worker(caplog, logging.INFO)
    assert any(r.name == "followup.worker" and "event=started" in r.getMessage() for r in records)
    chatter = [r.getMessage() for r in records if r.name.startswith("apscheduler") and r.levelno < logging.WARNING]
    assert not chatter, chatter


@pytest.mark.usefixtures("scheduler_level")
def test_at_debug_level_apscheduler_speaks_again(caplog: pytest.LogCaptureFixture) -> None:
    records = run_stopped_worker(caplog, logging.DEBUG)
    assert any(r.name.startswith("apscheduler") and "Added job" in r.getMessage() for r in records)
