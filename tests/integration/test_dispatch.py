"""The dispatcher against a real database (SQLite and PostgreSQL) and the in-memory channel fakes."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from followup.channels.base import Outgoing, Sent
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import Client, Consent, Session
from followup.core.durations import parse_offset
from followup.core.rules import SendWindow
from followup.engine.dispatch import Backoff, Dispatcher
from followup.engine.planning import replan_all
from followup.exceptions import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from followup.store.port import MessageQuery, MessageRow
from followup.store.sql import SqlStore
from followup.testing import FixedClock, InMemoryChannel
from followup.timeutil import zone
from tests.conftest import ClinicFactory

NY = zone("America/New_York")
T0 = datetime(2026, 12, 3, 13, 0, tzinfo=NY)  # a session ends at 13:00; "thanks" is due at 15:00

CAMPAIGNS = """\
post_session:
  description: Thanks after a session.
  purpose: care
  trigger: session_completed
  steps:
    - name: thanks
      offset: 2h
      channel: sms
      template: thanks
      expires_after: 6h
      fallback_to_email: true
    - name: tip
      offset: 1d at 10:00
      channel: sms
      template: tip_text
      tip:
        categories: [posture]
      expires_after: 1d
nudge:
  description: Come back.
  purpose: marketing
  trigger: {type: no_rebook, days: 14}
  steps:
    - offset: 0d at 11:00
      channel: email
      template: thanks
      expires_after: 2d
"""
TIPS = """\
focus_areas:
  neck_shoulders: Neck & shoulders
categories:
  posture: Posture
tips:
  - {id: p1, category: posture, title: One, sms: "Tip one."}
  - {id: p2, category: posture, title: Two, sms: "Tip two."}
"""


@dataclass
class Rig:
    store: SqlStore
    clinic: ClinicConfig
    clock: FixedClock
    sms: InMemoryChannel
    email: InMemoryChannel
    dispatcher: Dispatcher

    def message(self, step: str = "thanks") -> MessageRow:
        (row,) = [m for m in self.store.messages(MessageQuery()) if m.step == step]
        return row

    def add_client(self, cid: str, end: datetime, **client: object) -> None:
        data: dict[str, object] = {
            "first_name": "Maria",
            "phone": "+13055550101",
            "email": "m@example.com",
            "consent": Consent(sms_marketing=True),
        } | client
        client_id, _ = self.store.upsert_client(Client(external_id=cid, **data), self.clock.now())  # type: ignore[arg-type]
        self.store.upsert_session(
            Session(
                external_id=f"s-{cid}",
                client_external_id=cid,
                start=end - timedelta(hours=1),
                end=end,
                service="NMT 60",
                status="completed",
            ),
            client_id,
            self.clock.now(),
        )


@pytest.fixture
def rig(db_url: str, make_clinic: ClinicFactory) -> Iterator[Rig]:
    config, templates = make_clinic(campaigns=CAMPAIGNS, tips=TIPS)
    clinic = load_clinic(config, templates, env_file=None)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    clock = FixedClock(T0)
    sms, email = InMemoryChannel("sms"), InMemoryChannel("email")
    dispatcher = Dispatcher(
        store,
        clinic,
        {"sms": sms, "email": email},
        clock,
        worker="w1",
        window=SendWindow(),
        rng=random.Random(7),
        lease=timedelta(minutes=5),
    )
    r = Rig(store, clinic, clock, sms, email, dispatcher)
    r.add_client("c1", T0)
    replan_all(store, clinic, T0)
    yield r
    store.close()


def at(rig: Rig, moment: datetime) -> None:
    rig.clock.set(moment)


def test_sends_once_at_due_time_and_records_what_was_sent(rig: Rig) -> None:
    at(rig, T0 + timedelta(hours=1, minutes=59))
    assert rig.dispatcher.run_once()["sent"] == 0 and rig.sms.sent == []
    at(rig, T0 + timedelta(hours=2))
    assert rig.dispatcher.run_once()["sent"] == 1
    assert rig.dispatcher.run_once()["sent"] == 0
    (out,) = rig.sms.sent
    assert out.to == "+13055550101" and out.sms == "Hi Maria, thanks for your NMT 60."
    row = rig.message()
    assert (row.status, row.sent_channel, row.body, row.attempts) == ("sent", "sms", out.sms, 1)
    assert [kind for _, kind, _ in rig.store.events(row.id)] == ["sent"]


def test_transient_failures_retry_with_bounded_backoff_then_send_once(rig: Rig) -> None:
    rig.sms.fail(TransientDeliveryError("HTTP 500"), times=3)
    moment = T0 + timedelta(hours=2)
    waits = []
    for _ in range(3):
        at(rig, moment)
        assert rig.dispatcher.run_once()["retry"] == 1
        row = rig.message()
        assert row.status == "scheduled" and row.error == "HTTP 500"
        waits.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at
    for attempt, wait in enumerate(waits, start=1):
        ceiling = Backoff().base * 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling, (attempt, wait)
    at(rig, moment)
    assert rig.dispatcher.run_once()["sent"] == 1
    assert len(rig.sms.sent) == 1 and rig.sms.attempts == 4
    assert rig.message().attempts == 4


def test_outage_until_expiry_expires_and_never_sends(rig: Rig) -> None:
    rig.sms.fail(TransientDeliveryError("HTTP 503"), times=1000)
    moment = T0 + timedelta(hours=2)
    for _ in range(50):
        at(rig, moment)
        rig.dispatcher.run_once()
        row = rig.message()
        if row.status != "scheduled":
            break
        moment = row.next_attempt_at
    assert row.status == "expired" and rig.sms.sent == []
    assert rig.sms.attempts >= 4  # it kept trying, with backoff, until it was too late


def test_permanent_sms_failure_falls_back_to_email_once(rig: Rig) -> None:
    rig.sms.fail(PermanentDeliveryError("21614 not a mobile number", code="21614"))
    at(rig, T0 + timedelta(hours=2))
    stats = rig.dispatcher.run_once()
    assert stats["fallback"] == 1 and stats["sent"] == 1
    (mail,) = rig.email.sent
    assert mail.to == "m@example.com" and mail.email is not None and mail.email.subject == "Thank you, Maria"
    row = rig.message()
    assert (row.status, row.sent_channel, row.fell_back) == ("sent", "email", True)


def test_permanent_failure_without_fallback_fails_without_retry(rig: Rig) -> None:
    rig.store.upsert_client(
        Client(external_id="c1", first_name="Maria", phone="+13055550101", email=None), rig.clock.now()
    )
    rig.sms.fail(PermanentDeliveryError("21211 invalid number", code="21211"))
    at(rig, T0 + timedelta(hours=2))
    assert rig.dispatcher.run_once()["failed"] == 1
    at(rig, T0 + timedelta(hours=3))
    assert rig.dispatcher.run_once()["claimed"] == 0
    assert rig.message().status == "failed" and rig.sms.attempts == 1


def test_unknown_outcome_is_reconciled_not_resent_when_provider_has_it(rig: Rig) -> None:
    class LostAnswer(InMemoryChannel):
        """Accepts the message, then the connection drops before the answer."""

        def transmit(self, message: Outgoing, payload: object) -> Sent:
            super().transmit(message, payload)
            raise UnknownOutcomeError("read timeout after request was sent")

    lossy = LostAnswer("sms")
    rig.dispatcher.channels = {"sms": lossy, "email": rig.email}
    at(rig, T0 + timedelta(hours=2))
    assert rig.dispatcher.run_once()["unknown"] == 1
    assert rig.message().status == "unknown"
    at(rig, T0 + timedelta(hours=2, minutes=2))
    stats = rig.dispatcher.run_once()
    assert stats["reconciled_sent"] == 1
    assert len(lossy.sent) == 1 and lossy.attempts == 1  # asked, never resent
    assert rig.message().status == "sent"


def test_unknown_outcome_retried_when_provider_never_got_it(rig: Rig) -> None:
    rig.sms.fail(UnknownOutcomeError("connection reset"))
    at(rig, T0 + timedelta(hours=2))
    assert rig.dispatcher.run_once()["unknown"] == 1
    at(rig, T0 + timedelta(hours=2, minutes=2))
    stats = rig.dispatcher.run_once()
    assert stats["reconciled_retry"] == 1 and stats["sent"] == 1
    assert len(rig.sms.sent) == 1


def test_dead_worker_claim_is_reconciled_after_the_lease(rig: Rig) -> None:
    at(rig, T0 + timedelta(hours=2))
    claimed = rig.store.claim_due(rig.clock.now(), 10, "dead-worker")
    assert [m.step for m in claimed] == ["thanks"]
    assert rig.dispatcher.run_once()["sent"] == 0  # still leased to the dead worker
    at(rig, T0 + timedelta(hours=2, minutes=6))
    stats = rig.dispatcher.run_once()
    assert stats["reconciled_retry"] == 1 and stats["sent"] == 1 and len(rig.sms.sent) == 1


def test_stop_finishes_the_message_in_hand_and_releases_the_rest(rig: Rig) -> None:
    for n in range(2, 6):
        rig.add_client(f"c{n}", T0, phone=f"+1305555010{n}")
    replan_all(rig.store, rig.clinic, T0)
    original = rig.sms.transmit

    def stop_after_first(message: Outgoing, payload: object) -> Sent:
        rig.dispatcher.stop.set()
        return original(message, payload)

    rig.sms.transmit = stop_after_first  # type: ignore[method-assign]
    at(rig, T0 + timedelta(hours=2))
    stats = rig.dispatcher.run_once()
    assert stats["sent"] == 1 and len(rig.sms.sent) == 1
    statuses = sorted(m.status for m in rig.store.messages(MessageQuery()) if m.step == "thanks")
    assert statuses == ["scheduled", "scheduled", "scheduled", "scheduled", "sent"]


def test_rebooking_cancels_the_nudge_at_send_time(rig: Rig) -> None:
    later = T0 + timedelta(days=14, hours=1)
    at(rig, later)
    replan_all(rig.store, rig.clinic, later)
    client_id = rig.store.find_client_id(external_id="c1")
    assert client_id is not None
    rig.store.upsert_session(
        Session(
            external_id="s-new",
            client_external_id="c1",
            start=later + timedelta(days=2),
            end=later + timedelta(days=2, hours=1),
            service="NMT",
            status="booked",
        ),
        client_id,
        later,
    )
    at(rig, datetime(2026, 12, 17, 11, 0, tzinfo=NY))
    rig.dispatcher.run_once()
    nudge = rig.message("step1")
    assert nudge.status == "cancelled" and nudge.status_reason == "rebooked (session s-new)"
    assert rig.email.sent == []


def test_tips_are_not_repeated_until_the_category_is_exhausted(rig: Rig) -> None:
    for n, day in enumerate((3, 5, 7), start=2):
        end = T0 + timedelta(days=day)
        at(rig, end)
        client_id = rig.store.find_client_id(external_id="c1")
        assert client_id is not None
        rig.store.upsert_session(
            Session(
                external_id=f"s{n}",
                client_external_id="c1",
                start=end - timedelta(hours=1),
                end=end,
                service="NMT 60",
                status="completed",
            ),
            client_id,
            end,
        )
    moment = T0
    while moment < T0 + timedelta(days=10):
        at(rig, moment)
        replan_all(rig.store, rig.clinic, moment)
        rig.dispatcher.run_once()
        moment += timedelta(hours=1)
    tips = [m.sms for m in rig.sms.sent if m.step == "tip"]
    first, second = tips[0], tips[1]
    assert first != second and tips == [first, second, first, second]
    assert {first, second} == {"Maria: Tip one.", "Maria: Tip two."}
    client_id = rig.store.find_client_id(external_id="c1")
    assert client_id is not None
    assert len(rig.store.client_state(client_id).tips) == 4


def test_outbox_survives_a_new_dispatcher(rig: Rig, tmp_path: Path) -> None:
    """Restart: a new dispatcher (new worker id) sends what is due and expires what is too late."""
    rig.add_client("c2", T0 - timedelta(hours=10), phone="+13055550102")
    replan_all(rig.store, rig.clinic, T0 - timedelta(hours=8))
    fresh = Dispatcher(
        rig.store,
        rig.clinic,
        {"sms": rig.sms, "email": rig.email},
        rig.clock,
        worker="w2",
        window=SendWindow(),
        rng=random.Random(1),
    )
    at(rig, T0 + timedelta(hours=2))
    stats = fresh.run_once()
    assert stats["sent"] == 1 and stats["expired"] == 1
    assert [m.client_external_id for m in rig.sms.sent] == ["c1"]


def test_editing_a_campaign_replans_unsent_messages(rig: Rig) -> None:
    before = rig.message()
    assert before.due_at == T0 + timedelta(hours=2)
    post = rig.clinic.campaigns["post_session"]
    steps = list(post.steps)
    steps[0] = steps[0].model_copy(update={"offset": parse_offset("3h")})
    rig.clinic.campaigns["post_session"] = post.model_copy(update={"steps": steps})
    changes = replan_all(rig.store, rig.clinic, T0 + timedelta(minutes=5))
    assert changes.updated == 1
    after = rig.message()
    assert after.id == before.id and after.due_at == after.next_attempt_at == T0 + timedelta(hours=3)
    at(rig, T0 + timedelta(hours=2, minutes=30))
    assert rig.dispatcher.run_once()["sent"] == 0
    at(rig, T0 + timedelta(hours=3))
    assert rig.dispatcher.run_once()["sent"] == 1


# --- issue 10: names by SMS, over-long texts, duplicates --------------------------------


def build_rig(
    db_url: str,
    make_clinic: ClinicFactory,
    *,
    campaigns: str = CAMPAIGNS,
    templates: dict[str, str | None] | None = None,
    toml: str | None = None,
) -> Rig:
    """Like the ``rig`` fixture, with other campaigns, templates or settings, and no client."""
    from tests.conftest import MINI_TOML

    config, tdir = make_clinic(campaigns=campaigns, tips=TIPS, templates=templates, toml=toml or MINI_TOML)
    clinic = load_clinic(config, tdir, env_file=None)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    clock = FixedClock(T0)
    sms, email = InMemoryChannel("sms"), InMemoryChannel("email")
    dispatcher = Dispatcher(
        store, clinic, {"sms": sms, "email": email}, clock, worker="w1", window=SendWindow(), rng=random.Random(7)
    )
    return Rig(store, clinic, clock, sms, email, dispatcher)


def events_of(rig: Rig, row: MessageRow) -> list[tuple[str, str]]:
    return [(kind, detail) for _, kind, detail in rig.store.events(row.id)]


def test_an_accented_name_is_sent_in_gsm7_at_the_same_cost(db_url: str, make_clinic: ClinicFactory) -> None:
    """The failing input of issue 10: client Zoë, session completed: the thanks text is GSM-7
    and as many segments as Zoe's."""
    from followup.core.sms_encoding import analyse

    rig = build_rig(db_url, make_clinic)
    try:
        rig.add_client("zoe-accent", T0, first_name="Zoë", phone="+13055550111")
        rig.add_client("zoe-plain", T0, first_name="Zoe", phone="+13055550112")
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        assert rig.dispatcher.run_once()["sent"] == 2
        texts = {m.client_external_id: m.sms for m in rig.sms.sent}
        assert texts["zoe-accent"] == texts["zoe-plain"] == "Hi Zoe, thanks for your NMT 60."
        accented, plain = analyse(texts["zoe-accent"] or ""), analyse(texts["zoe-plain"] or "")
        assert accented.encoding == "GSM-7" and accented.segments == plain.segments
    finally:
        rig.store.close()


LONG_TEXT = "Hi {{ client.first_name }}, " + "please stretch gently every day. " * 16 + "\n"  # ~540 chars: 4 segments


def test_an_over_long_care_text_is_sent_with_a_warning(db_url: str, make_clinic: ClinicFactory) -> None:
    rig = build_rig(db_url, make_clinic, templates={"thanks/sms.j2": LONG_TEXT})
    try:
        rig.add_client("c1", T0)
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        assert rig.dispatcher.run_once()["sent"] == 1
        assert len(rig.sms.sent) == 1
        row = rig.message()
        assert row.status == "sent"
        (warning, sent) = events_of(rig, row)
        assert warning[0] == "warning" and "4 SMS segments" in warning[1] and "over the limit of 3" in warning[1]
        assert sent[0] == "sent"
    finally:
        rig.store.close()


def test_an_over_long_marketing_text_is_suppressed(db_url: str, make_clinic: ClinicFactory) -> None:
    marketing = CAMPAIGNS.replace("purpose: care", "purpose: marketing", 1)
    rig = build_rig(db_url, make_clinic, campaigns=marketing, templates={"thanks/sms.j2": LONG_TEXT})
    try:
        rig.add_client("c1", T0)
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        stats = rig.dispatcher.run_once()
        assert stats["suppressed"] == 1 and stats["sent"] == 0
        assert rig.sms.sent == [] and rig.sms.attempts == 0 and rig.email.sent == []
        row = rig.message()
        assert (row.status, row.status_reason, row.attempts) == ("suppressed", "over segment limit", 0)
        kinds = [kind for kind, _ in events_of(rig, row)]
        assert kinds == ["warning", "suppressed"]
    finally:
        rig.store.close()


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (151, 153, ["sent"]),  # 306 septets: 151 + "{" | 153 -- two segments, at the limit
        (152, 152, ["warning", "sent"]),  # 306 septets, but "{" cannot straddle 153: three segments
    ],
)
def test_segments_at_send_time_are_counted_as_carriers_do(
    db_url: str, make_clinic: ClinicFactory, before: int, after: int, events: list[str]
) -> None:
    from tests.conftest import MINI_TOML

    template = "x" * before + "{{ '{' }}" + "x" * after + "\n"
    rig = build_rig(
        db_url,
        make_clinic,
        templates={"thanks/sms.j2": template},
        toml=MINI_TOML + "\n[sms]\nmax_segments = 2\n",
    )
    try:
        rig.add_client("c1", T0)
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        rig.dispatcher.run_once()
        row = rig.message()
        assert row.status == "sent" and row.body is not None and len(row.body) == 305
        assert [kind for kind, _ in events_of(rig, row)] == events
    finally:
        rig.store.close()


def test_an_identical_text_to_the_same_client_within_24h_is_suppressed(db_url: str, make_clinic: ClinicFactory) -> None:
    """Two visits the same day make two identical thanks texts two hours apart: one goes."""
    rig = build_rig(db_url, make_clinic)
    try:
        rig.add_client("c1", T0)
        second_visit(rig, "s-c1-pm", end=T0 + timedelta(hours=2))
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        assert rig.dispatcher.run_once()["sent"] == 1
        at(rig, T0 + timedelta(hours=4))
        stats = rig.dispatcher.run_once()
        assert stats["sent"] == 0 and stats["suppressed"] == 1
        assert len(rig.sms.sent) == 1
        thanks = {m.session_external_id: m for m in rig.store.messages(MessageQuery()) if m.step == "thanks"}
        sent, dup = thanks["s-c1"], thanks["s-c1-pm"]
        assert sent.status == "sent"
        assert (dup.status, dup.status_reason, dup.body) == ("suppressed", "duplicate", sent.body)
        assert dup.error is not None and f"message {sent.id}" in dup.error
        assert [kind for _, kind, _ in rig.store.events(dup.id)] == ["suppressed"]
        # Another client with the same words is not a duplicate.
        rig.add_client("c2", T0 + timedelta(hours=3), phone="+13055550102")
        replan_all(rig.store, rig.clinic, T0 + timedelta(hours=3))
        at(rig, T0 + timedelta(hours=5))
        assert rig.dispatcher.run_once()["sent"] == 1
    finally:
        rig.store.close()


def second_visit(rig: Rig, external_id: str, end: datetime, client: str = "c1") -> None:
    """Another one-hour visit of ``client`` ending at ``end`` (its own visit: no overlap)."""
    client_id = rig.store.find_client_id(external_id=client)
    assert client_id is not None
    rig.store.upsert_session(
        Session(
            external_id=external_id,
            client_external_id=client,
            start=end - timedelta(hours=1),
            end=end,
            service="NMT 60",
            status="completed",
        ),
        client_id,
        end,
    )


def test_the_same_text_after_the_window_is_sent_again(db_url: str, make_clinic: ClinicFactory) -> None:
    rig = build_rig(db_url, make_clinic)
    try:
        rig.add_client("c1", T0)
        replan_all(rig.store, rig.clinic, T0)
        at(rig, T0 + timedelta(hours=2))
        assert rig.dispatcher.run_once()["sent"] == 1
        # The next visits' thanks: 23 h after the first text (inside), then 26 h (outside).
        for external_id, end in (("s2", T0 + timedelta(hours=23)), ("s3", T0 + timedelta(hours=26))):
            second_visit(rig, external_id, end)
            replan_all(rig.store, rig.clinic, end)
            at(rig, end + timedelta(hours=2))
            rig.dispatcher.run_once()
        by_session = {m.session_external_id: m for m in rig.store.messages(MessageQuery()) if m.step == "thanks"}
        assert by_session["s2"].status_reason == "duplicate"
        assert by_session["s3"].status == "sent"  # s2's was never sent: only the first counts
        assert len([m for m in rig.sms.sent if m.step == "thanks"]) == 2
    finally:
        rig.store.close()


def test_the_duplicate_window_is_a_setting_and_0_turns_it_off(db_url: str, make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TOML

    rig = build_rig(db_url, make_clinic, toml=MINI_TOML + '\n[sends]\nduplicate_window = "0"\n')
    try:
        assert rig.clinic.settings.sends_duplicate_window == timedelta(0)
        rig.add_client("c1", T0)
        second_visit(rig, "s-c1-pm", end=T0 + timedelta(hours=2))
        replan_all(rig.store, rig.clinic, T0)
        for hours in (2, 4):
            at(rig, T0 + timedelta(hours=hours))
            rig.dispatcher.run_once()
        assert len([m for m in rig.sms.sent if m.step == "thanks"]) == 2
    finally:
        rig.store.close()


def test_duplicate_emails_match_despite_their_unsubscribe_links(db_url: str, make_clinic: ClinicFactory) -> None:
    """Each email's unsubscribe token is signed with the time it was issued, so two renderings
    differ only there; the guard compares them without it."""
    sms_step = "      channel: sms\n      template: thanks\n      expires_after: 6h\n      fallback_to_email: true\n"
    by_email = CAMPAIGNS.replace(sms_step, "      channel: email\n      template: thanks\n      expires_after: 6h\n")
    assert by_email != CAMPAIGNS
    text: dict[str, str | None] = {
        "thanks/email.txt.j2": "Hi {{ client.first_name }},\n\nThanks for your {{ session.service }}.\n"
    }
    rig = build_rig(db_url, make_clinic, campaigns=by_email, templates=text)
    try:
        rig.add_client("c1", T0)
        second_visit(rig, "s-c1-pm", end=T0 + timedelta(hours=2))
        replan_all(rig.store, rig.clinic, T0)
        for hours in (2, 4):
            at(rig, T0 + timedelta(hours=hours))
            rig.dispatcher.run_once()
        thanks = {m.session_external_id: m for m in rig.store.messages(MessageQuery()) if m.step == "thanks"}
        assert [m.email.subject for m in rig.email.sent if m.email] == ["Thank you, Maria"]
        first, second = thanks["s-c1"], thanks["s-c1-pm"]
        assert (first.status, first.sent_channel) == ("sent", "email")
        assert (second.status, second.status_reason) == ("suppressed", "duplicate")
        assert first.body and second.body and first.body != second.body  # the links differ
    finally:
        rig.store.close()


def test_duplicate_window_errors_name_the_file_and_line(make_clinic: ClinicFactory) -> None:
    from followup.config.settings import load_settings
    from followup.exceptions import SettingsError
    from tests.conftest import MINI_TOML

    config, _ = make_clinic(toml=MINI_TOML + '\n[sends]\nduplicate_window = "a day"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env_file=None)
    line = MINI_TOML.count("\n") + 3
    assert f"followup.toml:{line}: sends.duplicate_window: 'a day' is not a duration" in str(caught.value)
    config, _ = make_clinic(toml=MINI_TOML + '\n[sends]\nduplicate_window = "2d"\n[sms]\ntransliterate = false\n')
    settings = load_settings(config, env_file=None)
    assert (settings.sends_duplicate_window, settings.sms_transliterate) == (timedelta(days=2), False)


def test_deferrals_are_counted_in_the_summary_not_logged_one_by_one_at_info(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """A backlog meeting a closed window wrote a line per message (7,862 on a first start)."""
    for n in range(2, 6):
        rig.add_client(f"c{n}", T0, phone=f"+1305555010{n}")
    replan_all(rig.store, rig.clinic, T0)
    rig.dispatcher.window = SendWindow(time(9, 0), time(12, 0))  # closed at 15:00, when the texts are due
    at(rig, T0 + timedelta(hours=2))
    with caplog.at_level(logging.DEBUG, logger="followup"):
        stats = rig.dispatcher.run_once()
    assert stats["deferred"] == 5 and stats["sent"] == 0
    deferred = [r for r in caplog.records if "event=deferred" in r.getMessage()]
    assert len(deferred) == 5 and {r.levelno for r in deferred} == {logging.DEBUG}
    for m in rig.store.messages(MessageQuery(statuses=("scheduled",))):
        assert m.next_attempt_at > T0 + timedelta(hours=2)
