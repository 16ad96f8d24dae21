"""The channel port.

:meth:`Channel.send` runs the fixed sequence every provider shares: build the provider
payload, transmit it, classify the result.  Providers implement only the hooks.  What
comes out is either a :class:`Sent` or one of the three delivery errors from
:mod:`followup.exceptions`, whose *type* says what the dispatcher may do next:
transient (retry later), permanent (never), unknown outcome (reconcile first).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from followup.core.domain import ChannelName
from followup.exceptions import DeliveryError, UnknownOutcomeError
from followup.rendering.templates import RenderedEmail


@dataclass(frozen=True)
class Outgoing:
    """One message ready to go: rendered, addressed, identified."""

    message_id: int
    key: str
    channel: ChannelName
    to: str
    purpose: str
    expires_at: datetime
    client_external_id: str
    campaign: str
    step: str
    at: datetime  # when it is being sent (the dispatcher's clock)
    sms: str | None = None
    email: RenderedEmail | None = None
    unsubscribe_url: str | None = None
    # The dispatcher already waited for this sender's shared send slot: no pacing of its own.
    paced: bool = False


@dataclass(frozen=True)
class Sent:
    provider_id: str
    detail: str = ""


class Channel(ABC):
    name: ChannelName
    # Whether lookup() can tell if an unknown outcome reached the provider.
    can_reconcile: bool = True
    # Sends per second allowed from this channel's sender, shared by every worker through the
    # store (the dispatcher claims a slot before each send); None: no limit.
    messages_per_second: float | None = None
    # Whether the dispatcher may record this channel's outcomes together, in one transaction at
    # the end of a batch, rather than right after each send.  Only for channels whose lookup()
    # always knows what went out (the dry-run outbox, the in-memory fake): outcomes lost to a
    # crash are then reconciled, never resent.  A live provider's outcome is recorded as soon as
    # it is known, so a crash loses at most the one message in hand (SMTP cannot be asked
    # afterwards: a lost outcome there is an email sent twice or never).
    outcomes_in_batches: bool = False

    def sender_key(self) -> str:
        """Who sends, for the shared rate and for pauses (429, account faults): every worker
        configured alike names the same sender."""
        return self.name

    def send(self, message: Outgoing) -> Sent:
        payload = self.build(message)
        try:
            raw = self.transmit(message, payload)
        except DeliveryError:
            raise
        except Exception as exc:
            raise self.classify_error(message, exc) from exc
        return self.classify_result(message, raw)

    @abstractmethod
    def build(self, message: Outgoing) -> Any:
        """The provider's payload for ``message``."""

    @abstractmethod
    def transmit(self, message: Outgoing, payload: Any) -> Any:
        """Hand the payload to the provider; return its raw answer."""

    def classify_result(self, message: Outgoing, raw: Any) -> Sent:
        return raw if isinstance(raw, Sent) else Sent(provider_id=str(raw))

    def classify_error(self, message: Outgoing, exc: Exception) -> DeliveryError:
        """An unexpected exception: we cannot tell whether the provider got the message."""
        return UnknownOutcomeError(f"{type(exc).__name__}: {exc}", provider=self.name)

    def lookup(self, message: Outgoing) -> Sent | None:
        """After a crash or an unknown outcome: did this message reach the provider?"""
        return None

    def open(self) -> None:  # noqa: B027 - optional hook, most channels need no set-up
        """Before a batch (e.g. one SMTP connection for many emails)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """After a batch."""
