"""SMS through Twilio's official SDK.

- ``FOLLOWUP_TWILIO_API_URL`` is honoured by an HTTP client that sends the SDK's
  requests to that base URL instead of https://api.twilio.com (tests, proxies).
- Every outcome is classified by :func:`classify_twilio` (see ``TWILIO_CODES`` and
  ``ACCOUNT_CODES``): permanent, transient, unknown (the request may have reached Twilio:
  a timeout, a dropped connection, any 5xx answer), or a pause of the whole channel (429
  with its ``Retry-After``; 401/403 and account-level codes).
- An unknown outcome is never resent blindly: :meth:`TwilioSmsChannel.lookup` asks
  Twilio for messages to that number created since the attempt, with the same body.
- ``messages_per_second`` is shared by every worker: the dispatcher claims a send slot per
  sender (:meth:`sender_key`) in the database before each send.  The in-process pacer stays
  for sends made outside the dispatcher (``send-test``, replies to keywords).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from followup.channels.base import Channel, Outgoing, Sent
from followup.exceptions import (
    AccountError,
    DeliveryError,
    PermanentDeliveryError,
    RateLimitedError,
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


# Faults of our account, credentials or sender, not of one message: the channel pauses and the
# owner is told (Twilio's error dictionary, https://www.twilio.com/docs/api/errors/<code>).
ACCOUNT_CODES: dict[int, str] = {
    10001: "account is not active",
    20003: "permission denied: wrong Account SID / Auth Token, or the account is suspended or closed",
    20005: "account not active (out of funds, or a trial not activated)",
    20403: "403 forbidden: the account is suspended or closed",
    21212: "invalid 'From' number",  # split into 21659-21661 since 2024 (Twilio changelog, 2024-07-10)
    21601: "the 'From' number is not a phone number of this account",
    21606: "the 'From' number is not a message-capable Twilio number of this account",
    21659: "the 'From' number is not a Twilio number",
    21660: "the 'From' number does not belong to this account",
    21661: "the 'From' number is not SMS-capable",
}
RATE_LIMIT_CODE = 20429  # too many requests: "never processed and always safe to retry"
MAX_RETRY_AFTER = timedelta(days=1)  # a nonsense Retry-After must not silence the channel for a year


def classify_twilio(status: int, code: int | None, message: str, retry_after: timedelta | None = None) -> DeliveryError:
    """One table for every HTTP status / Twilio code pair.

    - a code of ``TWILIO_CODES``: permanent (21610 also records the opt-out);
    - 401, 403 or a code of ``ACCOUNT_CODES``: :class:`AccountError` (pause the channel, alert);
    - 429 or 20429: :class:`RateLimitedError`, pausing for ``retry_after`` when Twilio said;
    - any other 5xx: unknown.  The server answered, so the request reached Twilio's side, and a
      gateway (502/504) or an overloaded API (500/503) may have queued the message first;
    - anything else: permanent.
    """
    kind, meaning = TWILIO_CODES.get(code or 0, ("", ""))
    account = ACCOUNT_CODES.get(code or 0)
    text = f"Twilio {status}" + (f" error {code}" if code else "") + f": {meaning or account or message}"
    label = str(code) if code else str(status)
    if kind == "optout":
        return RecipientOptedOutError(text, code=str(code), provider="twilio")
    if kind == "permanent":
        return PermanentDeliveryError(text, code=str(code), provider="twilio")
    if account or status in (401, 403):
        # Our credentials or sender: nothing a retry of this message fixes, but the owner must know.
        return AccountError(
            text + " (check FOLLOWUP_TWILIO_ACCOUNT_SID / _AUTH_TOKEN / _FROM and the Twilio account)",
            code=label,
            provider="twilio",
        )
    if status == 429 or code == RATE_LIMIT_CODE:
        return RateLimitedError(text, pause=retry_after, code=label, provider="twilio")
    if status >= 500:
        return UnknownOutcomeError(
            text + " (the request reached Twilio; it may have been queued)", code=label, provider="twilio"
        )
    return PermanentDeliveryError(text, code=label, provider="twilio")


def retry_after(headers: Mapping[str, str] | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay: seconds or an HTTP date (RFC 9110 10.2.3); None when absent or unreadable."""
    value = None
    if headers is not None:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        delay = _aware(when) - require_aware(now, "now")
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's HTTP client, pointed at another base URL, with an explicit timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._answers = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_BASE):
            url = self.base_url + url[len(TWILIO_BASE) :]
        self._answers.headers = None
        response = super().request(method, url, *args, **kwargs)
        self._answers.headers = response.headers
        return response

    def last_headers(self) -> Mapping[str, str] | None:
        """The headers of this thread's last answer (the SDK's exceptions drop them: Retry-After)."""
        headers: Mapping[str, str] | None = getattr(self._answers, "headers", None)
        return headers


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
        self.http = RebasedHttpClient(config.api_url, config.timeout)
        self.client = Client(config.account_sid, config.auth_token, http_client=self.http)
        self.client.messages  # noqa: B018 - the SDK imports its API modules on first use: not inside a send slot
        self.pacer = pacer or Pacer(config.messages_per_second)
        self.messages_per_second = config.messages_per_second

    def sender_key(self) -> str:
        """The number or Messaging Service: the rate and pauses belong to it, across workers."""
        return f"twilio:{self.config.messaging_service_sid or self.config.from_number}"

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
        if not message.paced:  # send-test, webhook replies: this process's own pacer
            self.pacer.wait()
        try:
            created = self.client.messages.create(**payload)
        except TwilioRestException as exc:
            wait = retry_after(self.http.last_headers(), message.at)
            raise classify_twilio(exc.status, exc.code, exc.msg, wait) from exc
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
            error = classify_twilio(exc.status, exc.code, exc.msg, retry_after(self.http.last_headers(), message.at))
            if isinstance(error, UnknownOutcomeError):  # a 5xx to a question: could not ask, ask later
                raise TransientDeliveryError(f"lookup failed: {error}", provider="twilio") from exc
            raise error from exc
        except (TwilioException, requests.exceptions.RequestException) as exc:
            answer = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Response) else None
            if answer is not None and answer.status_code in (401, 403, 429):
                # The SDK reports a list's error answer as a bare TwilioException with the response.
                code = _error_code(answer.text)
                error = classify_twilio(
                    answer.status_code, code, "lookup refused", retry_after(answer.headers, message.at)
                )
                raise error from exc
            # Could not ask: try again later rather than guess.
            raise TransientDeliveryError(f"lookup failed: {exc}", provider="twilio") from exc
        for item in found:
            created = item.date_created
            same_body = message.sms is None or item.body == message.sms
            if same_body and (created is None or _aware(created) >= since):
                return Sent(provider_id=str(item.sid), detail="found by lookup")
        return None


def _error_code(text: str) -> int | None:
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """A refused or unresolvable connection never carried our request; anything else
    (a connection dropped mid-exchange) may have."""
    text = repr(exc)
    return any(marker in text for marker in ("NewConnectionError", "NameResolutionError", "Connection refused"))
