"""The clinic's data as plain values: what the planner, the rules and the templates see.

The store maps its rows to these; nothing here touches a database or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from followup.timeutil import instant, require_aware

SessionStatus = Literal["booked", "completed", "cancelled", "no_show"]
ChannelName = Literal["sms", "email"]


Purpose = Literal["care", "marketing"]


@dataclass(frozen=True)
class Consent:
    """What the client agreed to receive, per channel and purpose.

    Care messages (reminders, aftercare) are transactional; marketing (tips, nudges,
    win-backs) needs consent: by default yes for email (CAN-SPAM is opt-out) and no for
    SMS (TCPA needs prior express consent), unless the import says otherwise.
    """

    sms_care: bool = True
    sms_marketing: bool = False
    email_care: bool = True
    email_marketing: bool = True

    def allows(self, channel: ChannelName, purpose: Purpose) -> bool:
        return bool(getattr(self, f"{channel}_{purpose}"))


@dataclass(frozen=True)
class Client:
    external_id: str
    first_name: str
    last_name: str = ""
    phone: str | None = None  # E.164
    email: str | None = None
    timezone: str = "America/New_York"
    language: str = "en"
    preferred_channel: ChannelName = "sms"
    consent: Consent = field(default_factory=Consent)
    # where ``language`` came from: None/"default" (nobody said), "import", "api", "owner"
    # (set-language) or "keyword"; a keyword only sets a language nobody set explicitly
    language_source: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Session:
    external_id: str
    client_external_id: str
    start: datetime
    end: datetime
    service: str
    therapist: str = ""
    focus_areas: tuple[str, ...] = field(default_factory=tuple)
    status: SessionStatus = "booked"

    def __post_init__(self) -> None:
        require_aware(self.start, "session start")
        require_aware(self.end, "session end")
        if instant(self.end) < instant(self.start):  # not wall times: the night clocks go back
            raise ValueError(f"session {self.external_id} ends before it starts")
