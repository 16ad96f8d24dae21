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
