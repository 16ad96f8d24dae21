"""Fakes shipped with the package, for tests and for dry-run delivery.

``InMemoryChannel`` (:mod:`followup.channels.memory`) keeps what it "sent" and can be
scripted to fail; ``FixedClock`` (:mod:`followup.timeutil`) is a clock that moves only
when told to; ``memory_store`` (:mod:`followup.wiring`) is a private in-memory SQLite
store: in-memory SQLite is the store fake, so fakes and the real store share one code.
"""

from __future__ import annotations

from followup.channels.memory import InMemoryChannel
from followup.timeutil import FixedClock

__all__ = ["FixedClock", "InMemoryChannel"]
