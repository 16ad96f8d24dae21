"""Contract: the real Twilio SDK, as followup drives it, against Prism mocking Twilio's
official OpenAPI spec with ``--errors`` (a request that does not match the spec gets 422)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioException

from followup.channels.base import Outgoing
from followup.channels.twilio_sms import Pacer, TwilioConfig, TwilioSmsChannel
from followup.exceptions import PermanentDeliveryError
from tests.integration.conftest import Prism

ACCOUNT = "AC" + "a1" * 16
SERVICE = "MG" + "b2" * 16


def channel(prism: Prism, **sender: str) -> TwilioSmsChannel:
    config = TwilioConfig(
        account_sid=ACCOUNT,
        auth_token="test-token",
        api_url=prism.url,
        status_callback_base="https://followup.example",
        timeout=10,
        from_number=sender.get("from_number"),
        messaging_service_sid=sender.get("service"),
    )
    return TwilioSmsChannel(config, pacer=Pacer(100))


def outgoing(**kw: object) -> Outgoing:
    now = datetime.now(UTC)
    base: dict[str, object] = dict(
        message_id=42,
        key="k42",
        channel="sms",
        to="+13055550101",
        purpose="care",
        expires_at=now + timedelta(hours=6),
        client_external_id="c1",
        campaign="c",
        step="s",
        at=now,
        sms="Hi Maria, see you Thursday at 3:00 PM. - Shoreline NMT",
    )
    return Outgoing(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("sender", [{"from_number": "+13055550100"}, {"service": SERVICE}], ids=["from", "service"])
def test_send_request_matches_the_spec(prism: Prism, sender: dict[str, str]) -> None:
    sent = channel(prism, **sender).send(outgoing())
    assert sent.provider_id.startswith("SM") and len(sent.provider_id) == 34


def test_prism_does_reject_a_request_off_the_spec(prism: Prism) -> None:
    """Guard against a contract test that cannot fail: a malformed request gets 422."""
    config = TwilioConfig(
        account_sid=ACCOUNT,
        auth_token="t",
        api_url=prism.url,
        from_number="+13055550100",
        status_callback_base="not a url",
    )
    with pytest.raises(PermanentDeliveryError, match="422"):
        TwilioSmsChannel(config, pacer=Pacer(100)).send(outgoing())


def test_lookup_request_matches_the_spec(prism: Prism) -> None:
    """The list request is valid.  (Prism's own example list response breaks the spec's
    ``uri`` format, so with --errors it answers 500 about the *response*; a bad request
    would be a 422 about the request.)"""
    sms = channel(prism, from_number="+13055550100")
    try:
        sms.client.messages.page(to="+13055550101", page_size=50)
    except TwilioException as exc:
        response = exc.args[1]
        assert response.status_code != 422, response.text
        problems = json.loads(response.text).get("validation", [])
        assert problems and all(p["location"][0] == "response" for p in problems), problems
