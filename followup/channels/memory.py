"""An in-memory channel: records every message and can be scripted to fail.

The dry-run channel (:mod:`followup.channels.dryrun`) is this plus files; ``simulate`` and
the tests use it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from followup.channels.base import Channel, Outgoing, Sent
from followup.core.domain import ChannelName
from followup.exceptions import DeliveryError


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
    # lookup() reads back what was sent (here the list, for the dry run its files): see Channel.
    outcomes_in_batches: bool = field(default=True, init=False, repr=False)
    # Whether ``sent`` keeps every message (lookup reads it).  The dry run keeps its files
    # instead: a worker running for months must not hold every text it wrote in memory.
    keep_sent: bool = field(default=True, init=False, repr=False)

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
        if self.keep_sent:
            self.sent.append(message)
        return Sent(provider_id=f"mem-{self.name}-{self._ids}")

    def lookup(self, message: Outgoing) -> Sent | None:
        for index, sent in enumerate(self.sent, start=1):
            if sent.key == message.key:
                return Sent(provider_id=f"mem-{self.name}-{index}")
        return None
