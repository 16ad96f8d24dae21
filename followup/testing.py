"""Fakes shipped with the package, for tests and for dry-run delivery.

``InMemoryChannel`` keeps what it "sent" and can be scripted to fail; ``FixedClock`` is
a clock that moves only when told to.  Dry-run delivery is the in-memory channel plus
files (see :mod:`followup.channels.dryrun`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from followup.channels.base import Channel, Outgoing, Sent
from followup.core.domain import ChannelName
from followup.exceptions import DeliveryError
from followup.timeutil import require_aware


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = require_aware(now, "now")

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = require_aware(now, "now")

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


@dataclass
class _Script:
    error: DeliveryError
    times: int
    when: Callable[[Outgoing], bool]


@dataclass
class InMemoryChannel(Channel):
    """Records every message; ``fail(...)`` scripts failures for the next sends."""

    name: ChannelName = "sms"
    sent: list[Outgoing] = field(default_factory=list)
    attempts: int = 0
    _scripts: list[_Script] = field(default_factory=list)
    _ids: int = 0

    def fail(self, error: DeliveryError, times: int = 1, when: Callable[[Outgoing], bool] | None = None) -> None:
        self._scripts.append(_Script(error, times, when or (lambda _m: True)))

    def build(self, message: Outgoing) -> Outgoing:
        return message

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        self.attempts += 1
        for script in self._scripts:
            if script.times > 0 and script.when(message):
                script.times -= 1
                raise script.error
        self._ids += 1
        self.sent.append(message)
        return Sent(provider_id=f"mem-{self.name}-{self._ids}")

    def lookup(self, message: Outgoing) -> Sent | None:
        for index, sent in enumerate(self.sent, start=1):
            if sent.key == message.key:
                return Sent(provider_id=f"mem-{self.name}-{index}")
        return None
