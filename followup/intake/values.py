"""One value at a time, as exports write them: phones, emails, yes/no consent, languages, channels.

Each parser takes the raw cell text and returns the normalised value, ``None`` for an
empty cell, or raises ``ValueError`` whose message names the bad value.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence

import phonenumbers
from babel import Locale, localedata
from babel.core import get_global
from email_validator import EmailNotValidError, validate_email

from followup.core.domain import ChannelName
from followup.timeutil import zone


def phone_e164(raw: str, region: str) -> str | None:
    """E.164, or None for an empty cell."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(raw: str) -> str | None:
    """The normalised address, or None for an empty cell."""
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{raw!r} is not a valid email address: {exc}") from None


# How exports write consent: yes/no in every spelling, and the subscription words of mail tools.
_CONSENT_WORDS: dict[str, bool] = {
    **dict.fromkeys(("yes", "y", "true", "t", "1", "on", "x", "si", "sí"), True),
    **dict.fromkeys(("subscribed", "opted in", "opt in", "optin", "opted-in", "opt-in", "granted", "accepted"), True),
    **dict.fromkeys(("no", "n", "false", "f", "0", "off", "none"), False),
    **dict.fromkeys(("unsubscribed", "opted out", "opt out", "optout", "opted-out", "opt-out", "declined"), False),
    **dict.fromkeys(("never subscribed", "not subscribed", "cleaned", "bounced", "revoked", "denied"), False),
}
CONSENT_ALLOWED = "yes/no, y/n, true/false, 1/0, subscribed/unsubscribed, opted in/opted out, or empty"


def consent_word(raw: str, extra: Mapping[str, bool] | None = None) -> bool | None:
    """``True``/``False`` for a consent cell, ``None`` for an empty one (or "unknown": never asked).

    ``extra`` holds a preset's own words (Square's "Subscribed" etc.), matched case-insensitively.
    Raises ``ValueError`` naming the value for anything else.
    """
    text = " ".join(raw.replace("_", " ").split()).casefold()
    for word, meaning in (extra or {}).items():  # a preset's own words first (Square: Unknown = never asked = no)
        if text and " ".join(word.replace("_", " ").split()).casefold() == text:
            return meaning
    if not text or text in ("unknown", "n/a", "na", "-"):
        return None
    found = _CONSENT_WORDS.get(text)
    if found is None:
        raise ValueError(f"{raw!r} is not a consent value (allowed: {CONSENT_ALLOWED})")
    return found


def yes_no(raw: str, default: bool) -> bool:
    """A consent cell, ``default`` when empty (kept for callers that need no source)."""
    value = consent_word(raw)
    return default if value is None else value


LANGUAGE = re.compile(r"([A-Za-z]{2})(?:[-_][A-Za-z0-9]{2,8})*")
ISO639_2 = re.compile(r"([A-Za-z]{3})(?:[-_][A-Za-z0-9]{2,8})*")

CHANNELS: dict[str, ChannelName] = {"sms": "sms", "text": "sms", "email": "email", "e-mail": "email"}


# Spellings people and exports use that Babel's data cannot place: CLDR's language names are
# "Spanish"/"español" only (no "castellano"), and "sp" is no ISO code at all (CLDR's
# languageAlias has the ISO 639-2 codes, spa/eng/ger..., but not this common shorthand).
_LANGUAGE_ALIASES = {"sp": "es", "castellano": "es", "castilian": "es", "espanol": "es"}


def language_code(raw: str) -> str | None:
    """``es``, ``es-US``, ``ES_us``, ``spa``, ``Spanish``, ``Spanish (US)``, ``Español``,
    ``Espanol``, ``castellano``, ``sp`` -> ``es``; ``None`` when empty.

    Codes are checked against CLDR (Babel), ISO 639-2 codes (``spa``, ``eng``, ``ger``) through
    CLDR's language aliases; a well-formed code Babel does not know, or a name it cannot
    place, raises ``ValueError`` naming the value.
    """
    text = " ".join(raw.split())
    if not text:
        return None
    folded = _folded(text)
    if folded in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[folded]
    match = LANGUAGE.fullmatch(text)
    if match is not None:
        code = match[1].lower()
        if code in locale_identifiers_short():
            return code
        raise ValueError(f"{raw!r} is not a language code CLDR knows (e.g. en, es, es-US, pt-BR)")
    alpha3 = ISO639_2.fullmatch(text)
    if alpha3 is not None:
        alias = str(get_global("language_aliases").get(alpha3[1].lower()) or "").split("_")[0]
        if alias in locale_identifiers_short():
            return alias
    bare = _folded(re.sub(r"\s*\([^)]*\)$", "", text))  # "Spanish (US)", "Español (México)"
    by_name = language_names().get(bare) or _LANGUAGE_ALIASES.get(bare)
    if by_name is None:
        raise ValueError(f"{raw!r} is not a language (write a code such as en, es, es-US)")
    return by_name


def configured_language(raw: str, languages: Sequence[str]) -> str | None:
    """:func:`language_code`, and one followup writes in: ``None`` when empty; ``ValueError``
    naming the value and ``languages`` for an unknown language or one not in ``languages``
    (preview, the API, set-language and imports all say the same)."""
    code = language_code(raw)
    if code is not None and code not in languages:
        raise ValueError(
            f"{raw!r} ({code}) is not one of the languages followup writes in: "
            f"{', '.join(languages)} (languages in followup.toml)"
        )
    return code


def _folded(text: str) -> str:
    """Case and accents aside: ``Español`` is ``espanol``."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return bare.casefold()


@functools.cache
def locale_identifiers_short() -> frozenset[str]:
    return frozenset(identifier.split("_")[0] for identifier in localedata.locale_identifiers())


@functools.cache
def language_names() -> dict[str, str]:
    """Language names in English and in the language itself -> code ("spanish" and "español" -> es)."""
    names: dict[str, str] = {}
    english = Locale("en")
    for code in sorted(locale_identifiers_short()):
        if len(code) != 2:
            continue
        for name in (english.languages.get(code), _own_name(code)):
            if name:
                names.setdefault(_folded(name), code)
    return names


def _own_name(code: str) -> str | None:
    """The language's name in itself; its locale's data is dropped from Babel's cache at once
    (kept, the ~160 locales read here held 110 MB for the rest of an import)."""
    if not localedata.exists(code):
        return None
    name = localedata.load(code).get("languages", {}).get(code)
    cache = getattr(localedata, "_cache", None)
    if isinstance(cache, dict) and code != "en":
        cache.pop(code, None)
    return str(name) if name else None


# Zone names booking systems built on Rails (Jane, for one) write instead of IANA names;
# the US ones a Miami clinic's clients live in.  Source: ActiveSupport::TimeZone::MAPPING.
_RAILS_ZONES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "arizona": "America/Phoenix",
    "alaska": "America/Juneau",
    "hawaii": "Pacific/Honolulu",
    "atlantic time (canada)": "America/Halifax",
    "puerto rico": "America/Puerto_Rico",
    "indiana (east)": "America/Indiana/Indianapolis",
    # US abbreviations people type: the zone with its daylight saving, never the fixed offset
    # that IANA's legacy "EST" / "MST" would give (a June visit would read an hour off).
    **dict.fromkeys(("est", "edt", "et", "eastern", "eastern time"), "America/New_York"),
    **dict.fromkeys(("cst", "cdt", "ct", "central", "central time"), "America/Chicago"),
    **dict.fromkeys(("mst", "mdt", "mt", "mountain", "mountain time"), "America/Denver"),
    **dict.fromkeys(("pst", "pdt", "pt", "pacific", "pacific time"), "America/Los_Angeles"),
    **dict.fromkeys(("hst", "hawaii time"), "Pacific/Honolulu"),
    **dict.fromkeys(("akst", "akdt"), "America/Anchorage"),
}


def timezone_name(raw: str, default: str) -> str:
    """An IANA zone name from ``America/New_York`` or ``Eastern Time (US & Canada)``; ``default`` when empty.

    Raises ``ValueError`` naming the value when it is neither.
    """
    text = raw.strip()
    if not text:
        return default
    return zone(_RAILS_ZONES.get(" ".join(text.split()).casefold(), text)).key


def name_key(name: str) -> str:
    """Names compared as people write them: case, accents and punctuation aside
    (``Valentina Gutiérrez`` is ``valentinagutierrez``, as is ``Valentina Gutierrez``)."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"\W+", "", bare.casefold())
