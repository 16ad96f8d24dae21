"""The store contract: what the rest of followup relies on, run against SQLite and PostgreSQL.

Every test takes the ``db_url`` fixture, so each one runs once on a fresh SQLite file and
once on a fresh PostgreSQL database, against the one :class:`SqlStore` implementation.
All datetimes are aware; they must come back aware and denote the same instant.
"""

from __future__ import annotations

import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from followup.core.campaigns import Campaign
from followup.core.domain import Client, Consent, Session
from followup.core.planner import Planned, PlanResult, plan_client
from followup.store import migrate
from followup.store.port import CLINIC, REPLY_FORWARD, ClinicMessage, Finish, MessageQuery, MessageRow, PlanChanges
from followup.store.schema import metadata
from followup.store.sql import SqlStore
from followup.timeutil import UTC, zone

HEAD = migrate.head_revision()

NY = zone("America/New_York")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=NY)
LATER = NOW + timedelta(days=1)


# --- fixtures and builders -------------------------------------------------------------


def make_client(external_id: str = "c1", **fields: Any) -> Client:
    values: dict[str, Any] = {
        "first_name": "Maria",
        "last_name": "Lopez",
        "phone": f"+1305555{zlib.crc32(external_id.encode()) % 10000:04d}",
        "email": f"{external_id}@example.com",
    }
    values.update(fields)
    return Client(external_id=external_id, **values)


def make_session(
    external_id: str = "s1",
    client: str = "c1",
    start: datetime = NOW - timedelta(hours=3),
    minutes: int = 60,
    **fields: Any,
) -> Session:
    values: dict[str, Any] = {"service": "NMT 60", "therapist": "Ana", "status": "completed"}
    values.update(fields)
    return Session(
        external_id=external_id,
        client_external_id=client,
        start=start,
        end=start + timedelta(minutes=minutes),
        **values,
    )


def planned(
    key: str,
    due: datetime = NOW - timedelta(minutes=5),
    *,
    expires: datetime | None = None,
    client: str = "c1",
    session: str | None = None,
    channel: str = "sms",
    why: str = "2h after session s1 was completed",
) -> Planned:
    return Planned(
        key=key,
        campaign="post",
        step="thanks",
        step_index=0,
        client_external_id=client,
        session_external_id=session,
        channel=channel,
        purpose="care",
        priority="aftercare",
        due_at=due,
        expires_at=expires if expires is not None else due + timedelta(hours=6),
        why=why,
    )


def plan(*items: Planned, blocked: dict[str, str] | None = None) -> PlanResult:
    return PlanResult(planned=list(items), blocked=dict(blocked or {}))


def add_client(store: SqlStore, external_id: str = "c1", **fields: Any) -> int:
    client_id, outcome = store.upsert_client(make_client(external_id, **fields), NOW)
    assert outcome == "created"
    return client_id


def row(store: SqlStore, key: str) -> MessageRow:
    found = [m for m in store.messages(MessageQuery()) if m.key == key]
    assert len(found) == 1, f"expected one message {key!r}, found {len(found)}"
    return found[0]


def all_rows(store: SqlStore) -> list[MessageRow]:
    return store.messages(MessageQuery(order="id"))


def seed_due(store: SqlStore, count: int) -> list[int]:
    """``count`` scheduled messages for a new client "c1", due from 2 h before NOW, a minute apart."""
    cid = add_client(store)
    first = NOW - timedelta(hours=2)
    items = [planned(f"k{i:03d}", first + timedelta(minutes=i)) for i in range(count)]
    store.apply_plan(cid, plan(*items), NOW)
    ids = [m.id for m in all_rows(store)]
    assert len(ids) == count
    return ids


def claim_one(store: SqlStore, key: str, worker: str = "w1", now: datetime = NOW) -> MessageRow:
    """Claim every due message and release all but ``key``."""
    claimed = store.claim_due(now, 1000, worker)
    mine = [m for m in claimed if m.key == key]
    assert len(mine) == 1, f"{key!r} was not claimable at {now}"
    store.release([m.id for m in claimed if m.key != key], worker)
    return mine[0]


def same_instant(got: datetime | None, want: datetime) -> bool:
    """Aware and the same instant (inter-zone == is False for times in a DST fold or gap)."""
    assert got is not None
    assert got.tzinfo is not None and got.utcoffset() is not None, f"{got!r} came back naive"
    return got.astimezone(UTC) == want.astimezone(UTC)


# --- 1. migrations -----------------------------------------------------------------------


def test_upgrade_twice_is_harmless_and_keeps_data(store: SqlStore) -> None:
    client_id = add_client(store)
    store.upgrade()
    assert migrate.current(store.engine) == HEAD
    assert store.client_ids() == [client_id]
    assert store.client_external_id(client_id) == "c1"


def test_migrated_schema_matches_metadata(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_fresh_database_has_no_revision_until_upgraded(db_url: str) -> None:
    fresh = SqlStore.from_url(db_url)
    try:
        assert migrate.current(fresh.engine) is None
        fresh.upgrade()
        assert migrate.current(fresh.engine) == HEAD
    finally:
        fresh.close()


# --- 2. clients ---------------------------------------------------------------------------


def test_upsert_client_created_unchanged_updated(store: SqlStore) -> None:
    client = make_client("c1", phone="+13055550101")
    client_id, outcome = store.upsert_client(client, NOW)
    assert outcome == "created"
    assert store.upsert_client(client, LATER) == (client_id, "unchanged")
    moved = make_client("c1", phone="+13055550199", timezone="Europe/Madrid")
    assert store.upsert_client(moved, LATER) == (client_id, "updated")
    assert store.client_state(client_id).client == moved
    assert store.upsert_client(moved, LATER) == (client_id, "unchanged")


def test_upsert_client_consent_change_is_an_update(store: SqlStore) -> None:
    client_id = add_client(store)
    opted_in = make_client("c1", consent=Consent(sms_marketing=True))
    assert store.upsert_client(opted_in, LATER) == (client_id, "updated")
    assert store.client_state(client_id).client.consent == Consent(sms_marketing=True)


def test_consent_round_trips(store: SqlStore) -> None:
    consent = Consent(sms_care=False, sms_marketing=True, email_care=False, email_marketing=False)
    client = make_client("c1", consent=consent, language="es", preferred_channel="email", timezone="UTC")
    client_id, _ = store.upsert_client(client, NOW)
    got = store.client_state(client_id).client
    assert got.consent == consent
    assert got == client


def test_client_with_no_phone_or_email_round_trips(store: SqlStore) -> None:
    client = Client(external_id="bare", first_name="Bo")
    client_id, _ = store.upsert_client(client, NOW)
    assert store.client_state(client_id).client == client
    assert store.upsert_client(client, LATER) == (client_id, "unchanged")


def test_find_client_id_by_external_id_then_phone_then_email(store: SqlStore) -> None:
    a = add_client(store, "a", phone="+13055550001", email="a@example.com")
    b = add_client(store, "b", phone="+13055550002", email="b@example.com")
    assert store.find_client_id(external_id="a") == a
    assert store.find_client_id(phone="+13055550002") == b
    assert store.find_client_id(email="b@example.com") == b
    # External id beats phone, phone beats email.
    assert store.find_client_id(external_id="a", phone="+13055550002") == a
    assert store.find_client_id(phone="+13055550001", email="b@example.com") == a
    assert store.find_client_id(external_id="b", phone="+13055550001", email="a@example.com") == b
    # A miss on a stronger reference falls through to the next one.
    assert store.find_client_id(external_id="nobody", phone="+13055550002") == b
    assert store.find_client_id(external_id="nobody", phone="+19999999999", email="a@example.com") == a


def test_find_client_id_none_when_nothing_matches(store: SqlStore) -> None:
    add_client(store, "a", phone="+13055550001", email="a@example.com")
    assert store.find_client_id(external_id="zz", phone="+19999999999", email="zz@example.com") is None
    assert store.find_client_id() is None
    assert store.find_client_id(external_id="", phone="", email="") is None


def test_client_timezones_keyed_by_id_phone_and_email(store: SqlStore) -> None:
    add_client(store, "ny", phone="+13055550001", email="ny@example.com", timezone="America/New_York")
    add_client(store, "mad", phone="+34600000000", email="mad@example.com", timezone="Europe/Madrid")
    add_client(store, "nophone", phone=None, email=None, timezone="UTC")
    assert store.client_timezones() == {
        "ny": "America/New_York",
        "+13055550001": "America/New_York",
        "ny@example.com": "America/New_York",
        "mad": "Europe/Madrid",
        "+34600000000": "Europe/Madrid",
        "mad@example.com": "Europe/Madrid",
        "nophone": "UTC",
    }


def test_client_timezones_external_id_wins_a_clash_across_clients(store: SqlStore) -> None:
    add_client(store, "+13055550001", phone=None, email=None, timezone="America/New_York")
    add_client(store, "other", phone="+13055550001", email=None, timezone="Europe/Madrid")
    # find_client_id resolves this reference to the first client; its zone must agree.
    assert store.find_client_id(external_id="+13055550001", phone="+13055550001") == store.client_ids()[0]
    assert store.client_timezones()["+13055550001"] == "America/New_York"


def test_client_external_id_and_client_ids(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    assert store.client_external_id(a) == "a"
    assert store.client_external_id(b) == "b"
    assert store.client_ids() == sorted([a, b])
    assert a != b


# --- 3. sessions --------------------------------------------------------------------------


def test_upsert_session_created_unchanged_updated(store: SqlStore) -> None:
    client_id = add_client(store)
    session = make_session("s1", status="booked", start=LATER)
    session_id, outcome = store.upsert_session(session, client_id, NOW)
    assert outcome == "created"
    assert store.upsert_session(session, client_id, LATER) == (session_id, "unchanged")
    # The same instant written in another zone is not a change.
    same_in_utc = make_session("s1", status="booked", start=LATER.astimezone(UTC))
    assert store.upsert_session(same_in_utc, client_id, LATER) == (session_id, "unchanged")
    moved = make_session("s1", status="booked", start=LATER + timedelta(hours=1))
    assert store.upsert_session(moved, client_id, LATER) == (session_id, "updated")
    done = make_session("s1", status="completed", start=LATER + timedelta(hours=1))
    assert store.upsert_session(done, client_id, LATER) == (session_id, "updated")
    assert store.client_state(client_id).sessions == [done]


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(datetime(2026, 6, 1, 9, 15, 30, 123456, tzinfo=NY), id="summer-microseconds"),
        pytest.param(datetime(2026, 1, 15, 18, 0, tzinfo=NY), id="winter"),
        pytest.param(datetime(2026, 3, 8, 1, 30, tzinfo=NY), id="spring-forward-before"),
        pytest.param(datetime(2026, 3, 8, 3, 30, tzinfo=NY), id="spring-forward-after"),
        pytest.param(datetime(2026, 3, 8, 10, 0, tzinfo=NY), id="spring-forward-day"),
        pytest.param(datetime(2026, 11, 1, 0, 30, tzinfo=NY), id="fall-back-before"),
        pytest.param(datetime(2026, 11, 1, 1, 30, tzinfo=NY), id="fall-back-first-1h30"),
        pytest.param(datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), id="fall-back-second-1h30"),
        pytest.param(datetime(2026, 11, 1, 10, 0, tzinfo=NY), id="fall-back-day"),
        pytest.param(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), id="utc"),
    ],
)
def test_session_datetimes_round_trip_as_aware_instants(store: SqlStore, start: datetime) -> None:
    client_id = add_client(store)
    session = make_session("s1", start=start, minutes=90)
    store.upsert_session(session, client_id, NOW)
    (got,) = store.client_state(client_id).sessions
    assert same_instant(got.start, start)
    assert same_instant(got.end, session.end)
    # Elapsed time survives (wall-clock arithmetic across a DST gap makes it 30 minutes here and there).
    assert got.end - got.start == session.end.astimezone(UTC) - session.start.astimezone(UTC)


def test_session_datetimes_on_dst_days_compare_equal(store: SqlStore) -> None:
    client_id = add_client(store)
    spring = make_session("spring", start=datetime(2026, 3, 8, 10, 0, tzinfo=NY))
    fall = make_session("fall", start=datetime(2026, 11, 1, 10, 0, tzinfo=NY))
    store.upsert_session(spring, client_id, NOW)
    store.upsert_session(fall, client_id, NOW)
    got = store.client_state(client_id).sessions
    assert [(s.start, s.end) for s in got] == [(spring.start, spring.end), (fall.start, fall.end)]
    assert all(s.start.tzinfo is not None for s in got)


def test_the_two_1h30_of_fall_back_day_stay_distinct(store: SqlStore) -> None:
    client_id = add_client(store)
    first = make_session("first", start=datetime(2026, 11, 1, 1, 30, tzinfo=NY), minutes=30)
    second = make_session("second", start=datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), minutes=30)
    store.upsert_session(second, client_id, NOW)
    store.upsert_session(first, client_id, NOW)
    got = store.client_state(client_id).sessions
    assert [s.external_id for s in got] == ["first", "second"]
    assert got[1].start - got[0].start == timedelta(hours=1)


def test_reimporting_unchanged_session_in_the_dst_fold_is_unchanged(store: SqlStore) -> None:
    client_id = add_client(store)
    session = make_session("s1", start=datetime(2026, 11, 1, 1, 30, tzinfo=NY), status="booked")
    session_id, _ = store.upsert_session(session, client_id, NOW)
    assert store.upsert_session(session, client_id, LATER) == (session_id, "unchanged")


def test_focus_areas_round_trip(store: SqlStore) -> None:
    client_id = add_client(store)
    store.upsert_session(make_session("s1", focus_areas=("neck_shoulders", "lower_back")), client_id, NOW)
    store.upsert_session(
        make_session("s2", start=NOW - timedelta(days=1), focus_areas=()),
        client_id,
        NOW,
    )
    by_id = {s.external_id: s for s in store.client_state(client_id).sessions}
    assert by_id["s1"].focus_areas == ("neck_shoulders", "lower_back")
    assert by_id["s2"].focus_areas == ()
    reordered = make_session("s1", focus_areas=("lower_back", "neck_shoulders"))
    assert store.upsert_session(reordered, client_id, LATER)[1] == "updated"


def test_set_session_status_returns_the_client_id(store: SqlStore) -> None:
    client_id = add_client(store)
    store.upsert_session(make_session("s1", status="booked", start=LATER), client_id, NOW)
    assert store.set_session_status("s1", "cancelled", NOW) == client_id
    (got,) = store.client_state(client_id).sessions
    assert got.status == "cancelled"
    assert store.set_session_status("missing", "cancelled", NOW) is None


def test_client_state_sessions_by_start_and_tips_oldest_first(store: SqlStore) -> None:
    client_id = add_client(store)
    other_id = add_client(store, "c2")
    starts = [NOW - timedelta(days=3), NOW - timedelta(days=10), NOW - timedelta(days=1)]
    for i, start in enumerate(starts):
        store.upsert_session(make_session(f"s{i}", start=start), client_id, NOW)
    store.upsert_session(make_session("other", client="c2", start=NOW - timedelta(days=2)), other_id, NOW)
    store.apply_plan(client_id, plan(planned("t1"), planned("t2"), planned("t3")), NOW)
    store.apply_plan(other_id, plan(planned("t-other", client="c2")), NOW)
    claimed = {m.key: m for m in store.claim_due(NOW, 10, "w1")}
    # Sent out of key order: t2 first, then t3, then t1.
    for minutes, key, tip in ((1, "t2", "tip-b"), (2, "t3", "tip-c"), (3, "t1", "tip-a"), (4, "t-other", "tip-x")):
        done = Finish(status="sent", tip_id=tip, attempted=True)
        assert store.finish(claimed[key].id, "w1", done, NOW + timedelta(minutes=minutes))
    state = store.client_state(client_id)
    assert state.id == client_id
    assert state.client == make_client("c1")
    assert [s.external_id for s in state.sessions] == ["s1", "s0", "s2"]
    assert state.tips == ["tip-b", "tip-c", "tip-a"]
    assert store.client_state(other_id).tips == ["tip-x"]


# --- 4. apply_plan ------------------------------------------------------------------------


def test_apply_plan_creates_scheduled_rows(store: SqlStore) -> None:
    client_id = add_client(store)
    store.upsert_session(make_session("s1"), client_id, NOW)
    due = datetime(2026, 6, 1, 14, 0, tzinfo=NY)
    item = planned("post/thanks/c1/s1/sms", due, session="s1")
    store.apply_plan(client_id, plan(item, planned("no-session", due)), NOW)
    assert len(all_rows(store)) == 2
    got = row(store, item.key)
    assert got.status == "scheduled"
    assert got.status_reason is None
    assert got.due_at == due
    assert got.next_attempt_at == due
    assert got.expires_at == due + timedelta(hours=6)
    assert (got.campaign, got.step, got.step_index, got.channel) == ("post", "thanks", 0, "sms")
    assert (got.purpose, got.priority, got.why) == ("care", "aftercare", item.why)
    assert (got.client_id, got.client_external_id, got.session_external_id) == (client_id, "c1", "s1")
    assert got.session_id is not None
    assert (got.attempts, got.claimed_by, got.claimed_at, got.sent_at, got.fell_back) == (0, None, None, None, False)
    bare = row(store, "no-session")
    assert (bare.session_id, bare.session_external_id) == (None, None)


def test_reapplying_the_same_plan_changes_nothing(store: SqlStore) -> None:
    client_id = add_client(store)
    result = plan(planned("a"), planned("b", NOW + timedelta(hours=1)))
    store.apply_plan(client_id, result, NOW)
    before = all_rows(store)
    assert [m.key for m in before] == ["a", "b"]
    assert store.apply_plan(client_id, result, NOW + timedelta(minutes=1)) == PlanChanges()
    assert all_rows(store) == before


def test_same_key_from_another_client_is_not_duplicated(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    store.apply_plan(a, plan(planned("shared")), NOW)
    store.apply_plan(b, plan(planned("shared", client="b")), NOW)
    assert [(m.key, m.client_id) for m in all_rows(store)] == [("shared", a)]


def test_apply_plan_counts_the_rows_it_created(request: pytest.FixtureRequest, db_url: str, store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    expired = planned("old", NOW - timedelta(days=2), expires=NOW - timedelta(days=1))
    assert store.apply_plan(a, plan(planned("x"), planned("y"), expired), NOW) == PlanChanges(created=2)
    # The key already belongs to client a: the insert is ignored and not counted.
    assert store.apply_plan(b, plan(planned("x", client="b")), NOW) == PlanChanges()
    assert store.apply_plan(b, plan(planned("z", client="b")), NOW) == PlanChanges(created=1)


def test_changed_due_at_moves_due_and_next_attempt(store: SqlStore) -> None:
    client_id = add_client(store)
    store.apply_plan(client_id, plan(planned("a", NOW + timedelta(hours=1))), NOW)
    moved = NOW + timedelta(hours=3)
    changes = store.apply_plan(client_id, plan(planned("a", moved, why="moved")), NOW)
    assert changes == PlanChanges(updated=1)
    got = row(store, "a")
    assert (got.due_at, got.next_attempt_at, got.expires_at, got.why) == (
        moved,
        moved,
        moved + timedelta(hours=6),
        "moved",
    )
    assert got.status == "scheduled"


def test_reapplying_keeps_a_deferred_next_attempt(store: SqlStore) -> None:
    client_id = add_client(store)
    item = planned("a")
    store.apply_plan(client_id, plan(item), NOW)
    claimed = claim_one(store, "a")
    retry_at = NOW + timedelta(minutes=30)
    assert store.finish(claimed.id, "w1", Finish(status="scheduled", next_attempt_at=retry_at), NOW)
    assert store.apply_plan(client_id, plan(item), NOW + timedelta(minutes=1)) == PlanChanges()
    assert row(store, "a").next_attempt_at == retry_at


def test_reapplying_a_plan_due_in_the_dst_fold_changes_nothing(store: SqlStore) -> None:
    now = datetime(2026, 10, 31, 23, 0, tzinfo=NY)
    client_id = add_client(store)
    item = planned("fold", datetime(2026, 11, 1, 1, 30, tzinfo=NY))
    store.apply_plan(client_id, plan(item), now)
    claimed = claim_one(store, "fold", now=item.due_at)
    deferred = datetime(2026, 11, 1, 9, 0, tzinfo=NY)
    assert store.finish(claimed.id, "w1", Finish(status="scheduled", next_attempt_at=deferred), item.due_at)
    changes = store.apply_plan(client_id, plan(item), item.due_at)
    assert (changes, row(store, "fold").next_attempt_at) == (PlanChanges(), deferred)


def test_blocked_key_cancels_the_scheduled_row_with_an_event(store: SqlStore) -> None:
    client_id = add_client(store)
    store.apply_plan(client_id, plan(planned("a"), planned("b")), NOW)
    at = NOW + timedelta(minutes=2)
    changes = store.apply_plan(client_id, plan(planned("b"), blocked={"a": "session cancelled"}), at)
    assert changes == PlanChanges(cancelled=1)
    got = row(store, "a")
    assert (got.status, got.status_reason) == ("cancelled", "session cancelled")
    assert store.events(got.id) == [(at, "cancelled", "session cancelled")]
    assert row(store, "b").status == "scheduled"
    assert store.events(row(store, "b").id) == []


def test_blocked_key_without_a_row_creates_nothing(store: SqlStore) -> None:
    client_id = add_client(store)
    assert store.apply_plan(client_id, plan(blocked={"ghost": "session cancelled"}), NOW) == PlanChanges()
    assert all_rows(store) == []


def test_planner_cancelled_row_planned_again_is_revived(store: SqlStore) -> None:
    client_id = add_client(store)
    first_due = NOW + timedelta(hours=2)
    store.apply_plan(client_id, plan(planned("nudge", first_due)), NOW)
    store.apply_plan(client_id, plan(blocked={"nudge": "rebooked (session s9)"}), NOW)
    assert row(store, "nudge").status == "cancelled"
    new_due = NOW + timedelta(hours=5)
    changes = store.apply_plan(client_id, plan(planned("nudge", new_due)), NOW + timedelta(minutes=1))
    assert changes == PlanChanges(revived=1)
    got = row(store, "nudge")
    assert (got.status, got.status_reason, got.due_at, got.next_attempt_at) == ("scheduled", None, new_due, new_due)
    assert [m.key for m in store.claim_due(new_due, 10, "w1")] == ["nudge"]


def test_row_no_longer_planned_is_cancelled_then_revived(store: SqlStore) -> None:
    client_id = add_client(store)
    item = planned("a", NOW + timedelta(hours=1))
    store.apply_plan(client_id, plan(item), NOW)
    changes = store.apply_plan(client_id, plan(), NOW)
    assert changes == PlanChanges(cancelled=1)
    got = row(store, "a")
    assert got.status == "cancelled"
    assert got.status_reason is not None
    assert got.status_reason.startswith("no longer planned")
    assert [kind for _, kind, _ in store.events(got.id)] == ["cancelled"]
    assert store.apply_plan(client_id, plan(item), NOW) == PlanChanges(revived=1)
    assert row(store, "a").status == "scheduled"


def test_row_cancelled_for_another_reason_is_not_revived(store: SqlStore) -> None:
    client_id = add_client(store)
    item = planned("a")
    store.apply_plan(client_id, plan(item), NOW)
    claimed = claim_one(store, "a")
    assert store.finish(claimed.id, "w1", Finish(status="cancelled", reason="opted out"), NOW)
    assert store.apply_plan(client_id, plan(item), NOW) == PlanChanges()
    got = row(store, "a")
    assert (got.status, got.status_reason) == ("cancelled", "opted out")


def test_expired_plan_revives_nothing(store: SqlStore) -> None:
    client_id = add_client(store)
    item = planned("a", NOW + timedelta(hours=1), expires=NOW + timedelta(hours=2))
    store.apply_plan(client_id, plan(item), NOW)
    store.apply_plan(client_id, plan(blocked={"a": "session cancelled"}), NOW)
    assert store.apply_plan(client_id, plan(item), NOW + timedelta(hours=2)) == PlanChanges()
    assert row(store, "a").status == "cancelled"


def test_already_expired_plans_are_never_created(store: SqlStore) -> None:
    client_id = add_client(store)
    expired = planned("old", NOW - timedelta(days=30), expires=NOW - timedelta(days=29))
    at_the_edge = planned("edge", NOW - timedelta(hours=6), expires=NOW)
    alive = planned("alive", NOW - timedelta(hours=1), expires=NOW + timedelta(seconds=1))
    store.apply_plan(client_id, plan(expired, at_the_edge, alive), NOW)
    assert [m.key for m in all_rows(store)] == ["alive"]


def test_expired_scheduled_row_is_left_for_the_dispatcher(store: SqlStore) -> None:
    client_id = add_client(store)
    store.apply_plan(client_id, plan(planned("a", NOW, expires=NOW + timedelta(hours=1))), NOW)
    assert store.apply_plan(client_id, plan(), NOW + timedelta(hours=1)) == PlanChanges()
    assert row(store, "a").status == "scheduled"


def test_non_scheduled_rows_are_never_touched(store: SqlStore) -> None:
    client_id = add_client(store)
    store.apply_plan(client_id, plan(planned("sent"), planned("sending"), planned("unknown")), NOW)
    claimed = {m.key: m for m in store.claim_due(NOW, 10, "w1")}
    assert store.finish(claimed["sent"].id, "w1", Finish(status="sent", provider_id="SM1", attempted=True), NOW)
    assert store.finish(claimed["unknown"].id, "w1", Finish(status="unknown", attempted=True), NOW)
    before = all_rows(store)
    moved = NOW + timedelta(hours=4)
    later = NOW + timedelta(minutes=5)
    for result in (
        plan(),
        plan(planned("sent", moved), planned("sending", moved), planned("unknown", moved)),
        plan(blocked={"sent": "session cancelled", "sending": "session cancelled", "unknown": "rebooked"}),
    ):
        assert store.apply_plan(client_id, result, later) == PlanChanges()
    assert all_rows(store) == before
    assert [m.status for m in before] == ["sent", "sending", "unknown"]


def test_apply_plan_from_plan_client(store: SqlStore) -> None:
    aftercare = Campaign.model_validate(
        {
            "description": "Thanks after a session.",
            "purpose": "care",
            "trigger": "session_completed",
            "steps": [{"name": "thanks", "offset": "2h", "channel": "sms", "template": "t", "expires_after": "6h"}],
        }
    )
    reminder = Campaign.model_validate(
        {
            "description": "Day-before reminder.",
            "purpose": "care",
            "trigger": "session_booked",
            "steps": [{"offset": "-24h", "channel": "sms", "template": "t"}],
        }
    )
    campaigns = {"post": aftercare, "reminder": reminder}
    client = make_client("c1")
    client_id, _ = store.upsert_client(client, NOW)
    done = make_session("done", start=NOW - timedelta(hours=1, minutes=30))
    booked = make_session("next", start=NOW + timedelta(days=3), status="booked")
    for s in (done, booked):
        store.upsert_session(s, client_id, NOW)

    state = store.client_state(client_id)
    result = plan_client(campaigns, state.client, state.sessions, NOW)
    store.apply_plan(client_id, result, NOW)
    assert sorted(m.key for m in all_rows(store)) == ["post/thanks/c1/done/sms", "reminder/step1/c1/next/sms"]
    thanks = row(store, "post/thanks/c1/done/sms")
    assert thanks.due_at == done.end + timedelta(hours=2)
    assert thanks.session_external_id == "done"
    remind = row(store, "reminder/step1/c1/next/sms")
    assert remind.due_at == booked.start - timedelta(hours=24)
    assert remind.expires_at == booked.start

    again = store.client_state(client_id)
    assert store.apply_plan(client_id, plan_client(campaigns, again.client, again.sessions, NOW), NOW) == PlanChanges()

    store.set_session_status("next", "cancelled", NOW)
    cancelled = store.client_state(client_id)
    result = plan_client(campaigns, cancelled.client, cancelled.sessions, NOW)
    assert result.blocked["reminder/step1/c1/next/sms"] == "session cancelled"
    assert store.apply_plan(client_id, result, NOW) == PlanChanges(cancelled=1)
    remind = row(store, "reminder/step1/c1/next/sms")
    assert (remind.status, remind.status_reason) == ("cancelled", "session cancelled")
    assert row(store, "post/thanks/c1/done/sms").status == "scheduled"


# --- 5. claim_due -------------------------------------------------------------------------


def test_claim_due_takes_only_due_scheduled_rows_in_order(store: SqlStore) -> None:
    client_id = add_client(store)
    t = NOW - timedelta(hours=1)
    items = [
        planned("late", t + timedelta(minutes=30)),
        planned("b-same", t),
        planned("a-same", t),
        planned("early", t - timedelta(minutes=10)),
        planned("future", NOW + timedelta(seconds=1)),
        planned("exactly-now", NOW),
    ]
    store.apply_plan(client_id, plan(*items), NOW)
    ids = {m.key: m.id for m in all_rows(store)}
    assert ids["b-same"] < ids["a-same"]
    claimed = store.claim_due(NOW, 100, "w1")
    # By next_attempt_at, then id (b-same was inserted before a-same); "future" is not due yet.
    assert [m.key for m in claimed] == ["early", "b-same", "a-same", "late", "exactly-now"]
    assert store.claim_due(NOW, 100, "w2") == []
    assert [m.key for m in store.claim_due(NOW + timedelta(seconds=1), 100, "w2")] == ["future"]


def test_claim_due_takes_at_most_limit_oldest_first(
    request: pytest.FixtureRequest, db_url: str, store: SqlStore
) -> None:
    seed_due(store, 5)
    first = store.claim_due(NOW, 2, "w1")
    assert [m.key for m in first] == ["k000", "k001"]
    assert store.counts() == {"scheduled": 3, "sending": 2}
    second = store.claim_due(NOW, 2, "w2")
    assert [m.key for m in second] == ["k002", "k003"]
    assert [m.key for m in store.claim_due(NOW, 2, "w3")] == ["k004"]


def test_claimed_rows_become_sending_and_are_not_claimed_again(store: SqlStore) -> None:
    seed_due(store, 3)
    claimed = store.claim_due(NOW, 10, "w1")
    assert len(claimed) == 3
    for m in claimed:
        assert (m.status, m.claimed_by, m.claimed_at) == ("sending", "w1", NOW)
    assert all(m.status == "sending" and m.claimed_by == "w1" for m in all_rows(store))
    assert store.claim_due(NOW + timedelta(hours=1), 10, "w2") == []
    assert store.counts() == {"sending": 3}


def test_claim_skips_terminal_and_unknown_rows(store: SqlStore) -> None:
    seed_due(store, 3)
    claimed = store.claim_due(NOW, 10, "w1")
    store.finish(claimed[0].id, "w1", Finish(status="sent"), NOW)
    store.finish(claimed[1].id, "w1", Finish(status="unknown"), NOW)
    store.finish(claimed[2].id, "w1", Finish(status="failed", error="landline"), NOW)
    assert store.claim_due(NOW + timedelta(days=1), 10, "w2") == []


def test_release_gives_rows_back_only_for_that_worker(store: SqlStore) -> None:
    ids = seed_due(store, 4)  # due 2 h before NOW, a minute apart
    mine = store.claim_due(NOW - timedelta(hours=2, minutes=-1), 100, "w1")
    theirs = store.claim_due(NOW, 100, "w2")
    assert (len(mine), len(theirs)) == (2, 2)
    store.release([m.id for m in mine + theirs], "w1")
    by_id = {m.id: m for m in all_rows(store)}
    for m in mine:
        assert (by_id[m.id].status, by_id[m.id].claimed_by, by_id[m.id].claimed_at) == ("scheduled", None, None)
    for m in theirs:
        assert (by_id[m.id].status, by_id[m.id].claimed_by) == ("sending", "w2")
    again = store.claim_due(NOW, 10, "w3")
    assert sorted(m.id for m in again) == sorted(m.id for m in mine)
    assert sorted(ids) == sorted(m.id for m in again + theirs)
    store.release([], "w3")  # nothing to release is fine


def test_release_does_not_touch_finished_rows(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW, 1, "w1")
    store.finish(m.id, "w1", Finish(status="sent"), NOW)
    store.release([m.id], "w1")
    assert all_rows(store)[0].status == "sent"


def test_parallel_claims_never_share_a_message(store: SqlStore) -> None:
    ids = seed_due(store, 100)
    start = threading.Barrier(2)

    def worker(name: str) -> list[int]:
        got: list[int] = []
        start.wait()
        while True:
            batch = store.claim_due(NOW, 7, name)
            if not batch:
                return got
            got.extend(m.id for m in batch)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(worker, ["w1", "w2"]))
    together = results[0] + results[1]
    assert len(together) == len(set(together)), "a message was claimed twice"
    assert sorted(together) == sorted(ids)
    owners = {m.id: m.claimed_by for m in all_rows(store)}
    assert all(owners[i] == "w1" for i in results[0])
    assert all(owners[i] == "w2" for i in results[1])


# --- 6. finish ----------------------------------------------------------------------------


def test_finish_by_the_claiming_worker_records_the_outcome(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW, 1, "w1")
    at = NOW + timedelta(seconds=3)
    outcome = Finish(
        status="sent",
        sent_channel="sms",
        provider_id="SM123",
        subject="Thanks",
        body="Hi Maria",
        attempted=True,
        fell_back=True,
    )
    assert store.finish(m.id, "w1", outcome, at) is True
    got = all_rows(store)[0]
    assert (got.status, got.sent_channel, got.provider_id, got.subject, got.body) == (
        "sent",
        "sms",
        "SM123",
        "Thanks",
        "Hi Maria",
    )
    assert got.sent_at == at
    assert got.attempts == 1
    assert got.fell_back is True
    assert (got.claimed_by, got.claimed_at) == (None, None)
    assert store.events(m.id) == [(at, "sent", "SM123")]


def test_finish_counts_an_attempt_only_when_attempted(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW, 1, "w1")
    deferred = NOW + timedelta(hours=1)
    store.finish(m.id, "w1", Finish(status="scheduled", reason="quiet hours", next_attempt_at=deferred), NOW)
    assert all_rows(store)[0].attempts == 0
    (m,) = store.claim_due(deferred, 1, "w1")
    retry = deferred + timedelta(minutes=5)
    store.finish(m.id, "w1", Finish(status="scheduled", error="timeout", attempted=True, next_attempt_at=retry), NOW)
    got = all_rows(store)[0]
    assert (got.attempts, got.error) == (1, "timeout")
    assert [kind for _, kind, _ in store.events(m.id)] == ["scheduled", "scheduled"]
    assert [detail for _, _, detail in store.events(m.id)] == ["quiet hours", "timeout"]


def test_finish_by_another_worker_changes_nothing(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW, 1, "w1")
    before = all_rows(store)
    outcome = Finish(status="sent", provider_id="SM9", body="x", attempted=True, tip_id="tip-a")
    assert store.finish(m.id, "w2", outcome, NOW) is False
    assert all_rows(store) == before
    assert store.events(m.id) == []
    assert m.client_id is not None
    assert store.client_state(m.client_id).tips == []


def test_finish_without_a_worker_takes_a_row_any_worker_claimed(store: SqlStore) -> None:
    seed_due(store, 2)
    first, second = store.claim_due(NOW, 2, "w1")
    assert store.finish(first.id, None, Finish(status="unknown", reason="lost", next_attempt_at=NOW), NOW)
    assert store.finish(second.id, None, Finish(status="sent", provider_id="SM1", attempted=True), NOW)
    rows = {m.id: m for m in all_rows(store)}
    assert (rows[first.id].status, rows[first.id].claimed_by) == ("unknown", "w1")  # "unknown" keeps who tried
    assert (rows[second.id].status, rows[second.id].claimed_by) == ("sent", None)
    assert store.finish(second.id, None, Finish(status="failed"), NOW) is False  # finished already


def test_finish_many_stores_only_the_rows_still_ours_with_their_events_and_tips(store: SqlStore) -> None:
    seed_due(store, 3)
    a, b, c = store.claim_due(NOW, 3, "w1")
    store.finish(b.id, "w1", Finish(status="failed", reason="gone"), NOW)  # no longer ours to finish
    later = NOW + timedelta(seconds=1)
    stored = store.finish_many(
        "w1",
        [
            (a.id, Finish(status="sent", tip_id="posture-one", body="A", attempted=True, warning="long"), later),
            (b.id, Finish(status="sent", tip_id="sleep-one", body="B", attempted=True), later),
            (c.id, Finish(status="scheduled", reason="quiet hours", next_attempt_at=later), later),
        ],
    )
    assert stored == {a.id, c.id}
    assert store.events(a.id) == [(later, "warning", "long"), (later, "sent", "")]
    assert store.events(b.id) == [(NOW, "failed", "gone")]
    assert store.events(c.id) == [(later, "scheduled", "quiet hours")]
    assert a.client_id is not None and b.client_id is not None
    tips = {tip for client in {a.client_id, b.client_id} for tip in store.client_state(client).tips}
    assert tips == {"posture-one"}  # not the tip of the message that was no longer ours
    rows = {m.id: m for m in all_rows(store)}
    assert (rows[c.id].status, rows[c.id].next_attempt_at, rows[c.id].claimed_by) == ("scheduled", later, None)


def test_finish_of_an_unclaimed_or_finished_message_fails(store: SqlStore) -> None:
    ids = seed_due(store, 2)
    assert store.finish(ids[0], "w1", Finish(status="sent"), NOW) is False
    assert all_rows(store)[0].status == "scheduled"
    claimed = store.claim_due(NOW, 2, "w1")
    assert store.finish(claimed[1].id, "w1", Finish(status="sent"), NOW) is True
    assert store.finish(claimed[1].id, "w1", Finish(status="failed"), NOW) is False
    assert all_rows(store)[1].status == "sent"


def test_finish_sent_with_a_tip_records_the_tip(store: SqlStore) -> None:
    seed_due(store, 2)
    first, second = store.claim_due(NOW, 2, "w1")
    assert store.finish(first.id, "w1", Finish(status="sent", tip_id="posture-one"), NOW)
    assert store.finish(second.id, "w1", Finish(status="failed", tip_id="sleep-one"), NOW)
    assert first.client_id is not None
    assert store.client_state(first.client_id).tips == ["posture-one"]
    assert all_rows(store)[0].tip_id == "posture-one"


def test_finish_scheduled_requeues_at_next_attempt(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW, 1, "w1")
    retry = NOW + timedelta(minutes=15)
    assert store.finish(m.id, "w1", Finish(status="scheduled", next_attempt_at=retry, attempted=True), NOW)
    got = all_rows(store)[0]
    assert (got.status, got.next_attempt_at, got.claimed_by) == ("scheduled", retry, None)
    assert got.due_at == m.due_at
    assert store.claim_due(retry - timedelta(seconds=1), 10, "w2") == []
    (again,) = store.claim_due(retry, 10, "w2")
    assert (again.id, again.claimed_by, again.attempts) == (m.id, "w2", 1)


# --- 7. stale and take_over ---------------------------------------------------------------


def test_stale_lists_old_sending_and_unknown_rows(store: SqlStore) -> None:
    client_id = add_client(store)
    dues = {
        "old": NOW - timedelta(hours=2),
        "sent": NOW - timedelta(minutes=90),
        "fresh": NOW - timedelta(minutes=3),
        "unknown": NOW,
    }
    store.apply_plan(client_id, plan(*(planned(key, due) for key, due in dues.items())), NOW - timedelta(hours=3))
    lease = timedelta(minutes=10)
    old = claim_one(store, "old", "w1", now=dues["old"])
    sent = claim_one(store, "sent", "w4", now=dues["sent"])
    store.finish(sent.id, "w4", Finish(status="sent"), dues["sent"])
    fresh = claim_one(store, "fresh", "w2", now=dues["fresh"])
    unknown = claim_one(store, "unknown", "w3", now=dues["unknown"])
    store.finish(unknown.id, "w3", Finish(status="unknown", attempted=True), NOW)
    stale = store.stale(NOW, lease)
    assert sorted(m.id for m in stale) == sorted([old.id, unknown.id])
    by_id = {m.id: m for m in stale}
    assert by_id[unknown.id].claimed_by == "w3"  # unknown keeps who tried
    assert by_id[old.id].status == "sending"
    # The lease boundary: claimed exactly `lease` ago is not stale yet.
    assert old.claimed_at is not None
    assert sorted(m.id for m in store.stale(old.claimed_at + lease, lease)) == [unknown.id]
    assert fresh.id not in {m.id for m in store.stale(NOW, lease)}


def test_take_over_of_an_unknown_row(store: SqlStore) -> None:
    seed_due(store, 2)
    unknown, scheduled = store.claim_due(NOW, 2, "w1")
    store.finish(unknown.id, "w1", Finish(status="unknown"), NOW)
    store.release([scheduled.id], "w1")
    seen = {m.id: m for m in all_rows(store)}
    assert store.take_over(seen[scheduled.id], "r1", NOW) is False
    assert store.take_over(seen[unknown.id], "r1", NOW + timedelta(minutes=1)) is True
    got = {m.id: m for m in all_rows(store)}
    assert (got[unknown.id].status, got[unknown.id].claimed_by) == ("sending", "r1")
    assert got[unknown.id].claimed_at == NOW + timedelta(minutes=1)
    assert store.finish(unknown.id, "r1", Finish(status="sent"), NOW) is True
    assert store.take_over(seen[unknown.id], "r2", NOW) is False


def test_take_over_lets_only_one_of_two_callers_win(store: SqlStore) -> None:
    seed_due(store, 1)
    (m,) = store.claim_due(NOW - timedelta(hours=1), 1, "crashed")
    lease = timedelta(minutes=10)
    seen_by_r1 = store.stale(NOW, lease)
    seen_by_r2 = store.stale(NOW, lease)
    assert [s.id for s in seen_by_r1] == [s.id for s in seen_by_r2] == [m.id]
    wins = [store.take_over(seen_by_r1[0], "r1", NOW), store.take_over(seen_by_r2[0], "r2", NOW)]
    assert wins == [True, False]
    assert all_rows(store)[0].claimed_by == "r1"


# --- 8. reading ---------------------------------------------------------------------------


def test_messages_filters(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    t = NOW - timedelta(hours=3)
    store.apply_plan(a, plan(*(planned(f"a{i}", t + timedelta(hours=i), client="a") for i in range(4))), NOW)
    store.apply_plan(b, plan(planned("b0", t + timedelta(minutes=30), client="b")), NOW)
    claimed = claim_one(store, "a1")
    store.finish(claimed.id, "w1", Finish(status="sent"), NOW)

    def keys(**query: Any) -> list[str]:
        return [m.key for m in store.messages(MessageQuery(**query))]

    assert keys() == ["a0", "b0", "a1", "a2", "a3"]
    assert keys(client_external_id="a") == ["a0", "a1", "a2", "a3"]
    assert keys(client_external_id="b") == ["b0"]
    assert keys(client_external_id="nobody") == []
    assert keys(statuses=["sent"]) == ["a1"]
    assert keys(statuses=["scheduled", "sent"], client_external_id="a") == ["a0", "a1", "a2", "a3"]
    assert keys(statuses=["failed"]) == []
    # due_after is inclusive, due_before exclusive.
    assert keys(due_after=t + timedelta(hours=1)) == ["a1", "a2", "a3"]
    assert keys(due_before=t + timedelta(hours=1)) == ["a0", "b0"]
    assert keys(due_after=t + timedelta(minutes=30), due_before=t + timedelta(hours=2)) == ["b0", "a1"]
    assert keys(limit=2) == ["a0", "b0"]
    assert keys(order="id") == ["a0", "a1", "a2", "a3", "b0"]
    assert keys(order="id", limit=1, statuses=["scheduled"], client_external_id="b") == ["b0"]


def test_counts_by_status(store: SqlStore) -> None:
    assert store.counts() == {}
    seed_due(store, 5)
    claimed = store.claim_due(NOW, 100, "w1")
    store.finish(claimed[0].id, "w1", Finish(status="sent"), NOW)
    store.finish(claimed[1].id, "w1", Finish(status="failed", error="bad number"), NOW)
    store.release([m.id for m in claimed[3:]], "w1")
    assert store.counts() == {"scheduled": 2, "sending": 1, "sent": 1, "failed": 1}


def test_next_due(store: SqlStore) -> None:
    assert store.next_due() is None
    client_id = add_client(store)
    soon = NOW + timedelta(minutes=10)
    later = NOW + timedelta(hours=2)
    store.apply_plan(client_id, plan(planned("soon", soon), planned("later", later)), NOW)
    assert store.next_due() == soon
    due = store.next_due()
    assert due is not None and due.tzinfo is not None
    m = claim_one(store, "soon", now=soon)
    assert store.next_due() == later  # sending is not due
    unknown_retry = NOW + timedelta(minutes=30)
    store.finish(m.id, "w1", Finish(status="unknown", next_attempt_at=unknown_retry), soon)
    assert store.next_due() == unknown_retry  # an unknown outcome is due for reconciling


def test_booked_sessions_ended_and_next_session_end(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    for sid, client_id, start, status in (
        ("past-booked", a, NOW - timedelta(hours=2), "booked"),
        ("ends-now", b, NOW - timedelta(hours=1), "booked"),
        ("past-done", a, NOW - timedelta(days=1), "completed"),
        ("future", a, NOW + timedelta(hours=2), "booked"),
        ("future-cancelled", b, NOW + timedelta(minutes=10), "cancelled"),
        ("far", b, NOW + timedelta(days=2), "booked"),
    ):
        client = store.client_external_id(client_id)
        store.upsert_session(make_session(sid, client, start, status=status), client_id, NOW)
    assert sorted(store.booked_sessions_ended(NOW)) == [("ends-now", b), ("past-booked", a)]
    assert store.booked_sessions_ended(NOW - timedelta(days=2)) == []
    assert store.next_session_end(NOW) == NOW + timedelta(hours=3)
    assert store.next_session_end(NOW + timedelta(hours=3)) == NOW + timedelta(days=2, hours=1)
    assert store.next_session_end(NOW + timedelta(days=3)) is None


def test_copy_into_a_fresh_memory_store(store: SqlStore) -> None:
    from followup.wiring import memory_store

    client_id = add_client(store, consent=Consent(sms_marketing=True))
    store.upsert_session(make_session("s1", focus_areas=("lower_back",)), client_id, NOW)
    store.apply_plan(client_id, plan(planned("a", session="s1"), planned("b", NOW + timedelta(days=1))), NOW)
    m = claim_one(store, "a")
    store.finish(m.id, "w1", Finish(status="sent", tip_id="tip-a", body="Hi", attempted=True), NOW)
    store.suppress("+13055550199", "sms", "all", NOW, source="keyword", detail="STOP")
    store.record_booking_refresh(NOW, "import clients.csv")
    counts = store.table_counts()
    assert all(n > 0 for n in counts.values()), counts

    memory = memory_store()
    try:
        store.copy_into(memory)
        assert memory.table_counts() == counts
        assert memory.messages(MessageQuery(order="id")) == all_rows(store)
        assert memory.client_state(client_id) == store.client_state(client_id)
        assert memory.events(m.id) == store.events(m.id)
        assert memory.next_due() == store.next_due()
    finally:
        memory.close()


def test_suppression_list_holds_every_client_on_the_address(store: SqlStore) -> None:
    """An opt-out belongs to the number or email: everyone on it now, and later, is held to it."""
    a = add_client(store, "a", phone="+13055550141", consent=Consent(sms_marketing=True))
    b = add_client(store, "b", phone="+13055550141", consent=Consent(sms_marketing=True))
    store.record_consent(a, "sms", "marketing", "opt_out", NOW, source="keyword", wording="STOP TIPS")
    assert store.suppressed(store.client_state(a).client.phone or "", "sms") == {"marketing"}
    for client_id in (a, b):
        consent = store.client_state(client_id).client.consent
        assert (consent.sms_care, consent.sms_marketing) == (True, False)
    assert store.suppress("Ana@Example.com", "email", "all", NOW, source="provider", detail="bounce") is True
    assert store.suppress("ana@example.com", "email", "all", NOW, source="provider", detail="bounce") is False
    assert store.suppressed("ANA@example.com", "email") == {"all"}
    assert store.booking_data_at() is None
    store.record_booking_refresh(NOW - timedelta(hours=2), "import a.csv")
    store.record_booking_refresh(NOW, "api")
    assert store.booking_data_at() == NOW


# --- 9. transactions ----------------------------------------------------------------------


def test_transaction_rolls_back_everything_on_error(store: SqlStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        client_id, _ = store.upsert_client(make_client("a"), NOW)
        store.upsert_session(make_session("s1", client="a"), client_id, NOW)
        store.upsert_client(make_client("b"), NOW)
        assert store.find_client_id(external_id="b") is not None  # visible inside
        raise RuntimeError("boom")
    assert store.client_ids() == []
    assert store.find_client_id(external_id="a") is None
    assert store.table_counts()["sessions"] == 0
    # The store is usable afterwards, outside any transaction.
    assert store.upsert_client(make_client("a"), NOW)[1] == "created"


def test_transaction_commits_on_success(store: SqlStore) -> None:
    with store.transaction():
        a, _ = store.upsert_client(make_client("a"), NOW)
        b, _ = store.upsert_client(make_client("b"), NOW)
    assert store.client_ids() == sorted([a, b])
    assert store.find_client_id(external_id="b") == b


# --- 10. the duplicate guard's query and warning events -----------------------------------


def test_recent_bodies_lists_what_may_have_reached_the_client(store: SqlStore) -> None:
    """Sent, unconfirmed and unknown count, on that channel, since the cut-off, but not the
    asking message itself, nor what was never sent, nor other clients' messages."""
    a = add_client(store, "a")
    b = add_client(store, "b")
    t = NOW - timedelta(hours=30)
    keys = ["old", "sent", "unconfirmed", "unknown", "failed", "email", "asking", "waiting"]
    until = NOW + timedelta(hours=6)
    items = (planned(k, t + timedelta(minutes=i), client="a", expires=until) for i, k in enumerate(keys))
    store.apply_plan(a, plan(*items), NOW)
    store.apply_plan(b, plan(planned("other", t, client="b", expires=until)), NOW)
    outcomes = {
        "old": (NOW - timedelta(hours=25), Finish(status="sent", sent_channel="sms", body="Hi")),
        "sent": (NOW - timedelta(hours=23), Finish(status="sent", sent_channel="sms", body="Hi")),
        "unconfirmed": (NOW - timedelta(hours=2), Finish(status="unconfirmed", sent_channel="sms", body="Hey")),
        "unknown": (NOW - timedelta(hours=1), Finish(status="unknown", sent_channel="sms", body="Yo")),
        "failed": (NOW - timedelta(hours=1), Finish(status="failed", sent_channel="sms", body="Hi")),
        "email": (NOW - timedelta(hours=1), Finish(status="sent", sent_channel="email", body="Hi")),
        "asking": (NOW - timedelta(hours=1), Finish(status="sent", sent_channel="sms", body="Hi")),
        "other": (NOW - timedelta(hours=1), Finish(status="sent", sent_channel="sms", body="Hi")),
    }
    for key, (at, outcome) in outcomes.items():
        m = claim_one(store, key, now=NOW)
        assert store.finish(m.id, "w1", outcome, at)
    ids = {m.key: m.id for m in all_rows(store)}
    since = NOW - timedelta(hours=24)
    got = store.recent_bodies(a, "sms", since, exclude=ids["asking"])
    assert got == [(ids["sent"], "Hi"), (ids["unconfirmed"], "Hey"), (ids["unknown"], "Yo")]
    assert store.recent_bodies(a, "email", since, exclude=ids["asking"]) == [(ids["email"], "Hi")]
    assert store.recent_bodies(b, "sms", since, exclude=0) == [(ids["other"], "Hi")]
    # The cut-off is inclusive, and counts the send time, not when the message was due.
    assert store.recent_bodies(a, "sms", NOW - timedelta(hours=25), exclude=ids["asking"])[0] == (ids["old"], "Hi")
    assert store.recent_bodies(a, "sms", NOW, exclude=ids["asking"]) == []


def test_finish_with_a_warning_records_it_before_the_outcome(store: SqlStore) -> None:
    seed_due(store, 2)
    first, second = store.claim_due(NOW, 2, "w1")
    warning = "4 SMS segments (612 GSM-7 units), over the limit of 3 ([sms] max_segments)"
    assert store.finish(first.id, "w1", Finish(status="sent", provider_id="SM1", warning=warning), NOW)
    assert store.events(first.id) == [(NOW, "warning", warning), (NOW, "sent", "SM1")]
    outcome = Finish(status="suppressed", reason="over segment limit", warning=warning)
    assert store.finish(second.id, "w1", outcome, NOW)
    assert store.events(second.id) == [(NOW, "warning", warning), (NOW, "suppressed", "over segment limit")]
    assert all_rows(store)[1].status_reason == "over segment limit"


# --- messages to the clinic/owner (no client) ----------------------------------------------


def clinic_message(key: str = "clinic/reply_forward/SM1") -> ClinicMessage:
    return ClinicMessage(
        key=key,
        campaign=REPLY_FORWARD,
        step="reply",
        to="frontdesk@example.com",
        subject="Text from Maria",
        text="Maria replied by text",
        due_at=NOW,
        expires_at=NOW + timedelta(days=7),
    )


def test_a_message_to_the_clinic_is_queued_once_by_its_key(store: SqlStore) -> None:
    first = store.enqueue_to_clinic(clinic_message(), NOW)
    assert first is not None
    assert store.enqueue_to_clinic(clinic_message(), LATER) is None
    (row,) = all_rows(store)
    assert (row.id, row.client_id, row.client_external_id, row.to_address) == (
        first,
        None,
        CLINIC,
        "frontdesk@example.com",
    )
    assert (row.status, row.channel, row.subject, row.body) == (
        "scheduled",
        "email",
        "Text from Maria",
        "Maria replied by text",
    )
    assert row.next_attempt_at == NOW and row.expires_at == NOW + timedelta(days=7)
    assert [kind for _, kind, _ in store.events(first)] == ["scheduled"]


def test_a_message_to_the_clinic_is_claimed_finished_and_left_alone_by_client_queries(store: SqlStore) -> None:
    ids = seed_due(store, 1)
    cid = store.find_client_id(external_id="c1")
    assert cid is not None
    clinic_id = store.enqueue_to_clinic(clinic_message(), NOW)
    assert {m.id for m in store.claim_due(NOW, 10, "w1")} == {ids[0], clinic_id}
    assert clinic_id is not None
    assert store.finish(clinic_id, "w1", Finish(status="sent", sent_channel="email", body="x"), NOW)
    # Not this client's: its messages, traffic and bodies; replanning never cancels it.
    assert [m.id for m in store.messages(MessageQuery(client_external_id="c1"))] == ids
    assert store.traffic(cid, NOW, exclude=0).sent == ()
    assert store.recent_bodies(cid, "email", NOW - timedelta(days=1), exclude=0) == []
    store.apply_plan(cid, plan(), NOW)
    assert all_rows(store)[-1].status == "sent"
    assert store.advance_delivery_status(clinic_id, "delivered", {"delivered": 4}, NOW) is None


def test_message_pages_read_every_row_once_in_the_order_of_messages(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    same_due = NOW + timedelta(hours=1)  # ties on due_at: the page boundary falls inside them
    items_a = [planned(f"a{i}", same_due if i % 2 else NOW + timedelta(minutes=i), client="a") for i in range(7)]
    items_b = [planned(f"b{i}", same_due, client="b") for i in range(4)]
    store.apply_plan(a, plan(*items_a), NOW)
    store.apply_plan(b, plan(*items_b), NOW)
    for query in (MessageQuery(order="due"), MessageQuery(order="id")):
        whole = [m.key for m in store.messages(query)]
        pages = list(store.message_pages(query, page=3))
        assert [len(p) for p in pages] == [3, 3, 3, 2]
        assert [m.key for p in pages for m in p] == whole
        assert store.count_messages(query) == 11
    limited = MessageQuery(limit=5)
    assert [m.key for p in store.message_pages(limited, page=2) for m in p] == [m.key for m in store.messages(limited)]
    assert store.count_messages(limited) == 5
    only_b = MessageQuery(client_external_id="b", due_before=NOW + timedelta(days=1))
    assert store.count_messages(only_b) == 4
    assert [m.key for p in store.message_pages(only_b) for m in p] == ["b0", "b1", "b2", "b3"]
    assert list(store.message_pages(MessageQuery(client_external_id="nobody"))) == []
    with pytest.raises(ValueError, match="page"):
        next(store.message_pages(MessageQuery(), page=0))


def test_client_zones_reads_the_zone_of_each_id_given(store: SqlStore) -> None:
    a = add_client(store, "a", timezone="America/Chicago")
    b = add_client(store, "b")
    assert store.client_zones([a, b, a, 999_999]) == {a: "America/Chicago", b: make_client("b").timezone}
    assert store.client_zones([]) == {}


def test_complete_ended_sessions_marks_only_booked_sessions_that_ended(store: SqlStore) -> None:
    a = add_client(store, "a")
    b = add_client(store, "b")
    for sid, client_id, start, status in (
        ("a-ended", a, NOW - timedelta(hours=2), "booked"),
        ("a-ended-too", a, NOW - timedelta(hours=3), "booked"),
        ("b-ends-now", b, NOW - timedelta(hours=1), "booked"),
        ("b-cancelled", b, NOW - timedelta(hours=4), "cancelled"),
        ("a-future", a, NOW + timedelta(hours=2), "booked"),
    ):
        store.upsert_session(
            make_session(sid, store.client_external_id(client_id), start, status=status), client_id, NOW
        )
    assert store.complete_ended_sessions(NOW, LATER) == sorted([a, b])
    statuses = {s.external_id: s.status for s in store.client_state(a).sessions + store.client_state(b).sessions}
    assert statuses == {
        "a-ended": "completed",
        "a-ended-too": "completed",
        "b-ends-now": "completed",
        "b-cancelled": "cancelled",
        "a-future": "booked",
    }
    assert store.complete_ended_sessions(NOW, LATER) == []
    assert store.next_session_end(NOW) == NOW + timedelta(hours=3)
