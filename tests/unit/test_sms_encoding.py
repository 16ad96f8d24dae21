import pytest

from followup.core.sms_encoding import analyse, describe_char, smart_encode


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
