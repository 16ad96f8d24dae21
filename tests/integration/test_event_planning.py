"""Planning driven by events (issue 12, item 1): an event plans only the clients it touches,
time-based nudges are planned ahead and still stop when the client books, a campaign edit
re-plans everyone in resumable batches, and the worker's periodic check costs one read."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from followup.channels.memory import InMemoryChannel
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName, Client, Session
from followup.core.rules import SendWindow
from followup.engine.demo_data import load_sample_data
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import BATCH, plan_pending, replan
from followup.engine.simulate import collect, simulate
from followup.engine.worker import Worker, WorkerTiming
from followup.store.port import MessageQuery, MessageRow
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock, zone
from followup.wiring import memory_store
from tests.conftest import REPO, ClinicFactory

MIAMI = zone("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=MIAMI)  # a Monday noon


def seed(store: SqlStore, n: int, *, ended: timedelta = timedelta(hours=1)) -> list[int]:
    """``n`` clients, each with one session that ended ``ended`` before NOW."""
    ids = []
    with store.transaction():
        for i in range(n):
            cid = f"c{i:04d}"
            client_id, _ = store.upsert_client(
                Client(external_id=cid, first_name=f"Ana{i}", phone=f"+1305555{i:04d}", timezone="America/New_York"),
                NOW - timedelta(days=30),
            )
            end = NOW - ended
            store.upsert_session(
                Session(cid + "-s1", cid, end - timedelta(hours=1), end, "NMT 60", status="completed"),
                client_id,
                NOW - timedelta(days=30),
            )
            ids.append(client_id)
    return ids


def rows(store: SqlStore) -> dict[int, MessageRow]:
    return {m.id: m for m in store.messages(MessageQuery())}


def client_rows(store: SqlStore, client_ref: str) -> list[MessageRow]:
    return [m for m in store.messages(MessageQuery()) if m.client_external_id == client_ref]


@contextmanager
def statements(store: SqlStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)


def shipped() -> ClinicConfig:
    return load_clinic(REPO / "config", REPO / "templates")


def test_an_event_plans_only_the_client_it_touches(db_url: str) -> None:
    clinic = shipped()
    store = SqlStore.from_url(db_url)
    store.upgrade()
    ids = seed(store, 5)
    plan_pending(store, clinic, NOW)
    before = rows(store)
    assert len({m.client_id for m in before.values()}) == 5

    # A booking for client 2 arrives (an import, the API): only client 2 is planned.
    later = NOW + timedelta(hours=2)
    store.upsert_session(
        Session("c0002-s2", "c0002", NOW + timedelta(days=3), NOW + timedelta(days=3, hours=1), "NMT 60"),
        ids[2],
        later,
    )
    with statements(store) as seen:
        changes = replan(store, clinic, [ids[2]], later)
    assert changes.created > 0  # the reminder for the new booking
    after = rows(store)
    for message_id, row in before.items():
        if row.client_id != ids[2]:
            assert after[message_id] == row  # untouched, to the updated_at
    new = [m for m in after.values() if m.id not in before]
    assert new and {m.client_id for m in new} == {ids[2]}
    # Every statement was about client 2 (reads by its id, writes to its rows): none scans
    # the others, whatever their number.
    assert all("clients.id >" not in s for s in seen)
    store.close()


def one_client_planned(db_url: str) -> tuple[ClinicConfig, SqlStore, int]:
    """The shipped campaigns and one client whose visit ended an hour ago, planned."""
    clinic = shipped()
    store = SqlStore.from_url(db_url)
    store.upgrade()
    [client_id] = seed(store, 1)
    plan_pending(store, clinic, NOW)
    return clinic, store, client_id


def test_a_nudge_planned_ahead_is_cancelled_by_a_booking_that_lands_after_it(db_url: str) -> None:
    clinic, store, client_id = one_client_planned(db_url)
    nudges = [m for m in client_rows(store, "c0000") if m.campaign == "rebook_nudge"]
    assert nudges, "a rebook nudge is planned ahead, at the visit"
    assert all(m.status == "scheduled" and m.due_at > NOW + timedelta(days=7) for m in nudges)

    # Ten days on, the client books; the import plans the client again.
    booked_at = NOW + timedelta(days=10)
    store.upsert_session(
        Session("c0000-s2", "c0000", booked_at + timedelta(days=5), booked_at + timedelta(days=5, hours=1), "NMT 60"),
        client_id,
        booked_at,
    )
    replan(store, clinic, [client_id], booked_at)
    for nudge in [m for m in client_rows(store, "c0000") if m.campaign == "rebook_nudge"]:
        assert nudge.status == "cancelled"
        assert nudge.status_reason is not None and nudge.status_reason.startswith("rebooked (session c0000-s2)")
    store.close()


def test_a_booking_nobody_planned_for_still_stops_the_nudge_at_send_time(db_url: str) -> None:
    """The exit condition is checked when the nudge comes due, not only when it is planned."""
    clinic, store, client_id = one_client_planned(db_url)
    [nudge, *_] = sorted(
        (m for m in client_rows(store, "c0000") if m.campaign == "rebook_nudge"), key=lambda m: m.due_at
    )
    # The booking is written without planning (as a half-finished import would leave it).
    store.upsert_session(
        Session(
            "c0000-s2", "c0000", nudge.due_at + timedelta(days=2), nudge.due_at + timedelta(days=2, hours=1), "NMT"
        ),
        client_id,
        nudge.due_at - timedelta(hours=1),
    )
    store.record_booking_refresh(nudge.due_at - timedelta(hours=1), "test")
    clock = FixedClock(nudge.due_at + timedelta(minutes=1))
    channels: dict[ChannelName, InMemoryChannel] = {"sms": InMemoryChannel("sms"), "email": InMemoryChannel("email")}
    Dispatcher(store, clinic, channels, clock, worker="t").run_once()
    after = rows(store)[nudge.id]
    assert after.status == "cancelled" and after.status_reason == "rebooked (session c0000-s2)"
    assert not [m for ch in channels.values() for m in ch.sent if m.campaign == "rebook_nudge"]
    store.close()


def test_a_campaign_edit_replans_everyone_in_batches_that_resume(db_url: str, make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic()
    clinic = load_clinic(config, templates)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    n = 2 * BATCH + 50
    seed(store, n, ended=timedelta(minutes=5))
    first = plan_pending(store, clinic, NOW)
    assert first.ran and first.clients == n and not first.interrupted and first.changes.created >= n
    due_before = {m.key: m.due_at for m in rows(store).values()}

    # Nothing changed: the periodic check reads one row and plans no one.
    with statements(store) as seen:
        again = plan_pending(store, clinic, NOW)
    assert not again.ran and again.clients == 0
    queries = [s for s in seen if not s.startswith("BEGIN")]
    assert len(queries) == 1 and "FROM plan_passes" in queries[0]

    # The owner moves the aftercare step from 2h to 3h after the session.
    text = (config / "campaigns.yaml").read_text()
    assert "offset: 2h" in text
    (config / "campaigns.yaml").write_text(text.replace("offset: 2h", "offset: 3h"))
    edited = load_clinic(config, templates)

    stop = threading.Event()
    seen_batches: list[int] = []

    def after_batch(size: int) -> None:
        seen_batches.append(size)
        stop.set()  # Ctrl-C during the second batch's... right after the first one

    totals: list[int] = []
    part = plan_pending(store, edited, NOW, stop, on_start=totals.append, on_batch=after_batch)
    assert part.interrupted and part.clients == BATCH and part.remaining == n - BATCH
    assert totals == [n] and seen_batches == [BATCH]
    now_rows = rows_by_key(store)
    moved = [k for k, due in due_before.items() if now_rows[k].due_at != due]
    assert 0 < len({k.split("/")[2] for k in moved}) <= BATCH  # only the first batch's clients so far

    rest = plan_pending(store, edited, NOW)
    assert rest.ran and rest.resumed and rest.clients == n - BATCH and not rest.interrupted
    after = rows_by_key(store)
    thanks = [k for k in due_before if "/thanks/" in k]
    assert thanks and all(after[k].due_at - due_before[k] == timedelta(hours=1) for k in thanks)
    assert not plan_pending(store, edited, NOW).ran
    store.close()


def rows_by_key(store: SqlStore) -> dict[str, MessageRow]:
    return {m.key: m for m in store.messages(MessageQuery())}


def test_simulate_and_the_worker_send_the_same_messages(tmp_path: Path) -> None:
    """The same sample data, the same 10 days: ``simulate`` on its event clock, and the worker
    ticking every 5 minutes on a virtual clock with the booking system's part (sessions that
    ended are completed, booking data refreshed) done as an import would."""
    clinic = shipped()
    start = NOW - timedelta(hours=3)
    days = 10
    end = start + timedelta(days=days)

    simulated_store = memory_store()
    load_sample_data(simulated_store, clinic, start)
    simulated = simulate(simulated_store, clinic, start, days)

    store = memory_store()
    load_sample_data(store, clinic, start)
    clock = FixedClock(start)
    channels: dict[ChannelName, InMemoryChannel] = {"sms": InMemoryChannel("sms"), "email": InMemoryChannel("email")}
    worker = Worker(store, clinic, channels, WorkerTiming(batch_size=50), clock=clock)
    tick = timedelta(minutes=5)
    now = start
    worker.scan()
    while now < end:
        ended = store.booked_sessions_ended(now)
        for external_id, _ in ended:
            store.set_session_status(external_id, "completed", now)
        if ended:
            replan(store, clinic, sorted({c for _, c in ended}), now)
        store.record_booking_refresh(now, "booking system")
        worker.dispatch()
        now += tick
        clock.set(now)
    worked = collect(store, set(), end, clinic.settings.default_timezone)

    def what(messages: list[Any]) -> Counter[tuple[Any, ...]]:
        return Counter((m.client, m.campaign, m.step, m.channel, m.status, m.body) for m in messages)

    assert [m for m in simulated if m.status == "sent"], "the sample sends something in 10 days"
    assert what(worked) == what(simulated)
    sent_sim = sorted((m.client, m.campaign, m.step, m.channel, m.send_at) for m in simulated if m.status == "sent")
    sent_work = sorted((m.client, m.campaign, m.step, m.channel, m.send_at) for m in worked if m.status == "sent")
    for a, b in zip(sent_sim, sent_work, strict=True):
        assert a[:4] == b[:4]
        assert timedelta(0) <= b[4] - a[4] < tick  # the worker sends at its first tick after the due time


def test_a_campaign_edit_keeps_a_deferral_the_dispatcher_made(db_url: str, make_clinic: ClinicFactory) -> None:
    """Re-planning rewrites what the plan says (priority, wording, timing); the next attempt
    the dispatcher chose (here: the send window's next opening) moves only with the due time."""
    config, templates = make_clinic()
    clinic = load_clinic(config, templates)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    late = datetime(2026, 3, 2, 23, 30, tzinfo=MIAMI)  # the session ended at 21:25: thanks due 23:25
    seed(store, 1, ended=NOW - late + timedelta(hours=2, minutes=5))
    plan_pending(store, clinic, late)
    channels: dict[ChannelName, InMemoryChannel] = {"sms": InMemoryChannel("sms"), "email": InMemoryChannel("email")}
    Dispatcher(store, clinic, channels, FixedClock(late), worker="t", window=SendWindow()).run_once()
    [thanks] = [m for m in rows(store).values() if m.step == "thanks"]
    opening = datetime(2026, 3, 3, 9, 0, tzinfo=MIAMI)
    assert thanks.status == "scheduled" and thanks.next_attempt_at == opening  # outside the window

    text = (config / "campaigns.yaml").read_text()
    edited = text.replace("  purpose: care\n", "  purpose: care\n  priority: reminder\n", 1)
    (config / "campaigns.yaml").write_text(edited)
    changes = plan_pending(store, load_clinic(config, templates), late + timedelta(minutes=1)).changes
    assert changes.updated >= 1
    [after] = [m for m in rows(store).values() if m.step == "thanks"]
    assert after.priority == "reminder"
    assert after.next_attempt_at == opening and after.due_at == thanks.due_at
    store.close()


def test_an_edit_that_moves_a_message_into_the_past_expires_it_at_once(db_url: str, make_clinic: ClinicFactory) -> None:
    """Shortening an offset must not re-time a scheduled message into the past, only for the
    next tick to claim it and mark it expired (one log line each, by the thousand)."""
    config, templates = make_clinic()
    store = SqlStore.from_url(db_url)
    store.upgrade()
    seed(store, 1, ended=timedelta(hours=30))
    plan_pending(store, load_clinic(config, templates), NOW)
    [tip] = [m for m in rows(store).values() if m.step_index == 1]
    assert tip.status == "scheduled" and tip.due_at > NOW

    text = (config / "campaigns.yaml").read_text()
    edited = text.replace("    - offset: 3d at 10:00\n", "    - offset: 1h\n      expires_after: 2h\n", 1)
    assert edited != text
    (config / "campaigns.yaml").write_text(edited)
    changes = plan_pending(store, load_clinic(config, templates), NOW).changes
    after = rows(store)[tip.id]
    assert after.status == "expired"
    assert after.status_reason is not None and after.status_reason.startswith("re-timed by a campaign edit to ")
    assert changes.cancelled == 1 and changes.updated == 0
    assert [kind for _, kind, _ in store.events(tip.id)][-1] == "expired"
    store.close()


def test_simulate_shows_held_out_messages_already_in_the_database(
    sqlite_url: str, shipped_copy: tuple[Path, Path]
) -> None:
    """A held-out message is settled when it is planned (cancelled, "held out"); simulate over
    the database still shows the ones due in the simulated period, as it shows any other."""
    config, templates = shipped_copy
    text = (config / "campaigns.yaml").read_text()
    exits = "  exit_on: [opted_out, rebooked]\n"
    with_holdout = text.replace(exits, exits + "  holdout: 50%\n", 1)
    assert with_holdout != text
    (config / "campaigns.yaml").write_text(with_holdout)
    clinic = load_clinic(config, templates)
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    seed(store, 40)
    plan_pending(store, clinic, NOW)
    held = {m.key for m in rows(store).values() if m.status_reason == "held out"}
    assert held, "half of 40 clients are held out of the rebook nudge"
    memory = memory_store()
    store.copy_into(memory)
    shown = simulate(memory, clinic, NOW, 40)
    assert {m.client for m in shown if m.reason == "held out"} == {k.split("/")[2] for k in held}
    store.close()
