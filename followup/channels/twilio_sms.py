"""SMS through Twilio's official SDK.

- ``FOLLOWUP_TWILIO_API_URL`` is honoured by an HTTP client that sends the SDK's
  requests to that base URL instead of https://api.twilio.com (tests, proxies).
- Every outcome is classified by :func:`classify_twilio` (see ``TWILIO_CODES``):
  permanent, transient, or unknown (the request may have reached Twilio).
- An unknown outcome is never resent blindly: :meth:`TwilioSmsChannel.lookup` asks
  Twilio for messages to that number created since the attempt, with the same body.
- A pacer keeps this process at or under ``twilio_messages_per_second``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from followup.channels.base import Channel, Outgoing, Sent
from followup.exceptions import (
    DeliveryError,
    PermanentDeliveryError,
    RecipientOptedOutError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from followup.timeutil import UTC, require_aware

log = logging.getLogger("followup.twilio")

TWILIO_BASE = "https://api.twilio.com"
MAX_VALIDITY_SECONDS = 36000  # Twilio accepts 1..36000

# Twilio error codes we act on.  "optout" is permanent and also records the client's SMS opt-out.
TWILIO_CODES: dict[int, tuple[str, str]] = {
    20429: ("transient", "too many requests"),
    21211: ("permanent", "invalid 'To' phone number"),
    21408: ("permanent", "permission to send to this region is not enabled"),
    21610: ("optout", "the recipient replied STOP (unsubscribed)"),
    21612: ("permanent", "the 'To' number cannot be reached from this sender"),
    21614: ("permanent", "'To' is not a mobile number"),
    21617: ("permanent", "message body too long"),
    30003: ("permanent", "unreachable destination handset"),
    30005: ("permanent", "unknown destination handset"),
    30006: ("permanent", "landline or unreachable carrier"),
}


def classify_twilio(status: int, code: int | None, message: str) -> DeliveryError:
    """One table for every HTTP status / Twilio code pair."""
    kind, meaning = TWILIO_CODES.get(code or 0, ("", ""))
    text = f"Twilio {status}" + (f" error {code}" if code else "") + f": {meaning or message}"
    if kind == "optout":
        return RecipientOptedOutError(text, code=str(code), provider="twilio")
    if kind == "permanent":
        return PermanentDeliveryError(text, code=str(code), provider="twilio")
    if kind == "transient" or status == 429 or status >= 500:
        return TransientDeliveryError(text, code=str(code) if code else str(status), provider="twilio")
    if status in (401, 403):
        # Our credentials: nothing a retry of this message fixes, but the owner must know.
        return PermanentDeliveryError(
            text + " (check FOLLOWUP_TWILIO_ACCOUNT_SID / _AUTH_TOKEN)", code=str(code or status), provider="twilio"
        )
    return PermanentDeliveryError(text, code=str(code or status), provider="twilio")


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's HTTP client, pointed at another base URL, with an explicit timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_BASE):
            url = self.base_url + url[len(TWILIO_BASE) :]
        return super().request(method, url, *args, **kwargs)


class Pacer:
    """At most ``rate`` sends per second from this process (a US long code allows 1)."""

    def __init__(
        self, rate: float, monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.interval = 1.0 / rate
        self.monotonic = monotonic
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.monotonic()
            if now < self._next:
                self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    api_url: str = TWILIO_BASE
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback_base: str | None = None  # public base URL; None: no callbacks
    timeout: float = 10.0
    messages_per_second: float = 1.0


class TwilioSmsChannel(Channel):
    name = "sms"

    def __init__(self, config: TwilioConfig, pacer: Pacer | None = None) -> None:
        if not (config.from_number or config.messaging_service_sid):
            raise ValueError("a From number or a Messaging Service SID is required")
        self.config = config
        self.client = Client(
            config.account_sid, config.auth_token, http_client=RebasedHttpClient(config.api_url, config.timeout)
        )
        self.pacer = pacer or Pacer(config.messages_per_second)

    def build(self, message: Outgoing) -> dict[str, Any]:
        params: dict[str, Any] = {"to": message.to, "body": message.sms}
        if self.config.messaging_service_sid:
            params["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            params["from_"] = self.config.from_number
        if self.config.status_callback_base:
            params["status_callback"] = f"{self.config.status_callback_base}/twilio/status?m={message.message_id}"
        # Let Twilio drop it rather than deliver it after our own expiry.
        remaining = int((message.expires_at - message.at).total_seconds())
        params["validity_period"] = max(1, min(MAX_VALIDITY_SECONDS, remaining))
        return params

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        self.pacer.wait()
        try:
            created = self.client.messages.create(**payload)
        except TwilioRestException as exc:
            raise classify_twilio(exc.status, exc.code, exc.msg) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransientDeliveryError(f"connect timeout: {exc}", provider="twilio") from exc
        except requests.exceptions.ReadTimeout as exc:
            # The request was sent; Twilio may have queued it.
            raise UnknownOutcomeError(f"read timeout after sending: {exc}", provider="twilio") from exc
        except requests.exceptions.ConnectionError as exc:
            if _before_sending(exc):
                raise TransientDeliveryError(f"could not connect: {exc}", provider="twilio") from exc
            raise UnknownOutcomeError(f"connection lost: {exc}", provider="twilio") from exc
        return Sent(provider_id=str(created.sid), detail=str(created.status))

    def lookup(self, message: Outgoing) -> Sent | None:
        """Did Twilio get this message?  A message to the same number created since just
        before the attempt, with the same body when we know it (after a crash we may not)."""
        require_aware(message.at, "attempt time")
        since = message.at - timedelta(minutes=5)
        try:
            # Newest first; queued messages have no date_sent yet, so filter on creation here.
            found = self.client.messages.list(to=message.to, limit=50)
        except TwilioRestException as exc:
            raise classify_twilio(exc.status, exc.code, exc.msg) from exc
        except (TwilioException, requests.exceptions.RequestException) as exc:
            # Could not ask: try again later rather than guess.
            raise TransientDeliveryError(f"lookup failed: {exc}", provider="twilio") from exc
        for item in found:
            created = item.date_created
            same_body = message.sms is None or item.body == message.sms
            if same_body and (created is None or _aware(created) >= since):
                return Sent(provider_id=str(item.sid), detail="found by lookup")
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """A refused or unresolvable connection never carried our request; anything else
    (a connection dropped mid-exchange) may have."""
    text = repr(exc)
    return any(marker in text for marker in ("NewConnectionError", "NameResolutionError", "Connection refused"))
