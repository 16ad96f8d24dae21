"""Inbound SMS keywords: a pure function from the text to what it means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from followup.config.settings import Settings

Meaning = Literal["stop", "stop_marketing", "start", "help", "extra", "reply"]


@dataclass(frozen=True)
class Keyword:
    meaning: Meaning
    word: str | None = None


def normalise(text: str) -> str:
    return " ".join(text.split()).upper()


def classify(text: str, settings: Settings) -> Keyword:
    """Matched on the whole message, ignoring case and surrounding spaces: "stop " is STOP,
    "Stop please" is a reply for a human."""
    said = normalise(text)
    tables: list[tuple[Meaning, list[str]]] = [
        ("stop_marketing", settings.keywords_stop_marketing),
        ("stop", settings.keywords_stop),
        ("start", settings.keywords_start),
        ("help", settings.keywords_help),
        ("extra", list(settings.keywords_extra)),
    ]
    for meaning, words in tables:
        for word in words:
            if said == normalise(word):
                return Keyword(meaning, normalise(word))
    return Keyword("reply")


def help_text(settings: Settings) -> str:
    return (
        f"{settings.business_name}: appointment reminders, aftercare and self-care tips, up to "
        f"{settings.cap_any_per_day} msgs/day. Msg & data rates may apply. Call {settings.business_phone}. "
        "Reply STOP to stop, STOP TIPS to stop tips only."
    )
