"""The real Twilio SDK against a local stand-in that misbehaves on cue."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from followup.channels.base import Outgoing
from followup.channels.twilio_sms import Pacer, TwilioConfig, TwilioSmsChannel, classify_twilio
from followup.config.loader import load_clinic
from followup.core.domain import Client, Consent, Session
from followup.core.rules import SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.exceptions import PermanentDeliveryError, TransientDeliveryError
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
        (row,) = [m for m in self.store.messages(MessageQuery()) if m.step == "thanks"]
        return row

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


def test_three_500s_then_201_goes_out_exactly_once_later(setup: Setup) -> None:
    setup.twilio.script = [Answer(500), Answer(500), Answer(503)]
    moment = DUE
    for _ in range(3):
        assert setup.run_at(moment).get("retry") == 1
        moment = setup.row().next_attempt_at
    assert moment > DUE
    assert setup.run_at(moment).get("sent") == 1
    assert len(setup.twilio.posts) == 4 and len(setup.twilio.accepted) == 1
    row = setup.row()
    assert row.status == "sent" and row.provider_id == setup.twilio.accepted[0]["sid"] and row.attempts == 4
    assert setup.run_at(moment + timedelta(hours=1)) == {}


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


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (429, None), (500, None), (502, None)])
def test_rate_limits_and_server_errors_retry(setup: Setup, status: int, code: int | None) -> None:
    setup.twilio.script = [Answer(status, code)]
    assert setup.run_at(DUE).get("retry") == 1
    assert setup.run_at(setup.row().next_attempt_at).get("sent") == 1
    assert len(setup.twilio.accepted) == 1


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
    assert isinstance(classify_twilio(429, None, ""), TransientDeliveryError)
    assert isinstance(classify_twilio(503, None, ""), TransientDeliveryError)
    assert isinstance(classify_twilio(400, 20429, ""), TransientDeliveryError)
    unknown_code = classify_twilio(400, 99999, "odd")
    assert isinstance(unknown_code, PermanentDeliveryError) and "odd" in str(unknown_code)
    assert "FOLLOWUP_TWILIO_ACCOUNT_SID" in str(classify_twilio(401, 20003, "auth"))
