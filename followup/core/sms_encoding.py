"""SMS length, encoding and segment count, as carriers bill them; GSM-7 transliteration.

GSM-7 (3GPP TS 23.038) fits 160 septets in one segment, 153 per segment once split (the
rest of each segment holds the 6-byte concatenation header, 3GPP TS 23.040 9.2.3.24.1);
characters from the GSM-7 extension table take two septets (an escape and the
character).  Any character outside GSM-7 switches the whole message to UCS-2: 70 UTF-16
units in one segment, 67 once split, and characters outside the Basic Multilingual Plane
(most emoji) take two units (a surrogate pair).

A two-unit character is never cut across two segments: an escape pair or a surrogate
pair that does not fit in what is left of a segment starts the next one, as Twilio
counts (https://www.twilio.com/docs/glossary/what-sms-character-limit,
https://twiliodeved.github.io/message-segment-calculator/).  So 152 digits, ``{`` and
152 digits (306 septets) are three segments, not two.
"""

from __future__ import annotations

import re
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


# Letters and signs that NFKD leaves whole but that have an obvious GSM-7 spelling.
LATIN_FALLBACKS = {
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "ħ": "h",
    "Ħ": "H",
    "ı": "i",
    "ŧ": "t",
    "Ŧ": "T",
    "œ": "oe",
    "Œ": "OE",
    "þ": "th",
    "Þ": "Th",
    "ĸ": "k",
    "ſ": "s",
    "ẞ": "SS",
    "ŋ": "n",
    "Ŋ": "N",
    "\u02bc": "'",  # modifier letter apostrophe, from NFKD of "ŉ"
    "\u2044": "/",  # fraction slash, from NFKD of "½"
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2212": "-",  # minus sign
}


@dataclass(frozen=True)
class SmsInfo:
    """What a text costs: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    ucs2_chars: tuple[str, ...]  # the distinct characters that forced UCS-2

    @property
    def length(self) -> int:
        return len(self.text)


def smart_encode(text: str) -> str:
    """Replace look-alikes (curly quotes, long dashes, no-break spaces...) by their GSM-7
    spelling, as Twilio's Smart Encoding does
    (https://www.twilio.com/docs/messaging/services#smart-encoding).  Other text is unchanged."""
    return "".join(SMART_REPLACEMENTS.get(ch, ch) for ch in text)


def is_gsm7(ch: str) -> bool:
    """True when ``ch`` (one character) is in the GSM-7 basic or extension table."""
    return ch in GSM7_BASIC or ch in GSM7_EXTENSION


def _spell(ch: str) -> str | None:
    """A GSM-7 spelling of one character: itself, a replacement, "" to drop it, or None
    when there is none (a letter of another script)."""
    if is_gsm7(ch):
        return ch
    if ch in SMART_REPLACEMENTS:
        return SMART_REPLACEMENTS[ch]
    if ch in LATIN_FALLBACKS:
        return LATIN_FALLBACKS[ch]
    category = unicodedata.category(ch)
    if category[0] in "MSCP":  # accents left alone, symbols and emoji, punctuation, joiners, controls
        return ""
    if category[0] == "Z":
        return " "
    return None


def transliterate(text: str, *, keep_letters: bool = False) -> str:
    """``text`` spelt in GSM-7 where it can be, for values inserted into an SMS.

    - GSM-7 characters stay, including the accented letters GSM-7 has (``é è ñ ü ä ö à
      ù ì ò Ç Å Ø Æ ß``...).
    - Other accented letters lose their accent (Unicode NFKD, then the combining marks
      are dropped): ``Zoë`` -> ``Zoe``, ``Núñez`` -> ``Nuñez``, ``ç`` -> ``c``; ligatures
      and full-width forms are spelt out (``ﬁ`` -> ``fi``); a few letters NFKD keeps
      whole have a fixed spelling (``ł`` -> ``l``, ``œ`` -> ``oe``).
    - Curly quotes, long dashes and odd spaces become their plain forms (as
      :func:`smart_encode`).
    - Emoji, symbols, joiners and other punctuation outside GSM-7 are dropped; when
      something was dropped, the spaces it leaves are tidied (``"Ana 💆"`` -> ``"Ana"``).
    - A letter or digit with no GSM-7 spelling at all (Cyrillic, Greek small letters,
      CJK...) is kept: dropping it would mangle a name, so such a text stays UCS-2.

    With ``keep_letters`` (an SMS that is UCS-2 anyway) letters stay as written (``Ramón``,
    ``Łukasz``); ligatures, full-width forms, quotes, emoji and symbols are as above.

    Pure; returns a new string (``text`` itself when nothing changes).
    """
    out: list[str] = []
    dropped = False
    for ch in text:
        if keep_letters and unicodedata.category(ch).startswith("L") and unicodedata.normalize("NFKC", ch) == ch:
            out.append(ch)  # a letter as written (ligatures and full-width forms are spelt out below)
            continue
        spelt = _spell(ch)
        if spelt is None:
            parts = [_spell(part) for part in unicodedata.normalize("NFKD", ch)]
            spelt = ch if any(p is None for p in parts) else "".join(p for p in parts if p is not None)
        dropped = dropped or spelt == ""
        out.append(spelt)
    result = "".join(out)
    if dropped:
        result = re.sub(r" {2,}", " ", result).strip(" ")
    return result


def strip_accents(text: str) -> str:
    """``text`` with the accents GSM-7 lacks taken off letters: ``más`` -> ``mas``,
    ``Día`` -> ``Dia``, ``Ñoño``, ``él`` and ``pingüino`` unchanged (GSM-7 has ``ñ é ü``, and
    ``¿ ¡``).  Only letters change: emoji, symbols and other scripts stay as they are (the
    owner chose them; ``check`` names what forces UCS-2).  This is ``[sms] accents = "strip"``,
    applied to a whole SMS, the template's own words included.

    Pure; returns a new string (``text`` itself when nothing changes).
    """
    out: list[str] = []
    for ch in text:
        if is_gsm7(ch) or not ch.isalpha():
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(is_gsm7(c) for c in base) else ch)
    return "".join(out)


def _segment_count(costs: list[int], single: int, multi: int) -> int:
    """Segments for characters costing ``costs`` units each: one segment up to ``single``
    units, else segments of ``multi`` units in which a character is never split."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, free = 1, multi
    for cost in costs:
        if cost > free:
            segments, free = segments + 1, multi
        free -= cost
    return segments


def analyse(text: str) -> SmsInfo:
    """Encoding, units and segments of ``text`` as sent (no transliteration here).

    Segments as carriers and Twilio count them (see the module docstring): GSM-7 160/153
    septets, UCS-2 70/67 UTF-16 units, and an escape or surrogate pair never split across
    two segments.  An empty text is 0 segments.
    """
    offenders = tuple(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))
    if not offenders:
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, multi = 160, 153
        encoding = "GSM-7"
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi = 70, 67
        encoding = "UCS-2"
    return SmsInfo(
        text=text,
        encoding=encoding,
        units=sum(costs),
        segments=_segment_count(costs, single, multi),
        ucs2_chars=offenders,
    )


def describe_char(ch: str) -> str:
    """``'’' (U+2019 RIGHT SINGLE QUOTATION MARK)`` for error messages."""
    name = unicodedata.name(ch, "UNNAMED")
    return f"{ch!r} (U+{ord(ch):04X} {name})"
