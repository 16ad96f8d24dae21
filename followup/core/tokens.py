"""Signed, self-contained tokens for links in messages (unsubscribe, email preferences).

Format: ``base64url(payload) "." base64url(hmac_sha256(key, payload))`` where the
payload is ``v2|<purpose>|<client external id>|<channel>|<scope>|<issued unix seconds>``.
No database lookup is needed to verify one, links outlive restarts and key-free
forgery is impossible; verification compares in constant time.

The *scope* says what kind of email carried the link, so the page and the one-click POST
(RFC 8058) know what a click may stop: ``marketing`` (a marketing email's footer and its
``List-Unsubscribe`` header: a click stops marketing email only) or ``preferences`` (a care
email's "manage preferences" link: nothing stops without an explicit choice).  Tokens of
version 1 (no scope field) were issued before scopes existed and are read as ``marketing``,
so an old link never stops more than marketing email by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from followup.exceptions import FollowupError
from followup.timeutil import require_aware

VERSION = "v2"
LEGACY_VERSION = "v1"  # <purpose>|<client>|<channel>|<issued>: read as scope "marketing"
UNSUBSCRIBE_MAX_AGE = timedelta(days=400)  # issue: links stay valid at least 60 days

Scope = Literal["marketing", "preferences"]
SCOPES: tuple[Scope, ...] = ("marketing", "preferences")


class BadTokenError(FollowupError):
    """The token is malformed, forged, or too old."""


@dataclass(frozen=True)
class TokenData:
    purpose: str
    client: str
    channel: str
    issued: datetime
    scope: Scope = "marketing"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()


def sign(key: str, *, purpose: str, client: str, channel: str, issued: datetime, scope: Scope = "marketing") -> str:
    require_aware(issued, "issued")
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r} (allowed: {', '.join(SCOPES)})")
    for part in (purpose, client, channel):
        if "|" in part:
            raise ValueError(f"token field may not contain '|': {part!r}")
    payload = f"{VERSION}|{purpose}|{client}|{channel}|{scope}|{int(issued.timestamp())}".encode()
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
    if len(parts) == 5 and parts[0] == LEGACY_VERSION:
        parts = [VERSION, *parts[1:4], "marketing", parts[4]]
    if len(parts) != 6 or parts[0] != VERSION or parts[4] not in SCOPES:
        raise BadTokenError("unknown token version")
    try:
        issued = datetime.fromtimestamp(int(parts[5]), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadTokenError("malformed token") from None
    if now - issued > max_age:
        raise BadTokenError(f"token expired (issued {issued:%Y-%m-%d})")
    return TokenData(purpose=parts[1], client=parts[2], channel=parts[3], issued=issued, scope=parts[4])
