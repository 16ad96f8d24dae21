"""Imports in batches (issue 12 item 4): a file larger than one batch, a bad row in a later
batch, a stop mid-file, and rows that meet a client written earlier in their own batch;
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from followup.config.loader import load_clinic
from followup.engine.ingest import BATCH_ROWS, REPLAN_CHUNK, import_clients, import_sessions
from followup.intake import stream_clients, stream_sessions
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from tests.conftest import REPO

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
ROWS = BATCH_ROWS + 500
HEADER = "external_id,first_name,last_name,phone,email,sms_marketing\n"


def clients_file(tmp: Path, rows: int = ROWS, bad_at: int | None = None) -> Path:
    """``rows`` clients c-0..; the client at index ``bad_at`` has no name (a rejected row)."""
    lines = [HEADER]
    for i in range(rows):
        first = "" if i == bad_at else ("José", "María", "Ana", "Luis")[i % 4]
        lines.append(f"c-{i},{first},Núñez {i},305-555-{i % 10000:04d},p{i}@example.com,{'yes' if i % 3 else ''}\n")
    path = tmp / "clients.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def open_store(db_url: str) -> SqlStore:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    return store


def test_a_file_larger_than_a_batch_imports_and_reimports_unchanged(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    path = clients_file(tmp_path)
    first = import_clients(store, stream_clients(path), NOW)
    assert (first.total, first.created, first.updated, first.rejected) == (ROWS, ROWS, 0, 0)
    assert len(store.client_ids()) == ROWS
    late = store.find_client_id(external_id=f"c-{ROWS - 2}")  # in the second batch
    assert late is not None
    client = store.client_state(late).client
    assert (client.first_name, client.email, client.consent.sms_marketing) == ("Ana", f"p{ROWS - 2}@example.com", True)
    ledger = store.consent_history(late)
    assert [(e["channel"], e["action"], e["source"]) for e in ledger] == [
        ("sms", "opt_in", f"{path}:{ROWS}:sms_marketing"),
        ("email", "opt_in", "default"),
    ]
    again = import_clients(store, stream_clients(path), NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, ROWS)
    store.close()


def test_a_bad_row_in_a_later_batch(db_url: str, tmp_path: Path) -> None:
    path = clients_file(tmp_path, bad_at=ROWS - 10)
    store = open_store(db_url)
    strict = import_clients(store, stream_clients(path, shown="in.csv"), NOW, strict=True)
    assert strict.rolled_back and strict.created == 0
    assert f"in.csv:{ROWS - 10 + 2}: first_name: is empty (a name is required)" in strict.errors
    assert store.client_ids() == []
    lenient = import_clients(store, stream_clients(path, shown="in.csv"), NOW)
    assert (lenient.created, lenient.rejected) == (ROWS - 1, 1)
    assert store.find_client_id(external_id=f"c-{ROWS - 10}") is None
    store.close()


def test_partial_commits_batches_and_the_default_commits_nothing_on_a_stop(db_url: str, tmp_path: Path) -> None:
    path = clients_file(tmp_path)
    store = open_store(db_url)
    stop = threading.Event()
    whole = import_clients(store, stream_clients(path), NOW, progress=lambda n: stop.set(), stop=stop)
    assert whole.interrupted and whole.created == 0 and whole.committed_line == 0
    assert store.client_ids() == []
    stop.clear()
    partial = import_clients(store, stream_clients(path), NOW, partial=True, progress=lambda n: stop.set(), stop=stop)
    assert partial.interrupted and partial.created == BATCH_ROWS
    assert partial.committed_line == BATCH_ROWS + 1  # the header is line 1
    assert len(store.client_ids()) == BATCH_ROWS
    rest = import_clients(store, stream_clients(path), NOW, partial=True)
    assert (rest.created, rest.unchanged) == (ROWS - BATCH_ROWS, BATCH_ROWS)
    store.close()


def test_the_file_is_written_while_it_is_read(sqlite_url: str, tmp_path: Path) -> None:
    """Memory is bounded by design: the first batch is written before the rest is read."""
    store = open_store(sqlite_url)
    stream = stream_clients(clients_file(tmp_path, rows=450))
    seen: list[tuple[int, int]] = []
    import_clients(store, stream, NOW, progress=lambda n: seen.append((n, stream.total)), batch_size=100)
    assert seen[0] == (100, 100)
    assert [n for n, _ in seen] == [100, 100, 100, 100, 50]
    store.close()


def test_rows_without_id_meet_clients_written_earlier_in_their_batch(db_url: str, tmp_path: Path) -> None:
    """As one row at a time: an id-less row on the phone of a same-named client created a few
    rows before (same batch) updates that client; a different first name is another person."""
    path = tmp_path / "walkins.csv"
    path.write_text(
        "first_name,last_name,phone,email\n"
        "Ana,Ruiz,305-555-0100,\n"
        "Ana,Ruiz,(305) 555-0100,ana@example.com\n"
        "Luis,Ruiz,305 555 0100,\n"
        "Ana,Ruiz,3055550100,ana@example.com\n",
        encoding="utf-8",
    )
    store = open_store(db_url)
    summary = import_clients(store, stream_clients(path), NOW)
    assert (summary.created, summary.updated, summary.unchanged, summary.rejected) == (2, 1, 0, 0), summary
    sharing = store.clients_with(phone="+13055550100")
    assert sorted(m.first_name for m in sharing) == ["Ana", "Luis"]
    assert next(m.email for m in sharing if m.first_name == "Ana") == "ana@example.com"
    store.close()


def test_sessions_larger_than_a_batch_are_planned(db_url: str, tmp_path: Path) -> None:
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    store = open_store(db_url)
    import_clients(store, stream_clients(clients_file(tmp_path, rows=300)), NOW)
    lines = ["external_id,client,start,service,status\n"]
    for i in range(ROWS):
        lines.append(f"s-{i},c-{i % 300},2026-12-{4 + i % 20:02d} {9 + i % 8}:00,Deep tissue 60,booked\n")
    path = tmp_path / "sessions.csv"
    path.write_text("".join(lines), encoding="utf-8")
    first = import_sessions(store, clinic, stream_sessions(path), NOW)
    assert (first.created, first.rejected) == (ROWS, 0), first.errors[:3]
    assert first.planned > 0
    again = import_sessions(store, clinic, stream_sessions(path), NOW)
    assert (again.unchanged, again.planned) == (ROWS, 0)
    store.close()


def test_a_stopped_partial_import_leaves_no_committed_booking_unplanned(db_url: str, tmp_path: Path) -> None:
    """--partial commits batch by batch, each with its plan: a Ctrl-C after the first batch,
    then the same file again, gives the plan an uninterrupted import gives."""
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    rows = BATCH_ROWS + 300
    lines = ["external_id,client,start,service,status\n"]
    for i in range(rows):
        lines.append(f"s-{i},c-{i},2026-12-{4 + i % 20:02d} {9 + i % 8}:00,Deep tissue 60,booked\n")
    sessions_csv = tmp_path / "sessions.csv"
    sessions_csv.write_text("".join(lines), encoding="utf-8")

    def reminders(store: SqlStore) -> set[str]:
        planned = store.messages(MessageQuery())
        return {m.session_external_id or "" for m in planned if m.campaign == "pre_visit_reminder"}

    store = open_store(db_url)
    import_clients(store, stream_clients(clients_file(tmp_path, rows=rows)), NOW)
    stop = threading.Event()
    stopped = import_sessions(
        store, clinic, stream_sessions(sessions_csv), NOW, partial=True, progress=lambda n: stop.set(), stop=stop
    )
    assert stopped.interrupted and stopped.created == BATCH_ROWS
    assert len(reminders(store)) == BATCH_ROWS  # the committed batch is planned
    rest = import_sessions(store, clinic, stream_sessions(sessions_csv), NOW, partial=True)
    assert (rest.created, rest.unchanged) == (300, BATCH_ROWS)
    assert reminders(store) == {f"s-{i}" for i in range(rows)}  # as an uninterrupted import plans them
    store.close()


def test_the_planning_after_the_rows_reports_its_progress(db_url: str, tmp_path: Path) -> None:
    # A large sessions file spends longer planning than reading: the bar shows both phases.
    store = open_store(db_url)
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    clients = REPLAN_CHUNK + 200  # more than one planning chunk
    import_clients(store, stream_clients(clients_file(tmp_path, rows=clients)), NOW)
    lines = ["session_id,client_id,start,duration,service,status\n"]
    lines += [
        f"s-{i},c-{i % clients},11/{20 + i % 5}/2026 10:00 AM,60,NMT 60,completed\n" for i in range(clients + 300)
    ]
    sessions = tmp_path / "sessions.csv"
    sessions.write_text("".join(lines), encoding="utf-8")
    told: list[int] = []
    advanced: list[int] = []

    def planning(total: int) -> Callable[[int], None]:
        told.append(total)
        return advanced.append

    summary = import_sessions(store, clinic, stream_sessions(sessions), NOW, planning=planning)
    assert summary.created == clients + 300 and summary.planned > 0
    assert told == [clients]  # each client once, however many of their sessions the file has
    assert sum(advanced) == clients and len(advanced) > 1
    nothing_new = import_sessions(store, clinic, stream_sessions(sessions), NOW, planning=planning)
    assert nothing_new.unchanged == clients + 300 and told == [clients]  # no rows changed: no planning phase
    store.close()
