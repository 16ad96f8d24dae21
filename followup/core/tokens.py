"""Signed, self-contained tokens for links in messages (unsubscribe).

Format: ``base64url(payload) "." base64url(hmac_sha256(key, payload))`` where the
payload is ``v1|<purpose>|<client external id>|<channel>|<issued unix seconds>``.
No database lookup is needed to verify one, links outlive restarts and key-free
forgery is impossible; verification compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from followup.exceptions import FollowupError
from followup.timeutil import require_aware

VERSION = "v1"
UNSUBSCRIBE_MAX_AGE = timedelta(days=400)  # issue: links stay valid at least 60 days


class BadTokenError(FollowupError):
    """The token is malformed, forged, or too old."""


@dataclass(frozen=True)
class TokenData:
    purpose: str
    client: str
    channel: str
    issued: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()


def sign(key: str, *, purpose: str, client: str, channel: str, issued: datetime) -> str:
    require_aware(issued, "issued")
    for part in (purpose, client, channel):
        if "|" in part:
            raise ValueError(f"token field may not contain '|': {part!r}")
    payload = f"{VERSION}|{purpose}|{client}|{channel}|{int(issued.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify(key: str, token: str, *, now: datetime, max_age: timedelta = UNSUBSCRIBE_MAX_AGE) -> TokenData:
    require_aware(now, "now")
    try:
        payload_text, mac_text = token.split(".", 1)
        payload = _unb64(payload_text)
        given = _unb64(mac_text)
    except (ValueError, TypeError):
        raise BadTokenError("malformed token") from None
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise BadTokenError("token signature does not match")
    parts = payload.decode("utf-8", "replace").split("|")
    if len(parts) != 5 or parts[0] != VERSION:
        raise BadTokenError("unknown token version")
    issued = datetime.fromtimestamp(int(parts[4]), tz=UTC)
    if now - issued > max_age:
        raise BadTokenError(f"token expired (issued {issued:%Y-%m-%d})")
    return TokenData(purpose=parts[1], client=parts[2], channel=parts[3], issued=issued)
