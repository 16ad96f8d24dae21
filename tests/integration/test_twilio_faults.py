"""The real Twilio SDK against a local stand-in that misbehaves on cue."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from followup.channels.base import Outgoing
from followup.channels.twilio_sms import Pacer, TwilioConfig, TwilioSmsChannel, classify_twilio, retry_after
from followup.config.loader import load_clinic
from followup.core.domain import Client, Consent, Session
from followup.core.rules import SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.exceptions import (
    AccountError,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from followup.store.port import MessageQuery, MessageRow
from followup.store.sql import SqlStore
from followup.testing import FixedClock, InMemoryChannel
from followup.timeutil import zone
from tests.conftest import ClinicFactory
from tests.integration.test_dispatch import CAMPAIGNS, TIPS
from tests.integration.twilio_standin import ACCOUNT, Answer, StandIn, twilio_standin

NY = zone("America/New_York")
T0 = datetime(2026, 12, 3, 13, 0, tzinfo=NY)
DUE = T0 + timedelta(hours=2)


def channel(base_url: str, timeout: float = 5.0, messaging_service_sid: str | None = None) -> TwilioSmsChannel:
    config = TwilioConfig(
        account_sid=ACCOUNT,
        auth_token="secret-token",
        api_url=base_url,
        from_number="+13055550100",
        status_callback_base="https://followup.example",
        timeout=timeout,
        messaging_service_sid=messaging_service_sid,
        messages_per_second=1000,  # the shared slot waits on real time: 1 ms a message here
    )
    return TwilioSmsChannel(config, pacer=Pacer(1000, sleep=lambda _s: None))


@dataclass
class Setup:
    store: SqlStore
    clock: FixedClock
    twilio: StandIn
    email: InMemoryChannel
    dispatcher: Dispatcher

    def row(self) -> MessageRow:
        (row,) = [m for m in self.store.messages(MessageQuery()) if m.step == "thanks"][:1]
        return row

    def thanks(self) -> list[MessageRow]:
        return [m for m in self.store.messages(MessageQuery(order="id")) if m.step == "thanks"]

    def second_client(self, clinic_dispatcher: Dispatcher) -> None:
        """Another client whose "thanks" is due at the same time: a batch of two on one sender."""
        client_id, _ = self.store.upsert_client(
            Client(external_id="c2", first_name="Ana", phone="+13055550102", email="a@example.com"), T0
        )
        self.store.upsert_session(
            Session(
                external_id="s2",
                client_external_id="c2",
                start=T0 - timedelta(hours=1),
                end=T0,
                service="NMT 60",
                status="completed",
            ),
            client_id,
            T0,
        )
        replan_all(self.store, clinic_dispatcher.clinic, T0)

    def run_at(self, moment: datetime) -> dict[str, int]:
        self.clock.set(moment)
        return self.dispatcher.run_once().counts

    def client(self) -> Client:
        client_id = self.store.find_client_id(external_id="c1")
        assert client_id is not None
        return self.store.client_state(client_id).client


@pytest.fixture
def setup(sqlite_url: str, make_clinic: ClinicFactory, request: pytest.FixtureRequest) -> Iterator[Setup]:
    config, templates = make_clinic(campaigns=CAMPAIGNS, tips=TIPS)
    clinic = load_clinic(config, templates, env_file=None)
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    email = getattr(request, "param", "m@example.com")
    client_id, _ = store.upsert_client(
        Client(
            external_id="c1", first_name="Maria", phone="+13055550101", email=email, consent=Consent(sms_marketing=True)
        ),
        T0,
    )
    store.upsert_session(
        Session(
            external_id="s1",
            client_external_id="c1",
            start=T0 - timedelta(hours=1),
            end=T0,
            service="NMT 60",
            status="completed",
        ),
        client_id,
        T0,
    )
    replan_all(store, clinic, T0)
    clock = FixedClock(T0)
    with twilio_standin() as twilio:
        twilio.clock = clock.now
        mail = InMemoryChannel("email")
        dispatcher = Dispatcher(
            store,
            clinic,
            {"sms": channel(twilio.base_url, timeout=0.5), "email": mail},
            clock,
            worker="w",
            window=SendWindow(),
            rng=random.Random(3),
        )
        yield Setup(store, clock, twilio, mail, dispatcher)
    store.close()


def test_three_5xx_never_queued_are_reconciled_then_sent_exactly_once(setup: Setup) -> None:
    setup.twilio.script = [Answer(500), Answer(502), Answer(503)]
    assert setup.run_at(DUE).get("unknown") == 1
    moment = DUE
    for _ in range(2):
        moment += timedelta(minutes=2)
        counts = setup.run_at(moment)
        assert counts.get("reconciled_retry") == 1 and counts.get("unknown") == 1, counts
    counts = setup.run_at(moment + timedelta(minutes=2))
    assert counts.get("reconciled_retry") == 1 and counts.get("sent") == 1, counts
    assert len(setup.twilio.posts) == 4 and len(setup.twilio.accepted) == 1 and setup.twilio.lists == 3
    row = setup.row()
    assert row.status == "sent" and row.provider_id == setup.twilio.accepted[0]["sid"] and row.attempts == 4
    assert setup.run_at(moment + timedelta(hours=1)) == {}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_after_twilio_accepted_is_sent_once(setup: Setup, status: int) -> None:
    """Issue 11: a gateway answered 504 after Twilio had queued the SMS; it went out three times."""
    setup.twilio.script = [Answer(status, accept=True), Answer(status, accept=True), Answer(status, accept=True)]
    assert setup.run_at(DUE).get("unknown") == 1
    assert setup.row().status == "unknown"
    counts = setup.run_at(DUE + timedelta(minutes=2))
    assert counts.get("reconciled_sent") == 1, counts
    for hours in (1, 2, 3):
        setup.run_at(DUE + timedelta(hours=hours))
    assert len(setup.twilio.posts) == 1 and len(setup.twilio.accepted) == 1
    row = setup.row()
    assert row.status == "sent" and row.provider_id == setup.twilio.accepted[0]["sid"]


def test_21610_unsubscribed_is_not_retried_and_records_the_opt_out(setup: Setup) -> None:
    setup.twilio.script = [Answer(400, 21610)]
    counts = setup.run_at(DUE)
    assert len(setup.twilio.posts) == 1
    client = setup.client()
    assert not client.consent.sms_care and not client.consent.sms_marketing
    assert counts.get("fallback") == 1 and len(setup.email.sent) == 1  # the step allows email instead
    setup.run_at(DUE + timedelta(hours=1))
    assert len(setup.twilio.posts) == 1


@pytest.mark.parametrize("setup", [None], indirect=True)
@pytest.mark.parametrize(("status", "code"), [(400, 21211), (400, 21614), (400, 21408), (400, 30003)])
def test_permanent_codes_fail_without_retry(setup: Setup, status: int, code: int) -> None:
    setup.twilio.script = [Answer(status, code)]
    assert setup.run_at(DUE).get("failed") == 1
    setup.run_at(DUE + timedelta(hours=2))
    assert len(setup.twilio.posts) == 1
    row = setup.row()
    assert row.status == "failed" and str(code) in (row.error or "")


@pytest.mark.parametrize(
    ("code", "retry_after"), [(20429, "600"), (None, "600"), (20429, "Thu, 03 Dec 2026 20:10:00 GMT")]
)
def test_429_with_retry_after_pauses_the_sender_for_the_batch(setup: Setup, code: int | None, retry_after: str) -> None:
    setup.second_client(setup.dispatcher)
    setup.twilio.script = [Answer(429, code, retry_after=retry_after)]
    counts = setup.run_at(DUE)  # DUE is 15:00 New York = 20:00 UTC: Retry-After ends at 20:10 UTC
    assert counts.get("paused") == 2, counts
    assert len(setup.twilio.posts) == 1  # the rest of the batch did not post
    rows = setup.thanks()
    assert {r.status for r in rows} == {"scheduled"}
    assert {r.next_attempt_at for r in rows} == {DUE + timedelta(seconds=600)}
    for seconds in (1, 60, 300, 599):
        assert setup.run_at(DUE + timedelta(seconds=seconds)) == {}
    assert len(setup.twilio.posts) == 1
    assert setup.run_at(DUE + timedelta(seconds=600)).get("sent") == 2
    assert len(setup.twilio.posts) == 3 and len(setup.twilio.accepted) == 2 and not setup.email.sent


def test_429_without_retry_after_waits_the_default_pause(setup: Setup) -> None:
    setup.twilio.script = [Answer(429, 20429)]
    assert setup.run_at(DUE).get("paused") == 1
    assert setup.row().next_attempt_at == DUE + timedelta(minutes=1)
    assert setup.run_at(DUE + timedelta(minutes=1)).get("sent") == 1
    assert len(setup.twilio.accepted) == 1


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (401, None), (403, 20403), (400, 21606), (400, 20005)])
def test_account_fault_pauses_keeps_messages_and_alerts_the_owner_once(
    setup: Setup, caplog: pytest.LogCaptureFixture, status: int, code: int | None
) -> None:
    setup.second_client(setup.dispatcher)
    setup.twilio.script = [Answer(status, code)] * 3
    caplog.set_level(logging.INFO)
    counts = setup.run_at(DUE)
    assert counts.get("paused") == 2 and not counts.get("failed") and not counts.get("fallback"), counts
    assert len(setup.twilio.posts) == 1  # no second post
    # No email instead of the texts; the one email is the owner's alert, to the clinic.
    assert [(m.to, m.campaign) for m in setup.email.sent] in (
        [],
        [(setup.dispatcher.clinic.settings.business_email, "owner_alert")],
    )
    rows = setup.thanks()
    assert {r.status for r in rows} == {"scheduled"}
    assert {r.next_attempt_at for r in rows} == {DUE + timedelta(minutes=15)}
    assert setup.run_at(DUE + timedelta(minutes=10)) == {}
    # Still broken 15 minutes later, and again: the owner was told once, not at every retry.
    setup.run_at(DUE + timedelta(minutes=15))
    setup.run_at(DUE + timedelta(minutes=30))
    assert len(setup.twilio.posts) == 3
    alerts = [r for r in caplog.records if r.levelno == logging.ERROR and "owner_alert" in r.getMessage()]
    assert len(alerts) == 1, [r.getMessage() for r in alerts]
    assert "FOLLOWUP_TWILIO_ACCOUNT_SID" in alerts[0].getMessage()
    stored = [e for r in rows for e in setup.store.events(r.id) if e[1] == "owner_alert"]
    assert len(stored) == 1
    # Fixed: everything goes out at the next try, and a later fault is told again.
    assert setup.run_at(DUE + timedelta(minutes=45)).get("sent") == 2
    assert {r.status for r in setup.thanks()} == {"sent"}
    owner = [m for m in setup.email.sent if m.campaign == "owner_alert"]
    assert [m.to for m in owner] == [setup.dispatcher.clinic.settings.business_email]  # told by email, once
    assert len(setup.email.sent) == len(owner)  # no client got an email instead of a text
    assert setup.store.claim_send_slot(setup.dispatcher.channels["sms"].sender_key(), DUE, timedelta(0)).fault is None


def test_failed_lookup_keeps_the_message_unknown_and_never_resends_blindly(setup: Setup) -> None:
    setup.twilio.script = [Answer(504, accept=True)]
    setup.twilio.list_script = [Answer(503), Answer(401, 20003)]
    assert setup.run_at(DUE).get("unknown") == 1
    assert setup.run_at(DUE + timedelta(minutes=2)).get("lookup_failed") == 1  # 503 to the question
    row = setup.row()
    assert row.status == "unknown" and row.next_attempt_at > DUE + timedelta(minutes=2)
    assert setup.run_at(row.next_attempt_at).get("lookup_failed") == 1  # 401: the sender pauses 15 min
    row = setup.row()
    assert row.status == "unknown" and row.next_attempt_at >= DUE + timedelta(minutes=15)
    assert setup.run_at(row.next_attempt_at).get("reconciled_sent") == 1
    assert len(setup.twilio.posts) == 1 and setup.twilio.lists == 3


def test_slow_answer_is_reconciled_not_resent(setup: Setup) -> None:
    setup.twilio.script = [Answer(201, delay=1.5)]  # longer than the 0.5 s client timeout; Twilio keeps it
    assert setup.run_at(DUE).get("unknown") == 1
    assert setup.row().status == "unknown"
    counts = setup.run_at(DUE + timedelta(minutes=2))
    assert counts.get("reconciled_sent") == 1
    assert len(setup.twilio.posts) == 1 and setup.twilio.lists == 1
    assert setup.row().provider_id == setup.twilio.accepted[0]["sid"]


def test_dropped_connection_is_reconciled_then_sent_once(setup: Setup) -> None:
    setup.twilio.script = [Answer(drop=True, accept=False)]
    assert setup.run_at(DUE).get("unknown") == 1
    counts = setup.run_at(DUE + timedelta(minutes=2))
    assert counts.get("reconciled_retry") == 1 and counts.get("sent") == 1
    assert len(setup.twilio.posts) == 2 and len(setup.twilio.accepted) == 1


def test_dropped_connection_after_twilio_accepted_is_not_doubled(setup: Setup) -> None:
    setup.twilio.script = [Answer(drop=True, accept=True)]
    assert setup.run_at(DUE).get("unknown") == 1
    assert setup.run_at(DUE + timedelta(minutes=2)).get("reconciled_sent") == 1
    assert len(setup.twilio.posts) == 1


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = channel(f"http://127.0.0.1:{port}")
    with pytest.raises(TransientDeliveryError, match="could not connect"):
        sms.send(outgoing())


def outgoing(**kw: object) -> Outgoing:
    base: dict[str, object] = dict(
        message_id=7,
        key="k",
        channel="sms",
        to="+13055550101",
        purpose="care",
        expires_at=DUE + timedelta(hours=3),
        client_external_id="c1",
        campaign="c",
        step="s",
        at=DUE,
        sms="Hello",
    )
    return Outgoing(**(base | kw))  # type: ignore[arg-type]


def test_request_carries_callback_validity_and_sender() -> None:
    with twilio_standin() as twilio:
        channel(twilio.base_url).send(outgoing())
        service = channel(twilio.base_url, messaging_service_sid="MG" + "1" * 32)
        service.send(outgoing(message_id=8, expires_at=DUE + timedelta(days=2)))
    first, second = twilio.posts
    assert first["From"] == "+13055550100" and "MessagingServiceSid" not in first
    assert first["StatusCallback"] == "https://followup.example/twilio/status?m=7"
    assert first["ValidityPeriod"] == str(3 * 3600)
    assert second["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in second
    assert second["ValidityPeriod"] == "36000"  # Twilio's maximum


def test_pacer_keeps_to_the_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(1.0, monotonic=lambda: clock[0], sleep=sleep)
    for _ in range(4):
        pacer.wait()
    assert slept == [1.0, 1.0, 1.0]


def test_classification_table() -> None:
    assert isinstance(classify_twilio(400, 21610, ""), PermanentDeliveryError)
    assert isinstance(classify_twilio(429, None, ""), RateLimitedError)
    assert isinstance(classify_twilio(400, 20429, ""), RateLimitedError)
    assert isinstance(classify_twilio(429, None, ""), TransientDeliveryError)  # a pause is still transient
    for status in (500, 502, 503, 504):
        assert isinstance(classify_twilio(status, None, ""), UnknownOutcomeError)
    for status, code in ((401, 20003), (403, None), (400, 20005), (400, 21606), (400, 21212), (400, 21660)):
        assert isinstance(classify_twilio(status, code, ""), AccountError)
    unknown_code = classify_twilio(400, 99999, "odd")
    assert isinstance(unknown_code, PermanentDeliveryError) and "odd" in str(unknown_code)
    assert "FOLLOWUP_TWILIO_ACCOUNT_SID" in str(classify_twilio(401, 20003, "auth"))
    limited = classify_twilio(429, 20429, "", timedelta(seconds=600))
    assert isinstance(limited, RateLimitedError) and limited.pause == timedelta(seconds=600)


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 3, 20, 0, tzinfo=zone("UTC"))
    assert retry_after({"Retry-After": "600"}, now) == timedelta(seconds=600)
    assert retry_after({"retry-after": "Thu, 03 Dec 2026 20:10:00 GMT"}, now) == timedelta(minutes=10)
    assert retry_after({"Retry-After": "Thu, 03 Dec 2026 19:00:00 GMT"}, now) == timedelta(0)
    assert retry_after({"Retry-After": "99999999"}, now) == timedelta(days=1)
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None and retry_after(None, now) is None
