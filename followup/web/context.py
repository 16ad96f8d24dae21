"""What every web handler is given: the clinic's configuration, the store, the channel that
forwards replies, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from followup.channels.base import Channel
from followup.config.loader import ClinicConfig
from followup.store.port import Store

Clock = Callable[[], datetime]


@dataclass
class WebContext:
    clinic: ClinicConfig
    store: Store
    email: Channel | None  # forwards client replies to the clinic
    now: Clock
