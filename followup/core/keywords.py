"""Inbound SMS keywords: a pure function from the text to what it means.

The word lists come from settings (``[keywords]`` in ``config/followup.toml``) as a
:class:`KeywordTable`; nothing here reads configuration itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Meaning = Literal["stop", "stop_marketing", "start", "help", "extra", "reply"]


@dataclass(frozen=True)
class Keyword:
    meaning: Meaning
    word: str | None = None


@dataclass(frozen=True)
class KeywordTable:
    """The words for each meaning, checked in this order: STOP TIPS before STOP."""

    stop_marketing: Sequence[str] = ()
    stop: Sequence[str] = ()
    start: Sequence[str] = ()
    help: Sequence[str] = ()
    extra: Mapping[str, str] = field(default_factory=dict)  # word -> reply template


def normalise(text: str) -> str:
    return " ".join(text.split()).upper()


def classify(text: str, table: KeywordTable) -> Keyword:
    """Matched on the whole message, ignoring case and surrounding spaces: "stop " is STOP,
    "Stop please" is a reply for a human."""
    said = normalise(text)
    tables: list[tuple[Meaning, Sequence[str]]] = [
        ("stop_marketing", table.stop_marketing),
        ("stop", table.stop),
        ("start", table.start),
        ("help", table.help),
        ("extra", list(table.extra)),
    ]
    for meaning, words in tables:
        for word in words:
            if said == normalise(word):
                return Keyword(meaning, normalise(word))
    return Keyword("reply")


def help_text(business_name: str, business_phone: str, cap_per_day: int) -> str:
    """The HELP reply carriers require: who we are, what we send, how often, how to stop (CTIA)."""
    return (
        f"{business_name}: appointment reminders, aftercare and self-care tips, up to "
        f"{cap_per_day} msgs/day. Msg & data rates may apply. Call {business_phone}. "
        "Reply STOP to stop, STOP TIPS to stop tips only."
    )
