"""The shape of a campaign, as the owner writes it in ``config/campaigns.yaml``.

A campaign file is a mapping from campaign name to campaign.  Validation here covers
what one campaign can say about itself; checks that need the templates or the tip
library (does that template exist?) live in :mod:`followup.config.loader`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator

from followup.core.durations import Offset, parse_duration, parse_offset

Purpose = Literal["care", "marketing"]
TriggerType = Literal["session_completed", "session_booked", "no_rebook", "lapsed", "first_visit"]
StepChannel = Literal["sms", "email", "both", "preferred"]
ExitCondition = Literal["rebooked", "opted_out", "session_cancelled"]
# Lowest first: when a per-client cap bites, the lowest-priority message waits.
Priority = Literal["tip", "nudge", "aftercare", "reminder"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Names followup's own messages to the clinic use in the outbox (a forwarded reply, the owner's
# digest): an owner's campaign may not take them.
RESERVED_NAMES = frozenset({"reply_forward", "owner_alert", "owner_digest"})


def _offset(value: Any) -> Offset:
    if isinstance(value, Offset):
        return value
    return parse_offset(value)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


OffsetField = Annotated[Offset, PlainValidator(_offset)]
DurationField = Annotated[timedelta, PlainValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    """What starts the campaign for a client.

    ``no_rebook`` / ``lapsed`` fire ``days`` after the client's last completed session
    while nothing is booked; step offsets count from that moment.
    """

    type: TriggerType
    days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `trigger: session_completed` is short for `trigger: {type: session_completed}`.
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _days(self) -> Trigger:
        needs_days = self.type in ("no_rebook", "lapsed")
        if needs_days and self.days is None:
            raise ValueError(f"trigger {self.type} needs 'days' (e.g. days: 14)")
        if not needs_days and self.days is not None:
            raise ValueError(f"'days' only goes with no_rebook and lapsed, not {self.type}")
        return self


class Conditions(_Strict):
    """A step is sent only when every condition given holds (all are optional)."""

    services: list[str] = Field(default_factory=list)
    focus_areas: list[str] = Field(default_factory=list)
    min_visits: int | None = Field(None, ge=0)
    max_visits: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> Conditions:
        if self.min_visits is not None and self.max_visits is not None and self.min_visits > self.max_visits:
            raise ValueError(f"min_visits {self.min_visits} is above max_visits {self.max_visits}")
        return self


class TipChoice(_Strict):
    """Attach a self-care tip chosen for the client from these categories."""

    categories: list[str] = Field(min_length=1)


class Step(_Strict):
    name: str | None = None
    offset: OffsetField
    channel: StepChannel = "preferred"
    template: str
    expires_after: DurationField = timedelta(hours=24)
    when: Conditions | None = None
    tip: TipChoice | None = None
    # When SMS fails for good (a landline, say), send this step by email instead, once.
    fallback_to_email: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a step name (lowercase letters, digits and _; e.g. next_day_tip)")
        return value


_DEFAULT_EXITS: dict[str, tuple[ExitCondition, ...]] = {
    "session_completed": ("opted_out",),
    "session_booked": ("opted_out", "session_cancelled"),
    "no_rebook": ("opted_out", "rebooked"),
    "lapsed": ("opted_out", "rebooked"),
    "first_visit": ("opted_out",),
}

_DEFAULT_PRIORITY: dict[tuple[str, str], Priority] = {
    ("care", "session_booked"): "reminder",
    ("care", "session_completed"): "aftercare",
    ("care", "first_visit"): "aftercare",
}


def _holdout(value: Any) -> float:
    """``10%`` (or a number of percent, ``10``) -> 0.10; 0-90 %."""
    text = value.strip().removesuffix("%").strip() if isinstance(value, str) else value
    try:
        if isinstance(text, bool):
            raise TypeError
        percent = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a share of clients (examples: 10%, 25%)") from None
    if not 0 <= percent <= MAX_HOLDOUT_PERCENT:
        raise ValueError(f"{value!r}: a holdout is between 0% and {MAX_HOLDOUT_PERCENT}% of the clients")
    return percent / 100


# A holdout above this leaves too few clients nudged for the campaign to do its job.
MAX_HOLDOUT_PERCENT = 90
HoldoutField = Annotated[float, PlainValidator(_holdout)]


class Campaign(_Strict):
    description: str
    purpose: Purpose
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    exit_on: list[ExitCondition] | None = None
    priority: Priority | None = None
    enabled: bool = True
    # The share of the clients this campaign would reach that get nothing from it (a holdout
    # group), so the report can tell whether it works.  Marketing only (checked by the loader,
    # which names the line): care messages are never withheld.
    holdout: HoldoutField = 0.0

    @property
    def exits(self) -> tuple[ExitCondition, ...]:
        """Exit conditions in force; opting out always ends a campaign."""
        chosen = tuple(self.exit_on) if self.exit_on is not None else _DEFAULT_EXITS[self.trigger.type]
        return chosen if "opted_out" in chosen else ("opted_out", *chosen)

    @property
    def effective_priority(self) -> Priority:
        if self.priority is not None:
            return self.priority
        if self.purpose == "marketing":
            return "tip" if any(s.tip for s in self.steps) else "nudge"
        return _DEFAULT_PRIORITY.get((self.purpose, self.trigger.type), "aftercare")

    def step_name(self, index: int) -> str:
        return self.steps[index].name or f"step{index + 1}"
