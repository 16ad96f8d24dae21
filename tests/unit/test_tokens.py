import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from followup.core.tokens import BadTokenError, sign, verify

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_round_trip() -> None:
    token = sign("k1", purpose="unsubscribe", client="c-42", channel="email", issued=T0)
    data = verify("k1", token, now=T0 + timedelta(days=60))
    assert (data.purpose, data.client, data.channel, data.issued) == ("unsubscribe", "c-42", "email", T0)


def test_other_key_or_tampered_payload_rejected() -> None:
    token = sign("k1", purpose="unsubscribe", client="c-42", channel="email", issued=T0)
    with pytest.raises(BadTokenError):
        verify("k2", token, now=T0)
    _, mac = token.split(".")
    forged = sign("k1", purpose="unsubscribe", client="c-43", channel="email", issued=T0).split(".")[0]
    with pytest.raises(BadTokenError):
        verify("k1", f"{forged}.{mac}", now=T0)
    with pytest.raises(BadTokenError):
        verify("k1", "garbage", now=T0)


def test_valid_at_least_sixty_days_then_expires() -> None:
    token = sign("k", purpose="unsubscribe", client="c", channel="email", issued=T0)
    verify("k", token, now=T0 + timedelta(days=60))
    with pytest.raises(BadTokenError, match="expired"):
        verify("k", token, now=T0 + timedelta(days=1000))


def test_scope_round_trips_and_is_signed() -> None:
    care = sign("k", purpose="unsubscribe", client="c", channel="email", issued=T0, scope="preferences")
    assert verify("k", care, now=T0).scope == "preferences"
    marketing = sign("k", purpose="unsubscribe", client="c", channel="email", issued=T0)
    assert verify("k", marketing, now=T0).scope == "marketing"
    # Changing the scope in the payload breaks the signature.
    payload = base64.urlsafe_b64decode(care.split(".")[0] + "==").replace(b"|preferences|", b"|marketing|")
    altered = base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "." + care.split(".")[1]
    with pytest.raises(BadTokenError):
        verify("k", altered, now=T0)
    with pytest.raises(ValueError, match="scope"):
        sign("k", purpose="unsubscribe", client="c", channel="email", issued=T0, scope="all")  # type: ignore[arg-type]


def _signed(key: str, payload: bytes) -> str:
    mac = hmac.new(key.encode(), payload, hashlib.sha256).digest()
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in (payload, mac))


def test_version_1_links_already_sent_read_as_marketing() -> None:
    data = verify("k", _signed("k", f"v1|unsubscribe|c-42|email|{int(T0.timestamp())}".encode()), now=T0)
    assert (data.purpose, data.client, data.channel, data.issued, data.scope) == (
        "unsubscribe",
        "c-42",
        "email",
        T0,
        "marketing",
    )


def test_well_signed_but_odd_payloads_are_bad_tokens_not_crashes() -> None:
    for payload in (
        b"v2|unsubscribe|c|email|everything|0",
        b"v3|unsubscribe|c|email|marketing|0",
        b"v2|unsubscribe|c|email|marketing|soon",
        b"v2|unsubscribe|c|email|marketing|99999999999999999999",
        b"v1|unsubscribe|c|email|marketing|0",
    ):
        with pytest.raises(BadTokenError):
            verify("k", _signed("k", payload), now=T0)
