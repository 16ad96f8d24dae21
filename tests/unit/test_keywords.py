"""Inbound SMS keywords: what a client's text means, with the clinic's own word lists."""

from __future__ import annotations

import pytest

from followup.core.keywords import Keyword, KeywordTable, classify, help_text

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
        "Stop please",  # a sentence is for a human to read, not an opt-out
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
    assert classify("STOP", KeywordTable()) == Keyword("reply")


def test_help_reply_says_who_how_often_and_how_to_stop() -> None:
    text = help_text("Shoreline NMT Miami", "+1 305-555-0100", 3)
    assert text.startswith("Shoreline NMT Miami:")
    assert "+1 305-555-0100" in text
    assert "up to 3 msgs/day" in text
    assert "Msg & data rates may apply" in text
    assert text.endswith("Reply STOP to stop, STOP TIPS to stop tips only.")
