"""Inbound SMS keywords: what a client's text means, with the clinic's own word lists."""

from __future__ import annotations

import pytest

from followup.config.settings import DEFAULT_HELP, DEFAULT_START, DEFAULT_STOP, DEFAULT_STOP_MARKETING
from followup.core.keywords import (
    Keyword,
    KeywordTable,
    classify,
    help_text,
    language_from_keyword,
    may_mean_appointment,
    normalise,
)

# The word lists a Miami clinic ships with: English and Spanish, plus a BOOK shortcut.
TABLE = KeywordTable(
    stop_marketing=("STOP TIPS", "STOP PROMOS", "PARAR CONSEJOS"),
    stop=("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "PARAR"),
    start=("START", "YES", "UNSTOP", "ALTA"),
    help=("HELP", "INFO", "AYUDA"),
    extra={"Book": "Book your next session: {booking_url}"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword("stop", "STOP")),
        ("stop", Keyword("stop", "STOP")),
        (" Stop \n", Keyword("stop", "STOP")),
        ("parar", Keyword("stop", "PARAR")),
        ("Stop tips", Keyword("stop_marketing", "STOP TIPS")),
        ("  stop   TIPS ", Keyword("stop_marketing", "STOP TIPS")),
        ("parar consejos", Keyword("stop_marketing", "PARAR CONSEJOS")),
        ("start", Keyword("start", "START")),
        ("Yes", Keyword("start", "YES")),
        ("help", Keyword("help", "HELP")),
        ("Ayuda", Keyword("help", "AYUDA")),
        ("book", Keyword("extra", "BOOK")),
    ],
)
def test_keywords_match_the_whole_message_ignoring_case_and_spacing(text: str, expected: Keyword) -> None:
    # The matched word comes back upper-case: the web layer looks up the BOOK reply by it.
    assert classify(text, TABLE) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Can I move my Thursday appointment to 4pm?",
        "Thanks Maria, my neck feels so much better!",
        "STOPTIPS",
        "",
    ],
)
def test_anything_else_is_a_reply_for_the_front_desk(text: str) -> None:
    assert classify(text, TABLE) == Keyword("reply")


def test_stop_tips_is_checked_before_stop() -> None:
    # A clinic that also lists "STOP TIPS" under stop must still treat it as marketing-only.
    overlapping = KeywordTable(stop_marketing=("STOP TIPS",), stop=("STOP", "STOP TIPS"))
    assert classify("stop tips", overlapping) == Keyword("stop_marketing", "STOP TIPS")
    assert classify("stop", overlapping) == Keyword("stop", "STOP")


def test_words_configured_in_lower_case_still_match() -> None:
    table = KeywordTable(stop=("stop", "baja"), help=("info",))
    assert classify("BAJA", table) == Keyword("stop", "BAJA")
    assert classify("Info", table) == Keyword("help", "INFO")


def test_empty_table_makes_everything_a_reply() -> None:
    # ...but a STOP still reaches a person flagged, even from a clinic that emptied its lists.
    assert classify("STOP", KeywordTable()) == Keyword("reply", possible_opt_out=True)
    assert classify("See you Thursday", KeywordTable()) == Keyword("reply")


def test_help_reply_says_who_how_often_and_how_to_stop() -> None:
    text = help_text("Shoreline NMT Miami", "+1 305-555-0100", 3)
    assert text.startswith("Shoreline NMT Miami:")
    assert "+1 305-555-0100" in text
    assert "up to 3 msgs/day" in text
    assert "Msg & data rates may apply" in text
    assert text.endswith("Reply STOP to stop, STOP TIPS to stop tips only.")


# The lists followup ships with (config/settings.py), as the web app hands them over.
SHIPPED = KeywordTable(
    stop_marketing=tuple(DEFAULT_STOP_MARKETING),
    stop=tuple(DEFAULT_STOP),
    start=tuple(DEFAULT_START),
    help=tuple(DEFAULT_HELP),
)


@pytest.mark.parametrize(
    "text",
    ["Stop.", "STOP!", "Opt out", "Unsubscribe.", "STOP 🙏", '"stop"', "\uff33\uff34\uff2f\uff30", "\u201cStop\u201d"],
)
def test_stop_as_people_type_it_on_a_phone(text: str) -> None:
    assert classify(text, SHIPPED).meaning == "stop"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP ALL", "STOP ALL"),
        ("stopall", "STOPALL"),
        ("opt-out", "OPT OUT"),
        ("OptOut", "OPTOUT"),
        ("Revoke", "REVOKE"),
        ("quit", "QUIT"),
        ("end.", "END"),
        ("Cancel", "CANCEL"),
        ("Parar", "PARAR"),
        ("¡Baja!", "BAJA"),
        ("cancelar", "CANCELAR"),
        ("ALTO", "ALTO"),
    ],
)
def test_twilio_and_ctia_standard_stop_words_and_spanish_ones(text: str, word: str) -> None:
    assert classify(text, SHIPPED) == Keyword("stop", word)


@pytest.mark.parametrize(
    ("text", "meaning", "word"),
    [
        ("Start", "start", "START"),
        ("yes!", "start", "YES"),
        ("UNSTOP", "start", "UNSTOP"),
        ("Comenzar", "start", "COMENZAR"),
        ("Sí", "start", "SI"),
        ("help?", "help", "HELP"),
        ("Info", "help", "INFO"),
        ("¿Ayuda?", "help", "AYUDA"),
        ("Stop tips.", "stop_marketing", "STOP TIPS"),
    ],
)
def test_start_help_and_stop_tips_as_typed(text: str, meaning: str, word: str) -> None:
    assert classify(text, SHIPPED) == Keyword(meaning, word)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "Stop please",
        "please stop texting me",
        "No more messages",
        "unsubscribe me please",
        "Ya no me manden mensajes",
        "Don't text me again",
        "Por favor no me envíen más mensajes",
        "Remove me from your list",
        "Quiero darme de baja",
        "Bórrenme de la lista",
        "borrenme de su lista por favor",
        "Sáquenme de la lista",
        "Quítenme de su lista",
        "Por favor eliminarme de la lista",
        "No me contacten más",
        "No me vuelvan a escribir",
        "no quiero que me escriban",
        "Dejen de escribirme",
        "Gracias pero no me interesa",
    ],
)
def test_asking_to_stop_in_words_is_a_reply_flagged_for_a_person(text: str) -> None:
    # Never an opt-out by itself (a person decides), never a plain reply either.
    assert classify(text, SHIPPED) == Keyword("reply", possible_opt_out=True)


@pytest.mark.parametrize(
    "text",
    [
        "Can I cancel my Thursday appointment and come Friday?",  # CANCEL inside a sentence: a booking
        "The pain is at the end of my shoulder blade",
        "Yes, 4pm works for me",
        "Gracias, nos vemos el jueves",
        "STOPTIPS",
        "La lista de ejercicios me ayudó mucho",
        "Me duele la espalda, ¿me puede llamar?",
    ],
)
def test_ordinary_replies_are_not_flagged(text: str) -> None:
    assert classify(text, SHIPPED) == Keyword("reply")


def test_normalise_drops_what_a_phone_adds_around_the_word() -> None:
    assert normalise('  "Stop." 🙏 ') == "STOP"
    assert normalise("\uff33\uff34\uff2f\uff30") == "STOP"  # full-width
    assert normalise("opt-out!!") == "OPT OUT"
    assert normalise("Don\u2019t  text") == "DONT TEXT"
    assert normalise("envíen más") == "ENVIEN MAS"
    assert normalise("🙏") == ""


def test_an_empty_or_emoji_only_text_matches_no_keyword() -> None:
    # An empty configured word must not turn every emoji-only text into a keyword.
    table = KeywordTable(stop=("STOP", "🛑"))
    assert classify("🙏", table) == Keyword("reply")
    assert classify("", table) == Keyword("reply")


# --- the language a keyword sets -------------------------------------------------------------

BOTH = ("en", "es")


@pytest.mark.parametrize(
    ("word", "language", "source", "default", "expected"),
    [
        ("PARAR", "en", "default", "en", "es"),  # never chosen: the keyword's language
        ("PARAR", "en", None, "en", "es"),  # stored before sources: the default one counts as unset
        ("CANCELAR", "en", "import", "en", None),  # explicitly English: stays
        ("CANCELAR", "en", "api", "en", None),
        ("AYUDA", "en", "owner", "en", None),
        ("AYUDA", "en", "keyword", "en", None),  # an earlier keyword chose it
        ("PARAR", "fr", None, "en", "es"),  # a language followup does not write
        ("PARAR", "fr", "import", "en", "es"),
        ("PARAR", "", None, "en", "es"),
        ("PARAR", "es", "default", "en", None),  # already
        ("STOP", "es", "default", "es", "en"),  # English in a Spanish clinic: both ways
        ("HELP", "es", None, "es", "en"),
        ("STOP", "es", None, "en", None),  # stored es, not the default: somebody chose it
        ("STOP", "es", "owner", "es", None),
        ("INFO", "en", "default", "en", None),  # both languages' word
        ("BOOK", "en", "default", "en", None),
        (None, "en", "default", "en", None),
    ],
)
def test_a_keyword_sets_only_a_language_nobody_chose(
    word: str | None, language: str, source: str | None, default: str, expected: str | None
) -> None:
    assert language_from_keyword(word, language, source, default, BOTH) == expected


def test_a_keyword_never_sets_a_language_followup_does_not_write() -> None:
    assert language_from_keyword("PARAR", "en", "default", "en", ("en",)) is None
    assert language_from_keyword("STOP", "es", "default", "es", ("es",)) is None


@pytest.mark.parametrize(
    ("word", "expected"), [("CANCEL", True), ("CANCELAR", True), ("STOP", False), ("END", False), (None, False)]
)
def test_cancel_may_mean_the_appointment(word: str | None, expected: bool) -> None:
    assert may_mean_appointment(word) is expected
