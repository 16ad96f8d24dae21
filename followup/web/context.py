"""What every web handler is given: the clinic's configuration, the store, the channel that
forwards replies, the clock, and (when the owner dashboard is served) the store it reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from followup.channels.base import Channel
from followup.config.loader import ClinicConfig
from followup.store.port import DashboardStore, Store

Clock = Callable[[], datetime]


@dataclass
class WebContext:
    clinic: ClinicConfig
    store: Store
    email: Channel | None  # forwards client replies to the clinic
    now: Clock
    # The owner dashboard (/admin) is served only when this is set (followup serve and run set it).
    admin: DashboardStore | None = None
