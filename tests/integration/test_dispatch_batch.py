"""Batched dispatch (issue 12, item 3): a claimed batch is read at once and, on channels that allow
it, recorded at once; caps and the duplicate guard still see every message of the batch."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from followup.channels.base import Outgoing, Sent
from followup.core.rules import Caps, SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.store.port import MessageQuery, MessageRow
from followup.testing import InMemoryChannel
from tests.conftest import ClinicFactory
from tests.integration.test_dispatch import T0, Rig, at, build_rig, second_visit

SAME_DAY = (T0 + timedelta(hours=2), T0 + timedelta(hours=4))  # two more visits ending then


def claims_counted(rig: Rig) -> list[int]:
    """How many messages each claim took (to prove the messages came in one batch)."""
    sizes: list[int] = []
    real = rig.store.claim_due

    def counting(now: Any, limit: int, worker: str) -> list[MessageRow]:
        got = real(now, limit, worker)
        sizes.append(len(got))
        return got

    rig.store.claim_due = counting  # type: ignore[method-assign]
    return sizes


def thanks(rig: Rig) -> list[MessageRow]:
    return sorted((m for m in rig.store.messages(MessageQuery()) if m.step == "thanks"), key=lambda m: m.id)


def test_the_duplicate_guard_sees_a_message_sent_earlier_in_the_same_batch(
    db_url: str, make_clinic: ClinicFactory
) -> None:
    """Two visits the same day, both thanks texts due when the dispatcher runs: one batch, one
    text; the other is the duplicate of the first, as if they had come in two batches."""
    rig = build_rig(db_url, make_clinic)
    try:
        rig.add_client("c1", T0)
        second_visit(rig, "s-c1-pm", end=SAME_DAY[0])
        replan_all(rig.store, rig.clinic, T0)
        sizes = claims_counted(rig)
        at(rig, T0 + timedelta(hours=4))
        stats = rig.dispatcher.run_once()
        assert sizes[0] == 2  # both in one batch
        assert (stats["sent"], stats["suppressed"]) == (1, 1)
        assert len(rig.sms.sent) == 1
        first, second = thanks(rig)
        assert first.status == "sent"
        assert (second.status, second.status_reason) == ("suppressed", "duplicate")
        assert second.error is not None and f"message {first.id}" in second.error
    finally:
        rig.store.close()


def test_the_daily_cap_counts_messages_sent_earlier_in_the_same_batch(db_url: str, make_clinic: ClinicFactory) -> None:
    """Three visits the same day, three thanks texts due at once, a cap of two a day: two go,
    the third waits until the first leaves the 24-hour window."""
    rig = build_rig(db_url, make_clinic)
    try:
        rig.dispatcher = Dispatcher(
            rig.store,
            rig.clinic,
            {"sms": rig.sms, "email": rig.email},
            rig.clock,
            worker="w1",
            window=SendWindow(),
            rng=random.Random(7),
            caps=Caps(any_per_day=2, marketing_per_day=1),
            duplicate_window=timedelta(0),  # the texts are identical: only the cap may hold one
        )
        rig.add_client("c1", T0)
        for n, end in enumerate(SAME_DAY):
            second_visit(rig, f"s-c1-{n}", end=end)
        replan_all(rig.store, rig.clinic, T0)
        sizes = claims_counted(rig)
        moment = T0 + timedelta(hours=6)  # the third visit ended at T0+4h: its thanks is due
        at(rig, moment)
        stats = rig.dispatcher.run_once()
        assert sizes[0] == 3  # all three in one batch
        assert (stats["sent"], stats["deferred"]) == (2, 1)
        assert len(rig.sms.sent) == 2
        held = [m for m in thanks(rig) if m.status == "scheduled"]
        assert len(held) == 1
        assert held[0].status_reason == "daily cap (2 per 24 h)"
        assert held[0].next_attempt_at == moment + timedelta(hours=24)  # when the first send is a day old
    finally:
        rig.store.close()


def test_a_dry_run_batch_is_recorded_in_one_transaction(db_url: str, make_clinic: ClinicFactory) -> None:
    rig = build_rig(db_url, make_clinic)
    try:
        for n in range(12):
            rig.add_client(f"c{n}", T0, phone=f"+130555502{n:02d}")
        replan_all(rig.store, rig.clinic, T0)
        commits: list[None] = []

        def on_commit(_conn: Any) -> None:
            commits.append(None)

        event.listen(rig.store.engine, "commit", on_commit)
        at(rig, T0 + timedelta(hours=2))
        stats = rig.dispatcher.run_once()
        event.remove(rig.store.engine, "commit", on_commit)
        assert stats["sent"] == 12 and len(rig.sms.sent) == 12
        # reconcile's read, claim + read of the batch, the send-pause read, the outcomes, the
        # empty claim: a handful, however many messages the batch holds (was 3 per message).
        assert len(commits) <= 6, len(commits)
        for row in thanks(rig):
            assert row.status == "sent"
            assert [kind for _, kind, _ in rig.store.events(row.id)] == ["sent"]
    finally:
        rig.store.close()


class LiveLike(InMemoryChannel):
    """A channel whose outcomes must be stored one by one (as Twilio's and SMTP's are); it
    notes, at each send, what the store says of the messages sent before."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(name="sms")
        self.outcomes_in_batches = False
        self.rig = rig
        self.seen: list[list[str]] = []

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        earlier = {m.key for m in self.sent}
        self.seen.append([m.status for m in self.rig.store.messages(MessageQuery()) if m.key in earlier])
        return super().transmit(message, payload)


def test_a_live_channel_records_each_outcome_before_the_next_send(db_url: str, make_clinic: ClinicFactory) -> None:
    rig = build_rig(db_url, make_clinic)
    try:
        for n in range(4):
            rig.add_client(f"c{n}", T0, phone=f"+130555503{n:02d}")
        replan_all(rig.store, rig.clinic, T0)
        live = LiveLike(rig)
        rig.dispatcher.channels = {"sms": live, "email": rig.email}
        sizes = claims_counted(rig)
        at(rig, T0 + timedelta(hours=2))
        assert rig.dispatcher.run_once()["sent"] == 4
        assert sizes[0] == 4
        assert live.seen == [[], ["sent"], ["sent", "sent"], ["sent", "sent", "sent"]]
    finally:
        rig.store.close()


def test_the_quick_segment_count_agrees_with_analyse() -> None:
    from followup.core.sms_encoding import analyse
    from followup.engine.dispatch import basic_segments

    for length in (0, 1, 159, 160, 161, 305, 306, 307, 459, 460, 612):
        text = ("Hi Maria, stretch. " * 40)[:length]
        assert basic_segments(text) == analyse(text).segments, length
    assert basic_segments("{" * 10) is None and basic_segments("café ☕") is None


class StopsTheNext(LiveLike):
    """While the first text goes out, the next client texts STOP (the web app records it)."""

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        if not self.sent:
            other = self.rig.store.find_client_id(external_id="c1")
            assert other is not None
            self.rig.store.record_opt_out(other, "sms", self.rig.clock.now(), source="keyword", detail="STOP")
        return super().transmit(message, payload)


def test_with_a_live_channel_a_stop_during_the_batch_holds_the_next_text(
    db_url: str, make_clinic: ClinicFactory
) -> None:
    rig = build_rig(db_url, make_clinic)
    try:
        rig.add_client("c0", T0, phone="+13055550300", email=None)
        rig.add_client("c1", T0, phone="+13055550301", email=None)
        replan_all(rig.store, rig.clinic, T0)
        live = StopsTheNext(rig)
        rig.dispatcher.channels = {"sms": live, "email": rig.email}
        sizes = claims_counted(rig)
        at(rig, T0 + timedelta(hours=2))
        stats = rig.dispatcher.run_once()
        assert sizes[0] == 2
        assert [m.client_external_id for m in live.sent] == ["c0"]
        assert (stats["sent"], stats["suppressed"]) == (1, 1)
        held = {m.client_external_id: m for m in thanks(rig)}["c1"]
        assert held.status == "suppressed" and "no consent" in (held.status_reason or "")
    finally:
        rig.store.close()
