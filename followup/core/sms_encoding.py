"""SMS length, encoding and segment count, as carriers bill them.

GSM-7 fits 160 characters in one segment, 153 per segment once split (the rest of
each segment holds the concatenation header); characters from the GSM-7 extension
table take two septets.  Any character outside GSM-7 switches the whole message to
UCS-2: 70 per segment, 67 once split, and characters outside the Basic Multilingual
Plane (most emoji) take two UTF-16 units.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Look-alikes that would force UCS-2 for no visible gain; replaced like Twilio's
# "smart encoding" does when sms_smart_encoding is on.
SMART_REPLACEMENTS = {
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space (CLDR puts it before AM/PM)
    "\u2009": " ",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u2022": "-",
}


@dataclass(frozen=True)
class SmsInfo:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    ucs2_chars: tuple[str, ...]  # the distinct characters that forced UCS-2

    @property
    def length(self) -> int:
        return len(self.text)


def smart_encode(text: str) -> str:
    return "".join(SMART_REPLACEMENTS.get(ch, ch) for ch in text)


def analyse(text: str) -> SmsInfo:
    offenders = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
    if not offenders:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi = 160, 153
        encoding = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
        encoding = "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else -(-units // multi)
    return SmsInfo(text=text, encoding=encoding, units=units, segments=segments, ucs2_chars=offenders)


def describe_char(ch: str) -> str:
    """``'’' (U+2019 RIGHT SINGLE QUOTATION MARK)`` for error messages."""
    name = unicodedata.name(ch, "UNNAMED")
    return f"{ch!r} (U+{ord(ch):04X} {name})"
