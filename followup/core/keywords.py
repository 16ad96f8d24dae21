"""Inbound SMS keywords: a pure function from the text to what it means.

The word lists come from settings (``[keywords]`` in ``config/followup.toml``) as a
:class:`KeywordTable`; nothing here reads configuration itself.

Texts are compared as people type them on a phone: case, accents, full-width forms,
quotes, punctuation and emoji around the word do not count (``"Stop."``, ``STOP 🙏`` and
``ＳＴＯＰ`` are STOP), see :func:`normalise`.  A text that is not a bare keyword but asks,
in words, to stop ("please stop texting me", "ya no me manden mensajes") is a reply with
``possible_opt_out`` set: a person reads it and decides, it is never an opt-out by itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Meaning = Literal["stop", "stop_marketing", "start", "help", "extra", "reply"]


@dataclass(frozen=True)
class Keyword:
    """What a text means.  ``word`` is the matched keyword, upper-case and normalised
    ("STOP", "OPT OUT"); ``possible_opt_out`` only on a "reply" that reads like a request to
    stop (the clinic is told so when it is forwarded)."""

    meaning: Meaning
    word: str | None = None
    possible_opt_out: bool = False


@dataclass(frozen=True)
class KeywordTable:
    """The words for each meaning, checked in this order: STOP TIPS before STOP."""

    stop_marketing: Sequence[str] = ()
    stop: Sequence[str] = ()
    start: Sequence[str] = ()
    help: Sequence[str] = ()
    extra: Mapping[str, str] = field(default_factory=dict)  # word -> reply template


_APOSTROPHES = re.compile(r"['\u2019\u02bc`´]")
_NOT_WORD = re.compile(r"[^0-9A-Z]+")

# Stop words too common in ordinary replies to flag inside a sentence ("I need to cancel
# Thursday", "the pain was at the end of my back"); as a whole message they still opt out.
_AMBIGUOUS_IN_A_SENTENCE = frozenset({"CANCEL", "CANCELAR", "END", "QUIT", "ALTO", "STOP ALL"})

# Ways of asking to stop in a sentence, English and Spanish, matched on normalise()d text
# (upper case, no accents or apostrophes, one space between words).
_OPT_OUT_PHRASES = re.compile(
    r"\b(?:"
    r"STOP|STOPALL|UNSUBSCRIBE|UNSUB|OPT ?OUT|REVOKE"
    r"|NO MORE (?:TEXTS?|MESSAGES?|MSGS?|SMS|REMINDERS?|TIPS)"
    r"|(?:DONT|DO NOT|NEVER) (?:TEXT|MESSAGE|CONTACT|SEND|EMAIL|CALL)"
    r"|REMOVE ME|TAKE ME OFF|LEAVE ME ALONE|LOSE MY NUMBER"
    r"|PARAR|PAREN|BAJA|DARME DE BAJA|DESUSCRIBIR(?:ME)?"
    r"|NO (?:ME )?(?:MANDEN|MANDES|ENVIEN|ENVIES|ESCRIBAN|ESCRIBAS|CONTACTEN)"
    r"|NO (?:QUIERO|DESEO) (?:RECIBIR )?(?:MAS )?(?:MENSAJES|TEXTOS|SMS)"
    r"|NO MAS (?:MENSAJES|TEXTOS|SMS)"
    r"|DEJEN DE (?:MANDAR|ENVIAR|ESCRIBIR)(?:ME)?"
    r"|(?:BORRAR?|BORREN|SACAR?|SAQUEN|QUITAR?|QUITEN|ELIMINAR?|ELIMINEN)(?:ME|NOS)? DE (?:LA|SU|SUS|ESTA) LISTAS?"
    r"|(?:BORRENME|SAQUENME|QUITENME|ELIMINENME|BORRAME|SACAME|QUITAME)"
    r"|NO (?:ME )?(?:CONTACTEN|LLAMEN|MOLESTEN|ESCRIBAN|MANDEN|ENVIEN)"
    r"|NO (?:ME )?VUELVAN A (?:CONTACTAR|LLAMAR|MOLESTAR|ESCRIBIR|MANDAR|ENVIAR)"
    r"|NO QUIERO (?:QUE ME )?(?:CONTACTEN|ESCRIBAN|MANDEN|ENVIEN|LLAMEN)"
    r"|NO ME INTERESA"
    r")\b"
)


def normalise(text: str) -> str:
    """The text as keywords are compared: NFKC (full-width ``ＳＴＯＰ`` is ``STOP``), upper
    case, accents and apostrophes dropped (``SÍ`` is ``SI``, ``DON'T`` is ``DONT``), every run
    of anything but letters and digits (spaces, punctuation, quotes, emoji) one space, none at
    the ends: ``' "Stop." 🙏 '`` is ``"STOP"``, ``"opt-out"`` is ``"OPT OUT"``."""
    folded = unicodedata.normalize("NFKC", text).upper()
    bare = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    bare = _APOSTROPHES.sub("", unicodedata.normalize("NFC", bare))
    return _NOT_WORD.sub(" ", bare).strip()


def _asks_to_stop(said: str, table: KeywordTable) -> bool:
    if _OPT_OUT_PHRASES.search(said):
        return True
    padded = f" {said} "
    words = (normalise(w) for w in (*table.stop, *table.stop_marketing))
    return any(w and w not in _AMBIGUOUS_IN_A_SENTENCE and f" {w} " in padded for w in words)


def classify(text: str, table: KeywordTable) -> Keyword:
    """Matched on the whole message after :func:`normalise`: ``"Stop."`` is STOP, ``"Stop please"``
    is a reply for a human (flagged ``possible_opt_out``, as is "no more messages")."""
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
            if said and said == normalise(word):
                return Keyword(meaning, normalise(word))
    return Keyword("reply", possible_opt_out=_asks_to_stop(said, table))


# The default keywords that are Spanish words, and those that are English words: a client who
# texts one reads that language (the inbound handler may then set the client's language, see
# language_from_keyword).  Words both languages use (INFO) are in neither.
SPANISH_KEYWORDS = frozenset({"PARAR", "BAJA", "CANCELAR", "ALTO", "COMENZAR", "ALTA", "SI", "AYUDA", "PARAR CONSEJOS"})
ENGLISH_KEYWORDS = frozenset(
    {
        *("STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT", "OPTOUT"),
        *("START", "YES", "UNSTOP", "HELP", "STOP TIPS", "STOP PROMOS"),
    }
)

# Opt-out words a client may text to a reminder meaning "cancel my appointment": still a full
# opt-out (CTIA and carriers require it), but the clinic is told (followup.web.inbound).
APPOINTMENT_WORDS = frozenset({"CANCEL", "CANCELAR"})


def keyword_language(word: str | None) -> str | None:
    """``"es"`` when ``word`` (as :func:`classify` returns it, normalised) is one of the
    Spanish default keywords, ``"en"`` for an English one, else None (words like INFO shared
    by both, and a clinic's own words)."""
    if word is None:
        return None
    if word in SPANISH_KEYWORDS:
        return "es"
    return "en" if word in ENGLISH_KEYWORDS else None


# Where a client's language may have come from without anyone choosing it.
UNSET_SOURCES = frozenset({"default"})


def language_from_keyword(
    word: str | None, language: str, source: str | None, default_language: str, languages: Sequence[str]
) -> str | None:
    """The language a keyword sets for a client, or None to leave theirs alone.

    Only a language nobody chose is replaced: ``source`` "default" (an import or API call that
    said nothing), or no ``source`` (a client stored before sources were recorded) on the
    default language, or a language followup does not write in.  An import, an API call, the
    owner or an earlier keyword that set it wins: an explicitly English client who texts
    CANCELAR stays English.  Works both ways: STOP from a client never set, in a clinic whose
    default is Spanish, sets English."""
    spoken = keyword_language(word)
    if spoken is None or spoken not in languages or spoken == language:
        return None
    if language not in languages:
        return spoken
    unset = source in UNSET_SOURCES or (source is None and language == default_language)
    return spoken if unset else None


def may_mean_appointment(word: str | None) -> bool:
    """An opt-out word that, sent to a reminder, may mean "cancel my appointment"."""
    return word is not None and word in APPOINTMENT_WORDS


# What followup answers to a keyword, per language (usted in Spanish, as every message).
# CTIA's Messaging Principles want HELP to name the sender, what it sends, how often, that
# rates may apply and how to stop; STOP and START each get one confirmation.  Languages
# without an entry get English.  Placeholders: {name} {short} {phone} {cap}.
REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "help": (
            "{name}: appointment reminders, aftercare and self-care tips, up to {cap} msgs/day. "
            "Msg & data rates may apply. Call {phone}. Reply STOP to stop, STOP TIPS to stop tips only."
        ),
        "stop": "{short}: you are unsubscribed and will get no more texts from us. Reply START to resubscribe.",
        "stop_marketing": (
            "{short}: no more tips or offers. You will still get appointment reminders and aftercare. "
            "Reply STOP to stop all texts."
        ),
        "start": "{short}: you are resubscribed to texts. Reply HELP for help, STOP to stop.",
    },
    "es": {
        "help": (
            "{name}: recordatorios de citas, recomendaciones para después de la sesión y consejos de autocuidado, "
            "hasta {cap} mensajes al día. Pueden cobrarse tarifas de mensajes y datos. Llame al {phone}. "
            "Responda PARAR para no recibir más, o PARAR CONSEJOS si solo quiere dejar de recibir consejos."
        ),
        "stop": (
            "{short}: dimos de baja su número y no le enviaremos más mensajes de texto. "
            "Si cambia de opinión, responda COMENZAR."
        ),
        "stop_marketing": (
            "{short}: no le enviaremos más consejos ni ofertas. Le seguiremos enviando los recordatorios "
            "de sus citas y las recomendaciones para después de cada sesión. "
            "Responda PARAR para no recibir ningún mensaje más."
        ),
        "start": (
            "{short}: le volveremos a enviar nuestros mensajes de texto. Responda AYUDA si necesita ayuda, "
            "o PARAR para no recibir más."
        ),
    },
}


def reply_text(kind: str, language: str, *, name: str, short: str, phone: str, cap: int) -> str:
    """The keyword reply ``kind`` ("help", "stop", "stop_marketing", "start") in ``language``
    (English when there is no such language); raises KeyError for an unknown ``kind``."""
    table = REPLIES.get(language, REPLIES["en"])
    return table[kind].format(name=name, short=short, phone=phone, cap=cap)


def help_text(business_name: str, business_phone: str, cap_per_day: int, language: str = "en") -> str:
    """The HELP reply carriers require: who we are, what we send, how often, how to stop (CTIA)."""
    return reply_text("help", language, name=business_name, short=business_name, phone=business_phone, cap=cap_per_day)
