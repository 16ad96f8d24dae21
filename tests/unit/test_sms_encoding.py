import unicodedata

import pytest

from followup.core.sms_encoding import analyse, describe_char, smart_encode, transliterate


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        # Extension characters cost two septets each.
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "[", "GSM-7", 161, 2),
        ("{}", "GSM-7", 4, 1),
        # Spanish: é, ñ, ü, ¿, ¡ are GSM-7; á, í, ó, ú are not.
        ("¿Mañana a las 3? ¡Sí!", "UCS-2", 21, 1),
        ("¿Mañana? ¡Genial! Qué bien", "GSM-7", 26, 1),
        ("Cita mañana con José", "GSM-7", 20, 1),
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        # An emoji outside the BMP takes two UTF-16 units.
        ("hi 😊", "UCS-2", 5, 1),
        ("’", "UCS-2", 1, 1),
    ],
)
def test_segment_table(text: str, encoding: str, units: int, segments: int) -> None:
    info = analyse(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_names_each_character_forcing_ucs2() -> None:
    info = analyse("It’s – great 😊 ó")
    assert info.ucs2_chars == ("’", "–", "😊", "ó")
    assert describe_char("’") == "'’' (U+2019 RIGHT SINGLE QUOTATION MARK)"


def test_smart_encoding_keeps_gsm7() -> None:
    text = "It’s “great” – see you at 3:00\u202fPM…"
    encoded = smart_encode(text)
    assert encoded == 'It\'s "great" - see you at 3:00 PM...'
    assert analyse(encoded).encoding == "GSM-7"


# --- Twilio's message segment calculator, ported ----------------------------------------
# Vectors from github.com/TwilioDevEd/message-segment-calculator, tests/index.test.js
# (commit 29a4bc2f45655fc14246be06d5da7b15ba4d112d; also tests/segments.test.js and
# tests/methods.test.js).  Their `messageSize` is in bits without the concatenation headers:
# septets * 7 for GSM-7, UTF-16 units * 16 for UCS-2, so `units` below is messageSize / 7 or
# / 16.  The bodies are built rather than pasted: the digits run on "1234567890..." from the
# position after the leading character, exactly as in the original literals.  Not ported:
# the Malaysian variant (countryCode "MY", where Twilio's calculator treats some GSM-7
# letters as UCS-2; followup sends from US numbers) and the grapheme/line-break counters
# (numberOfCharacters), which followup does not report.


def run_of_digits(length: int, first: int = 1) -> str:
    return "".join(str((first + i) % 10) for i in range(length))


RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 4 scalars, 6 UTF-16 units
ITALY_FLAG = "\U0001f1ee\U0001f1f9"  # 2 regional indicators, 4 UTF-16 units
TRIPLE_ACCENT = "e\u0301\u0301\u0301"  # one grapheme, 4 scalars

TWILIO_VECTORS = [
    # (description, body, encoding, segments, messageSize in bits)
    ("GSM-7 in one segment", run_of_digits(160), "GSM-7", 1, 1120),
    ("GSM-7 in two segments", run_of_digits(161), "GSM-7", 2, 1127),
    ("GSM-7 in three segments", run_of_digits(307), "GSM-7", 3, 2149),
    ("UCS-2 message in one segment", "😜" + run_of_digits(68, 2), "UCS-2", 1, 1120),
    ("UCS-2 message in two segments", "😜" + run_of_digits(69, 2), "UCS-2", 2, 1136),
    ("UCS-2 message in three segments", "😜" + run_of_digits(133, 2), "UCS-2", 3, 2160),
    (
        "UCS-2 with two bytes extended characters in one segments boundary",
        ITALY_FLAG + run_of_digits(66, 2),
        "UCS-2",
        1,
        1120,
    ),
    ("UCS-2 with extended characters in two segments boundary", ITALY_FLAG + run_of_digits(67, 2), "UCS-2", 2, 1136),
    (
        "UCS-2 with four bytes extended characters in one segments boundary",
        RAINBOW_FLAG + run_of_digits(64, 2),
        "UCS-2",
        1,
        1120,
    ),
    (
        "UCS-2 with four bytes extended characters in two segments boundary",
        RAINBOW_FLAG + run_of_digits(65, 2),
        "UCS-2",
        2,
        1136,
    ),
]


@pytest.mark.parametrize(
    ("description", "body", "encoding", "segments", "bits"), TWILIO_VECTORS, ids=[v[0] for v in TWILIO_VECTORS]
)
def test_twilio_calculator_basic_vectors(description: str, body: str, encoding: str, segments: int, bits: int) -> None:
    info = analyse(body)
    assert (info.encoding, info.segments) == (encoding, segments), description
    assert info.units == bits // (7 if encoding == "GSM-7" else 16), description


@pytest.mark.parametrize("escape", ["|", "^", "€", "{", "}", "[", "]", "~", "\\"])
def test_twilio_calculator_gsm7_escape_characters(escape: str) -> None:
    one = analyse(escape + run_of_digits(158))
    assert (one.encoding, one.segments, one.units) == ("GSM-7", 1, 160)  # messageSize 1120
    two = analyse(escape + run_of_digits(159))
    assert (two.encoding, two.segments, two.units) == ("GSM-7", 2, 161)  # messageSize 1127


@pytest.mark.parametrize("character", ["Á", "Ú", "ú", "ç", "í", "Í", "ó", "Ó"])
def test_twilio_calculator_one_grapheme_ucs2_characters(character: str) -> None:
    assert (analyse(character * 70).encoding, analyse(character * 70).segments) == ("UCS-2", 1)
    assert analyse(character * 71).segments == 2
    assert analyse(character * 70).ucs2_chars == (character,)


def test_twilio_calculator_special_and_accent_vectors() -> None:
    # Issue #18: GSM-7 extension characters in a UCS-2 text cost one unit, not two.
    assert analyse("😀" + "]" * 68).segments == 1
    assert analyse("😀" + "]" * 69).segments == 2
    # Issue #17: a letter with three combining accents.
    assert analyse(TRIPLE_ACCENT + "a" * 66).segments == 1
    assert analyse(TRIPLE_ACCENT + "a" * 67).segments == 2
    # methods.test.js: getNonGsmCharacters("más") == ["á"].
    assert analyse("más").ucs2_chars == ("á",)


# --- characters never split across segments (as carriers and Twilio count) ---------------


def test_an_escape_pair_is_never_split_across_segments() -> None:
    text = run_of_digits(152) + "{" + run_of_digits(152)
    info = analyse(text)
    assert (info.encoding, info.units) == ("GSM-7", 306)
    assert info.segments == 3  # 152 | "{" + 151 | 1: not 2, as 306 / 153 would say
    assert analyse(run_of_digits(151) + "{" + run_of_digits(153)).segments == 2  # the pair fits: 153 | 153


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    info = analyse("á" * 66 + "😀" + "á" * 66)
    assert (info.encoding, info.units) == ("UCS-2", 134)
    assert info.segments == 3  # 66 | pair + 65 | 1
    assert analyse("á" * 65 + "😀" + "á" * 67).segments == 2  # the pair fits: 67 | 67


def test_a_long_run_of_escapes_packs_76_per_segment() -> None:
    # 153 septets hold 76 two-septet characters; the 77th starts a new segment.
    assert analyse("€" * 152).segments == 2
    assert analyse("€" * 153).segments == 3


# --- transliteration of inserted values --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zoë", "Zoe"),
        ("Zoe", "Zoe"),
        # GSM-7 has these: they stay.
        ("José Muñoz Müller", "José Muñoz Müller"),
        ("Ça Åse Øre Æsa ßé àèìòù ÄÖÜäöü", "Ça Åse Øre Æsa ßé àèìòù ÄÖÜäöü"),
        # Accents GSM-7 lacks are dropped, the letter stays.
        ("Núñez", "Nuñez"),
        ("Anaïs Hélène Çağla", "Anais Hélène Çagla"),
        ("François Ôtsuki Ísland", "Francois Otsuki Island"),
        ("Łukasz Đorđe Œuvre", "Lukasz Dorde OEuvre"),
        ("ﬁne １２", "fine 12"),
        # Curly quotes and dashes get their plain form; emoji and symbols go, with their space.
        ("O’Brien–Smith", "O'Brien-Smith"),
        ("Ana 💆\u200d♀️", "Ana"),
        ("🌸 Maria 🌸 Luz", "Maria Luz"),
        ("Spa™ & Co®", "Spa & Co"),
        ("½ price", "1/2 price"),
        # GSM-7 extension characters are GSM-7: they stay.
        ("{€}", "{€}"),
        ("\n\n", "\n\n"),
        ("", ""),
        # A name of another script is kept whole: better UCS-2 than a mangled name.
        ("Дмитрий", "Дмитрий"),
        ("美咲", "美咲"),
    ],
)
def test_transliterate(value: str, expected: str) -> None:
    assert transliterate(value) == expected


def test_every_latin_letter_of_a_living_language_transliterates_to_gsm7() -> None:
    """Latin-1 Supplement and Latin Extended-A (European languages), Romanian ș ț,
    Vietnamese ơ ư and Latin Extended Additional (without its medieval letters): a
    client's Latin name never makes a text UCS-2."""
    codes = [*range(0xC0, 0x180), *range(0x218, 0x21C), 0x1A0, 0x1A1, 0x1AF, 0x1B0, *range(0x1E00, 0x1E9A)]
    codes += [0x1E9E, *range(0x1EA0, 0x1EFA)]
    letters = [chr(c) for c in codes if unicodedata.category(chr(c)).startswith("L")]
    assert len(letters) > 400
    for letter in letters:
        spelt = transliterate(letter)
        assert spelt and analyse(spelt).encoding == "GSM-7", (letter, spelt)


def test_transliterate_is_idempotent_and_keeps_gsm7_text_unchanged() -> None:
    sample = "Hi Zoë 😊, see you at 3:00 PM ET – {Daniel} €20 ¿ok?"
    once = transliterate(sample)
    assert transliterate(once) == once
    assert analyse(once).encoding == "GSM-7"
    gsm = "Hi Maria, see you at 3:00 PM ET - {Daniel} €20 ¿ok?"
    assert transliterate(gsm) is gsm or transliterate(gsm) == gsm


def test_zoe_costs_the_same_as_zoe_once_transliterated() -> None:
    template = "Hi {}, thanks for coming in today! Drink extra water. - Shoreline NMT"
    accented, plain = analyse(template.format(transliterate("Zoë"))), analyse(template.format("Zoe"))
    assert accented == plain and accented.encoding == "GSM-7"
    assert analyse(template.format("Zoë")).encoding == "UCS-2"  # what it would cost untouched


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ramón", "Ramón"),
        ("Zoë 💆", "Zoë"),
        ("Núñez “Nico”", 'Núñez "Nico"'),
        ("Łukasz", "Łukasz"),
        ("ﬁ", "fi"),  # a ligature is no letter of its own: spelt out
        ("Ana", "Ana"),
    ],
)
def test_transliterate_keeping_letters_drops_only_what_is_no_letter(given: str, expected: str) -> None:
    assert transliterate(given, keep_letters=True) == expected
    assert transliterate("Ramón") == "Ramon"  # the default spells letters in GSM-7
