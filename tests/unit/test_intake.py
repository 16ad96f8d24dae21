"""The CSV parsing layer of ``followup import``: files in, validated rows and row errors out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from followup.core.domain import Consent
from followup.intake import (
    CLIENT_FIELDS,
    SESSION_FIELDS,
    ClientRow,
    MappingError,
    ParseResult,
    SessionRow,
    parse_mapping,
    read_clients,
    read_sessions,
)
from followup.intake.presets import Kind, Preset, shipped_presets
from followup.timeutil import UTC
from tests.conftest import REPO

DATA = Path(__file__).resolve().parent.parent / "data"
MESSY = DATA / "clients_messy.csv"
SESSIONS = DATA / "sessions.csv"
EXPORTS = DATA / "exports"
BOOKING_MAP = [
    "external_id=Client ID",
    "phone=Mobile Phone",
    "email=Email Address",
    "sms_marketing=SMS Opt In",
    "email_marketing=Email Opt In",
]
FOCUS_AREAS: dict[str, str] = yaml.safe_load((REPO / "config" / "tips.yaml").read_text(encoding="utf-8"))["focus_areas"]
SESSION_HEADER = "external_id,client,start,end,duration,service,therapist,status,focus"
SHIPPED = shipped_presets()
PRESETS = list(SHIPPED.values())
AUTO_ID = re.compile(r"auto-[0-9a-f]{12}")


def messy() -> ParseResult[ClientRow]:
    mapping = parse_mapping(BOOKING_MAP, CLIENT_FIELDS)
    return read_clients(MESSY, mapping, shown="clients_messy.csv", languages=("en", "es"))


def sessions(**kwargs: object) -> ParseResult[SessionRow]:
    return read_sessions(SESSIONS, shown="sessions.csv", focus_areas=FOCUS_AREAS, **kwargs)  # type: ignore[arg-type]


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CLIENT_HEADER = (
    "external_id,first_name,last_name,phone,email,timezone,language,preferred_channel,sms_marketing,email_marketing"
)


def client_file(tmp_path: Path, *rows: str, header: str = CLIENT_HEADER) -> Path:
    return write(tmp_path, "\n".join([header, *rows]) + "\n")


def one_client(tmp_path: Path, row: str, **kwargs: object) -> ParseResult[ClientRow]:
    return read_clients(client_file(tmp_path, row), shown="in.csv", **kwargs)  # type: ignore[arg-type]


def one_session(tmp_path: Path, row: str, **kwargs: object) -> ParseResult[SessionRow]:
    path = write(tmp_path, f"{SESSION_HEADER}\n{row}\n")
    return read_sessions(path, shown="in.csv", focus_areas=FOCUS_AREAS, **kwargs)  # type: ignore[arg-type]


def session_file(tmp_path: Path, header: str, *rows: str, **kwargs: object) -> ParseResult[SessionRow]:
    path = write(tmp_path, "\n".join([header, *rows]) + "\n")
    return read_sessions(path, shown="in.csv", **kwargs)  # type: ignore[arg-type]


def utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def local(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z")


# --------------------------------------------------------------------------- the messy clients export


def test_the_fixture_really_is_messy() -> None:
    raw = MESSY.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n\r\n" in raw  # CRLF line endings and blank lines
    assert b'"Garc\xc3\xada\r\nOrtiz"' in raw  # a quoted newline


def test_messy_clients_good_rows_come_through() -> None:
    result = messy()
    assert result.file == "clients_messy.csv"
    assert result.total == 14  # blank lines are not records; the quoted newline is one record
    assert [r.row for r in result.rows] == [2, 4, 5, 7, 12, 14, 15, 18]
    ana, jose, maria, sofia, lee, tom, ivy, inigo = (r.client for r in result.rows)
    assert (ana.external_id, ana.first_name, ana.last_name) == ("C-100", "Ana", "Lopez, Jr.")
    assert (ana.phone, ana.email, ana.preferred_channel) == ("+13055550123", "ana@example.com", "sms")
    assert ana.consent == Consent(sms_marketing=True, email_marketing=True)
    assert (jose.first_name, jose.last_name) == ("José", "Pérez Núñez")
    assert (jose.phone, jose.timezone, jose.language, jose.preferred_channel) == (
        "+34612345678",
        "Europe/Madrid",
        "es",
        "email",
    )
    assert jose.consent == Consent(sms_marketing=False, email_marketing=True)
    assert (maria.first_name, maria.last_name, maria.timezone) == ("María", "García Ortiz", "America/New_York")
    # a malformed phone beside a good email: imported without the phone
    assert (sofia.external_id, sofia.phone, sofia.email, sofia.preferred_channel) == (
        "C-103",
        None,
        "sofia@example.com",
        "email",
    )
    # fr is a language, but not one followup writes in: a warning, and the default
    assert (lee.external_id, lee.phone, lee.language, lee.language_source) == ("", "+17865550199", "en", None)
    assert result.rows[4].external_id is None
    assert (tom.phone, tom.preferred_channel) == (None, "email")  # asked for sms, has no phone
    assert (ivy.phone, ivy.language) == ("+442079460958", "en")  # EN-GB -> en
    # the id identifies him: bad phone, email, zone and consent are all left out or defaulted
    assert (inigo.external_id, inigo.phone, inigo.email, inigo.timezone, inigo.language) == (
        "C-108",
        None,
        None,
        "America/New_York",
        "es",
    )
    assert (inigo.preferred_channel, inigo.consent) == ("email", Consent(sms_marketing=False, email_marketing=True))


@pytest.mark.parametrize(
    "line",
    [
        "clients_messy.csv:10: Client ID: conflicts with row 4 (same external id) on last_name; "
        "row 4 is kept (fix or remove one of them)",
        "clients_messy.csv:11: Client ID/Mobile Phone/Email Address: no external id, phone or email "
        "that can be read (at least one is required)",
        "clients_messy.csv:13: First Name: is empty (a name is required)",
        "clients_messy.csv:17: columns: 11 values but the header has 10 columns "
        "(a value containing a comma must be in double quotes)",
    ],
)
def test_messy_clients_exact_errors(line: str) -> None:
    assert line in [str(e) for e in messy().errors]


def test_only_rows_with_no_name_or_no_identity_are_rejected() -> None:
    errors = messy().errors
    assert [e.row for e in errors] == [10, 11, 13, 17]  # conflict, nobody, no name, broken record


def test_messy_clients_warnings() -> None:
    warnings = [w for w in messy().warnings if w.row != 17]  # row 17's values are shifted: noise, and it is rejected
    assert [(w.row, w.column) for w in warnings] == [
        (7, "Mobile Phone"),
        (9, "Client ID"),
        (12, "Language"),
        (13, "Preferred Channel"),
        (14, "Preferred Channel"),
        (16, "Mobile Phone"),
        (18, "Mobile Phone"),
        (18, "Email Address"),
        (18, "Mobile Phone"),
        (18, "Time Zone"),
        (18, "Preferred Channel"),
        (18, "SMS Opt In"),
    ]
    lines = [str(w) for w in warnings]
    assert lines[0] == "clients_messy.csv:7: Mobile Phone: '305-555' is not a valid phone number (region US); left out"
    assert lines[1] == "clients_messy.csv:9: Client ID: duplicate of row 2; skipped"
    assert lines[2].startswith("clients_messy.csv:12: Language: 'fr' (fr) is not one of the languages followup writes")
    assert lines[5] == "clients_messy.csv:16: Mobile Phone: duplicate of row 12; skipped"
    assert "'email'" in lines[3] and lines[3].endswith("using sms")
    assert "'sms'" in lines[4] and lines[4].endswith("using email")


def test_every_problem_of_a_row_is_reported() -> None:
    row18 = [(w.column, w.reason) for w in messy().warnings if w.row == 18]
    columns = [column for column, _ in row18]
    assert columns == ["Mobile Phone", "Email Address", "Mobile Phone", "Time Zone", "Preferred Channel", "SMS Opt In"]
    phone, email, unreachable, timezone, channel, consent = (reason for _, reason in row18)
    assert phone == "'305-555-01' is not a valid phone number (region US); left out"
    assert email.startswith("'inigo@@example.com' is not a valid email address") and email.endswith("; left out")
    assert ".;" not in email  # the library's own full stop is not kept before the ";"
    assert unreachable == "no phone or email: nothing can be sent to this client"
    assert timezone.startswith("'America/Nueva_York' is not an IANA time zone")
    assert timezone.endswith("using America/New_York")
    assert channel.startswith("'text'") and channel.endswith("using email")
    assert consent.startswith("'maybe' is not a consent value") and consent.endswith("taken as no consent")
    assert not [e for e in messy().errors if e.row == 18]


def test_unreadable_consent_is_no_consent_with_the_column_as_source() -> None:
    inigo = {r.row: r for r in messy().rows}[18]
    assert inigo.client.consent.sms_marketing is False
    assert dict(inigo.consent_sources) == {
        "sms_marketing": "clients_messy.csv:18:SMS Opt In",
        "email_marketing": "default",  # the cell is empty
    }


def test_messy_consent_sources() -> None:
    by_row = {r.row: dict(r.consent_sources) for r in messy().rows}
    assert by_row[2] == {
        "sms_marketing": "clients_messy.csv:2:SMS Opt In",
        "email_marketing": "clients_messy.csv:2:Email Opt In",
    }
    assert by_row[5] == {"sms_marketing": "default", "email_marketing": "default"}


def test_the_booking_headers_need_no_map() -> None:
    """Client ID, Mobile Phone, Email Address, SMS/Email Opt In are recognised by alias."""
    unmapped = read_clients(MESSY, shown="clients_messy.csv", languages=("en", "es"))
    assert unmapped == messy()
    assert unmapped.ignored == []
    assert unmapped.preset is None


def test_parsing_is_pure() -> None:
    assert messy() == messy()
    assert sessions() == sessions()


def test_columns_match_field_names_loosely() -> None:
    result = read_clients(DATA / "clients_simple.csv")
    assert result.file == str(DATA / "clients_simple.csv")
    assert result.errors == [] and result.total == 2
    ana, ben = (r.client for r in result.rows)
    assert (ana.first_name, ana.last_name, ana.phone, ana.email) == ("Ana", "López", "+13055550123", "ana@example.com")
    assert (ben.phone, ben.email, ben.preferred_channel) == (None, "ben@example.com", "email")
    assert result.ignored == ["notes"]  # no field reads it: the import summary lists it


# --------------------------------------------------------------------------- client fields, table-driven


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("305.555.0123", "US", "+13055550123"),
        ("1-305-555-0123", "US", "+13055550123"),
        ("+34 612 345 678", "US", "+34612345678"),
        ("612 345 678", "ES", "+34612345678"),
    ],
)
def test_phones_become_e164(tmp_path: Path, raw: str, region: str, expected: str) -> None:
    path = client_file(tmp_path, f"C1,Ana,,{raw},,,,,,")
    result = read_clients(path, default_region=region)
    assert result.errors == []
    assert result.rows[0].client.phone == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ("3055550123,,,,Text", "sms"),
        ("3055550123,,,,", "sms"),
        (",ana@example.com,,,", "email"),
        ("3055550123,ana@example.com,,,EMAIL", "email"),
        ("3055550123,ana@example.com,,,e-mail", "email"),
    ],
)
def test_preferred_channel(tmp_path: Path, cells: str, expected: str) -> None:
    result = read_clients(client_file(tmp_path, f"C1,Ana,,{cells},,"))
    assert result.errors == [] and result.warnings == []
    assert result.rows[0].client.preferred_channel == expected


@pytest.mark.parametrize(
    ("sms", "email", "expected"),
    [
        ("", "", Consent()),
        ("Y", "N", Consent(sms_marketing=True, email_marketing=False)),
        ("true", "false", Consent(sms_marketing=True, email_marketing=False)),
        ("TRUE", "FALSE", Consent(sms_marketing=True, email_marketing=False)),
        ("1", "0", Consent(sms_marketing=True, email_marketing=False)),
        ("no", "YES", Consent(sms_marketing=False, email_marketing=True)),
        ("Subscribed", "Unsubscribed", Consent(sms_marketing=True, email_marketing=False)),
        ("SUBSCRIBED", "unsubscribed", Consent(sms_marketing=True, email_marketing=False)),
        ("Opted In", "opted out", Consent(sms_marketing=True, email_marketing=False)),
        ("si", "No", Consent(sms_marketing=True, email_marketing=False)),
        ("Sí", "SÍ", Consent(sms_marketing=True, email_marketing=True)),
        ("unknown", "Unknown", Consent()),  # never asked: the defaults
    ],
)
def test_marketing_consent(tmp_path: Path, sms: str, email: str, expected: Consent) -> None:
    result = read_clients(client_file(tmp_path, f"C1,Ana,,3055550123,,,,,{sms},{email}"))
    assert result.errors == [] and result.warnings == []
    assert result.rows[0].client.consent == expected


@pytest.mark.parametrize(
    ("sms", "email", "sources"),
    [
        ("", "", ("default", "default")),
        ("unknown", "", ("default", "default")),
        ("yes", "", ("in.csv:2:sms_marketing", "default")),
        ("", "no", ("default", "in.csv:2:email_marketing")),
        ("n", "y", ("in.csv:2:sms_marketing", "in.csv:2:email_marketing")),
    ],
)
def test_consent_sources(tmp_path: Path, sms: str, email: str, sources: tuple[str, str]) -> None:
    row = one_client(tmp_path, f"C1,Ana,,3055550123,,,,,{sms},{email}").rows[0]
    assert (row.consent_sources["sms_marketing"], row.consent_sources["email_marketing"]) == sources


def test_consent_defaults_when_the_file_has_no_consent_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,First Name,Mobile Phone\nC-1,Maria,(305) 555-0142\n")
    row = read_clients(path).rows[0]
    assert row.client.consent == Consent(sms_marketing=False, email_marketing=True)
    assert dict(row.consent_sources) == {"sms_marketing": "default", "email_marketing": "default"}


def test_consent_source_names_the_column_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,First Name,Email,Email Subscription Status\nC-1,Maria,maria@example.com,No\n")
    row = read_clients(path, shown="clients.csv").rows[0]
    assert row.client.consent.email_marketing is False
    assert row.consent_sources["email_marketing"] == "clients.csv:2:Email Subscription Status"


@pytest.mark.parametrize(
    ("raw", "language"),
    [
        ("", "en"),
        ("es", "es"),
        ("ES", "es"),
        ("es-MX", "es"),
        ("es-US", "es"),
        ("es_us", "es"),
        ("Spanish", "es"),
        ("Español", "es"),
        ("spanish", "es"),
        ("spa", "es"),  # ISO 639-2, through CLDR's language aliases
        ("Espanol", "es"),
        ("castellano", "es"),
        ("Spanish (US)", "es"),
        ("sp", "es"),
        ("eng", "en"),
    ],
)
def test_language_is_kept_as_given(tmp_path: Path, raw: str, language: str) -> None:
    result = one_client(tmp_path, f"C1,Ana,,3055550123,,,{raw},,,", languages=("en", "es"))
    assert result.warnings == []
    assert result.rows[0].client.language == language
    assert result.rows[0].client.language_source == ("import" if raw else None)  # empty: the file said nothing


@pytest.mark.parametrize("raw", ["fr", "pt-BR", "German"])
def test_a_language_followup_does_not_write_is_a_warning_and_the_default(tmp_path: Path, raw: str) -> None:
    result = one_client(tmp_path, f"C1,Ana,,3055550123,,,{raw},,,", languages=("en", "es"), default_language="es")
    assert result.errors == []
    assert (result.rows[0].client.language, result.rows[0].client.language_source) == ("es", None)
    [warning] = result.warnings
    assert (warning.row, warning.column) == (2, "language")
    assert "is not one of the languages followup writes in: en, es" in warning.reason
    assert warning.reason.endswith("the client's stored language is kept ('es' for a new client)")


@pytest.mark.parametrize("raw", ["xx", "Klingon"])
def test_an_unknown_language_is_a_warning_and_the_default(tmp_path: Path, raw: str) -> None:
    result = one_client(tmp_path, f"C1,Ana,,3055550123,,,{raw},,,", default_language="es")
    assert result.errors == []
    assert result.rows[0].client.language == "es"
    [warning] = result.warnings
    assert (warning.row, warning.column) == (2, "language")
    assert warning.reason.startswith(f"{raw!r} is not a language")
    assert warning.reason.endswith("the client's stored language is kept ('es' for a new client)")


@pytest.mark.parametrize(
    ("cells", "column", "reason_starts", "reason_ends", "attribute", "value"),
    [
        (
            "3055550123,ana@,,,,,",
            "email",
            "'ana@' is not a valid email address",
            "; left out",
            "email",
            None,
        ),
        (
            "305-555,ana@example.com,,,,,",
            "phone",
            "'305-555' is not a valid phone number (region US)",
            "; left out",
            "phone",
            None,
        ),
        (
            "3055550123,,Mars/Olympus,,,,",
            "timezone",
            "'Mars/Olympus' is not an IANA time zone",
            "using America/Chicago",
            "timezone",
            "America/Chicago",
        ),
        (
            "3055550123,,,,fax,,",
            "preferred_channel",
            "'fax' is not a channel (allowed: sms, text, email)",
            "using sms",
            "preferred_channel",
            "sms",
        ),
        (
            ",ana@example.com,,,fax,,",
            "preferred_channel",
            "'fax' is not a channel",
            "using email",
            "preferred_channel",
            "email",
        ),
        (
            "3055550123,,,,,maybe,",
            "sms_marketing",
            "'maybe' is not a consent value",
            "taken as no consent",
            "consent",
            Consent(sms_marketing=False, email_marketing=True),
        ),
        (
            "3055550123,,,,,,nah",
            "email_marketing",
            "'nah' is not a consent value",
            "taken as no consent",
            "consent",
            Consent(sms_marketing=False, email_marketing=False),
        ),
    ],
)
def test_one_bad_field_is_a_warning_and_the_client_imports(
    tmp_path: Path,
    cells: str,
    column: str,
    reason_starts: str,
    reason_ends: str,
    attribute: str,
    value: object,
) -> None:
    result = one_client(tmp_path, f"C1,Ana,,{cells}", default_timezone="America/Chicago")
    assert result.errors == []
    assert [r.external_id for r in result.rows] == ["C1"]
    assert getattr(result.rows[0].client, attribute) == value
    [warning] = result.warnings
    assert (warning.file, warning.row, warning.column) == ("in.csv", 2, column)
    assert warning.reason.startswith(reason_starts), warning.reason
    assert warning.reason.endswith(reason_ends), warning.reason


def test_the_warning_line_format(tmp_path: Path) -> None:
    result = one_client(tmp_path, ",Maria,Diaz,305-555,maria.diaz@example.com,,,,,")
    assert [str(w) for w in result.warnings] == [
        "in.csv:2: phone: '305-555' is not a valid phone number (region US); left out"
    ]
    assert result.rows[0].client.email == "maria.diaz@example.com"


@pytest.mark.parametrize(
    ("preferred", "phone", "email", "channel"),
    [
        ("sms", "", "lucas@example.com", "email"),
        ("email", "3055550123", "", "sms"),
    ],
)
def test_a_channel_the_client_cannot_be_reached_on_falls_back(
    tmp_path: Path, preferred: str, phone: str, email: str, channel: str
) -> None:
    result = one_client(tmp_path, f"C1,Lucas,Diaz,{phone},{email},,,{preferred},,")
    assert result.rows[0].client.preferred_channel == channel
    assert [w.column for w in result.warnings] == ["preferred_channel"]
    assert result.warnings[0].reason.endswith(f"using {channel}")


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (",Ana,,305-555,ana@,,,,,", "external_id/phone/email", "no external id, phone or email that can be read"),
        (",Ana,,,,,,,,", "external_id/phone/email", "no external id, phone or email that can be read"),
        ("C1,,Diaz,3055550123,,,,,,", "first_name", "is empty (a name is required)"),
    ],
)
def test_a_row_is_rejected_only_with_no_name_or_nothing_that_identifies(
    tmp_path: Path, row: str, column: str, reason: str
) -> None:
    result = one_client(tmp_path, row)
    assert result.rows == []
    assert [(e.row, e.column) for e in result.errors] == [(2, column)]
    assert result.errors[0].reason.startswith(reason)


def test_the_missing_identity_error_names_only_the_columns_the_file_has(tmp_path: Path) -> None:
    path = write(tmp_path, "First Name,Cell Phone\nMaria,305-555\n")
    result = read_clients(path, shown="in.csv")
    assert [(e.column, e.reason) for e in result.errors] == [
        ("Cell Phone", "no external id, phone or email that can be read (at least one is required)")
    ]
    assert [w.reason for w in result.warnings] == ["'305-555' is not a valid phone number (region US); left out"]


def test_an_id_alone_identifies_the_client(tmp_path: Path) -> None:
    result = one_client(tmp_path, "C1,Ana,,305-555,ana@,,,,,")
    assert [r.external_id for r in result.rows] == ["C1"]
    client = result.rows[0].client
    assert (client.phone, client.email, client.preferred_channel) == (None, None, "email")
    assert [w.column for w in result.warnings] == ["phone", "email", "phone"]
    assert result.warnings[-1].reason == "no phone or email: nothing can be sent to this client"


def test_defaults_and_a_client_nobody_can_reach(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Ana,,,,,,,,"), default_timezone="Europe/Madrid", shown="in.csv")
    client = result.rows[0].client
    assert (client.timezone, client.language, client.preferred_channel) == ("Europe/Madrid", "en", "email")
    assert [str(w) for w in result.warnings] == [
        "in.csv:2: phone: no phone or email: nothing can be sent to this client"
    ]


def test_values_spilling_into_unnamed_columns(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Ana,,3055550123,,,,,,,,", "C2,Bo,,3055550124,,,,,,,,extra"))
    assert [r.row for r in result.rows] == [2]  # trailing empty cells are harmless
    assert [(e.row, e.column) for e in result.errors] == [(3, "columns")]


# --------------------------------------------------------------------------- full names


@pytest.mark.parametrize(
    ("header", "name", "first", "last"),
    [
        ("Name", '"Diaz, Maria"', "Maria", "Diaz"),
        ("Name", "Maria Jose Diaz", "Maria", "Jose Diaz"),
        ("Client Name", "Lucas Diaz", "Lucas", "Diaz"),
        ("Full Name", '"García Pérez, María José"', "María José", "García Pérez"),
        ("Customer Name", "Cher", "Cher", ""),
    ],
)
def test_a_full_name_column_is_split(tmp_path: Path, header: str, name: str, first: str, last: str) -> None:
    path = write(tmp_path, f"Client ID,{header},Mobile Phone\nC-1,{name},(305) 555-0142\n")
    result = read_clients(path)
    assert result.errors == []
    client = result.rows[0].client
    assert (client.first_name, client.last_name) == (first, last)


def test_a_full_name_row_without_a_name_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,Name,Mobile Phone\nC-1,,(305) 555-0142\n")
    result = read_clients(path, shown="in.csv")
    assert result.rows == []
    assert [str(e) for e in result.errors] == ["in.csv:2: Name: is empty (a name is required)"]


def test_a_first_name_column_wins_over_a_full_name(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,First Name,Last Name,Name,Phone\nC-1,Majo,García,María José García,3055550142\n")
    client = read_clients(path).rows[0].client
    assert (client.first_name, client.last_name) == ("Majo", "García")


# --------------------------------------------------------------------------- column aliases


@pytest.mark.parametrize("header", ["Client ID", "Customer ID", "Patient ID", "Reference ID", "client_id"])
def test_id_aliases(tmp_path: Path, header: str) -> None:
    path = write(tmp_path, f"{header},First Name,Phone\nMIA-0042,Lucas,786-555-0131\n")
    result = read_clients(path)
    assert result.errors == []
    assert result.rows[0].external_id == "MIA-0042"
    assert result.ignored == []


@pytest.mark.parametrize(
    ("header", "value", "attribute", "expected"),
    [
        ("Mobile Phone", "(786) 555-0199", "phone", "+17865550199"),
        ("Cell Phone", "(786) 555-0199", "phone", "+17865550199"),
        ("Email Address", "lucas.diaz@example.com", "email", "lucas.diaz@example.com"),
        ("Email Subscription Status", "Unsubscribed", "consent", Consent(email_marketing=False)),
        ("SMS Opt In", "Yes", "consent", Consent(sms_marketing=True)),
    ],
)
def test_client_column_aliases(tmp_path: Path, header: str, value: str, attribute: str, expected: object) -> None:
    path = write(tmp_path, f"Client ID,First Name,Home Phone,{header}\nC-1,Lucas,786-555-0131,{value}\n")
    result = read_clients(path)
    assert result.errors == []
    assert getattr(result.rows[0].client, attribute) == expected
    assert result.ignored == ["Home Phone"]  # not an alias: only a mobile number gets texts


def test_a_column_named_like_the_field_beats_an_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,First Name,Phone,Mobile Phone\nC-1,Lucas,786-555-0131,786-555-0199\n")
    result = read_clients(path)
    assert result.rows[0].client.phone == "+17865550131"
    assert result.ignored == ["Mobile Phone"]


def test_a_map_for_one_field_keeps_the_aliases_for_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, "Client ID,First Name,Cell #,Notes\nC-1,Maria,305 555 0142,likes firm pressure\n")
    result = read_clients(path, parse_mapping(["phone=Cell #"], CLIENT_FIELDS))
    assert result.errors == []
    assert (result.rows[0].external_id, result.rows[0].client.phone) == ("C-1", "+13055550142")
    assert result.ignored == ["Notes"]


# --------------------------------------------------------------------------- duplicates in one file


def test_family_members_with_ids_share_a_phone(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Maria,Diaz,3055550123,,,,,,", "C2,Lucas,Diaz,305-555-0123,,,,,,"))
    assert result.errors == [] and result.warnings == []
    assert [(r.client.first_name, r.client.phone) for r in result.rows] == [
        ("Maria", "+13055550123"),
        ("Lucas", "+13055550123"),
    ]


def test_family_members_without_ids_share_a_phone(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, ",Maria,Diaz,3055550123,,,,,,", ",Lucas,Diaz,(305) 555-0123,,,,,,"))
    assert result.errors == [] and result.warnings == []
    assert [r.client.first_name for r in result.rows] == ["Maria", "Lucas"]


def test_rows_with_ids_are_keyed_by_id_only(tmp_path: Path) -> None:
    result = read_clients(
        client_file(
            tmp_path,
            "C1,Maria,Diaz,3055550123,maria@example.com,,,,,",
            "C2,Maria,Diaz,3055550123,maria@example.com,,,,,",  # same everything but the id: two clients
            "C1,Maria,Diaz,3055550123,maria@example.com,,,,,",  # same id, same values: a repeat
        ),
        shown="in.csv",
    )
    assert [r.external_id for r in result.rows] == ["C1", "C2"]
    assert result.errors == []
    assert [str(w) for w in result.warnings] == ["in.csv:4: external_id: duplicate of row 2; skipped"]


def test_a_no_id_row_with_the_same_phone_and_first_name_conflicts(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, ",Maria,Diaz,3055550123,,,,,,", ",Maria,Perez,305-555-0123,,,,,,"))
    assert [r.row for r in result.rows] == [2]
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (
            3,
            "phone",
            "conflicts with row 2 (same phone and first name) on last_name; row 2 is kept (fix or remove one of them)",
        )
    ]


def test_no_id_rows_are_keyed_by_email_first(tmp_path: Path) -> None:
    result = read_clients(
        client_file(
            tmp_path,
            ",Ana,Diaz,3055550123,ana@example.com,,,,,",
            ",Ana,Diaz,3055550123,ana@example.com,,,,,",  # a repeat
            ",Ana,Diaz,7865550142,ana@example.com,,,,,",  # same email, another phone: the same person, differing
            ",Ana,Diaz,3055550123,,,,,,",  # no email: keyed by phone and first name, which row 2 is not
        )
    )
    assert [r.row for r in result.rows] == [2, 5]
    assert [(w.row, w.column, w.reason) for w in result.warnings] == [(3, "email", "duplicate of row 2; skipped")]
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (
            4,
            "email",
            "conflicts with row 2 (same email and first name) on phone; row 2 is kept (fix or remove one of them)",
        )
    ]


# --------------------------------------------------------------------------- CSV-level trouble


def test_semicolon_files_from_european_excel(tmp_path: Path) -> None:
    path = write(tmp_path, "external_id;first_name;phone\nC1;Ana;3055550123\n")
    assert read_clients(path).rows[0].client.phone == "+13055550123"


def test_unclosed_quote_is_a_row_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'external_id,first_name,phone\nC1,Ana,3055550123\n\nC2,"Bo,3055550124\nC3,Cy,3055550125\n')
    result = read_clients(path, shown="in.csv")
    assert [r.row for r in result.rows] == [2]
    assert [str(e) for e in result.errors] == [
        "in.csv:4: columns: a quoted value opened here is never closed (the rest of the file was read into it); "
        'add the closing "'
    ]


def test_stray_quote_is_a_row_error_and_later_rows_still_count(tmp_path: Path) -> None:
    path = write(tmp_path, 'external_id,first_name,phone\nC1,"Ana"x,3055550123\nC2,Bo,3055550124\n')
    result = read_clients(path, shown="in.csv")
    assert [r.row for r in result.rows] == [3]
    assert [(e.row, e.column) for e in result.errors] == [(2, "columns")]
    assert result.total == 2


# --------------------------------------------------------------------------- sessions


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (2, ("S-1", "external_id", "C-100", "2026-12-03 20:00", "2026-12-03 21:00")),  # ISO, naive, end = +60 min
        (3, ("S-2", "external_id", "C-100", "2026-12-03 20:00", "2026-12-03 21:30")),  # ISO with a space, end given
        (4, ("S-3", "phone", "+13055550123", "2026-12-03 20:00", "2026-12-03 21:00")),  # offset
        (5, ("S-4", "email", "Ana@example.com", "2026-12-03 20:00", "2026-12-03 21:00")),  # Z
        (6, ("S-5", "external_id", "C-101", "2026-12-03 20:00", "2026-12-03 21:30")),  # US 12h, clinic time, 90 min
        (7, ("S-6", "external_id", "C-100", "2026-12-03 20:00", "2026-12-03 21:30")),  # US 24h, end as a time of day
        (8, ("S-7", "external_id", "C-100", "2026-12-03 20:00", "2026-12-03 21:30")),  # 12/3/26 3pm, 1h30m
        (9, ("S-8", "external_id", "C-100", "2026-03-08 07:30", "2026-03-08 08:30")),  # 02:30 does not exist: 03:30 EDT
        (10, ("S-9", "external_id", "C-100", "2026-03-08 06:30", "2026-03-08 07:30")),  # 01:30 EST + 60 min = 03:30 EDT
        (
            11,
            ("S-10", "external_id", "C-100", "2026-11-01 05:30", "2026-11-01 06:30"),
        ),  # 01:30 EDT + 60 min = 01:30 EST
    ],
)
def test_sessions_dates_zones_and_client_references(row: int, expected: tuple[str, ...]) -> None:
    """Expected: (external id, reference kind, normalised reference, start UTC, end UTC)."""
    parsed = {r.row: r for r in sessions().rows}[row]
    session = parsed.session
    got = (session.external_id, parsed.client_ref_kind, session.client_external_id, utc(session.start))
    assert (*got, utc(session.end)) == expected


def test_naive_times_are_wall_clock_in_the_clinics_zone() -> None:
    by_id = {r.session.external_id: r.session for r in sessions().rows}
    assert by_id["S-5"].start.strftime("%H:%M %Z") == "15:00 EST"  # C-101 lives in Madrid: irrelevant
    assert by_id["S-8"].start.strftime("%H:%M %Z") == "03:30 EDT"
    assert (by_id["S-10"].start.strftime("%H:%M %Z"), by_id["S-10"].end.strftime("%H:%M %Z")) == (
        "01:30 EDT",
        "01:30 EST",
    )


def test_client_timezones_are_ignored() -> None:
    assert sessions(client_timezones={"C-101": "Europe/Madrid", "C-100": "America/Los_Angeles"}) == sessions()


def test_the_clinic_zone_is_default_timezone(tmp_path: Path) -> None:
    result = one_session(
        tmp_path,
        "S1,305-555-0123,12/03/2026 9:00 AM,,,Massage,,,",
        default_timezone="America/Los_Angeles",
        client_timezones={"+13055550123": "America/New_York"},
    )
    assert utc(result.rows[0].session.start) == "2026-12-03 17:00"
    assert local(result.rows[0].session.start) == "2026-12-03 09:00 PST"


@pytest.mark.parametrize(
    ("clinic", "expected"),
    [
        ("America/New_York", "2026-12-03 18:00 EST"),
        ("Europe/Madrid", "2026-12-04 00:00 CET"),
    ],
)
def test_times_with_an_offset_are_converted_to_the_clinics_zone(tmp_path: Path, clinic: str, expected: str) -> None:
    result = one_session(tmp_path, "S1,C1,2026-12-03T15:00:00-08:00,,,Massage,,,", default_timezone=clinic)
    assert utc(result.rows[0].session.start) == "2026-12-03 23:00"
    assert local(result.rows[0].session.start) == expected


def test_session_values() -> None:
    by_id = {r.session.external_id: r.session for r in sessions().rows}
    first = by_id["S-1"]
    assert (first.service, first.therapist, first.status) == ("Neuromuscular therapy, 60 min", "Dana", "completed")
    assert first.focus_areas == ("neck_shoulders", "lower_back")
    assert (by_id["S-2"].status, by_id["S-3"].status, by_id["S-13"].status) == ("booked", "booked", "no_show")
    assert by_id["S-12"].status == "cancelled"  # Rescheduled: the original slot is gone
    assert by_id["S-13"].focus_areas == ("arms_hands", "jaw_head")


def test_session_errors_and_warnings() -> None:
    result = sessions()
    assert result.total == 18
    assert [(e.row, e.column) for e in result.errors] == [
        (12, "End"),
        (15, "Start"),
        (15, "Service"),
        (17, "External ID"),
        (18, "Client"),
        (19, "Client"),
    ]
    lines = [str(e) for e in result.errors]
    assert lines[0] == (
        "sessions.csv:12: End: '2026-12-03 14:00' is before the start (2026-12-03 15:00 EST); "
        "the end must not be earlier"
    )
    assert lines[1].startswith("sessions.csv:15: Start: 'tomorrow 3pm' is not a date and time")
    assert "12/03/2026 3:00 PM" in lines[1] and "December 3, 2026 3:00 pm" in lines[1]  # the spelled-out form too
    assert lines[2:] == [
        "sessions.csv:15: Service: is empty (the service is required, e.g. Neuromuscular therapy, 60 min)",
        "sessions.csv:17: External ID: conflicts with row 3 (same external id) on end; "
        "row 3 is kept (fix or remove one of them)",
        "sessions.csv:18: Client: is empty (the client's external id, phone or email is required)",
        "sessions.csv:19: Client: 'bad@' is not a valid email address: There must be something after the @-sign.",
    ]
    assert [str(w) for w in result.warnings] == [
        "sessions.csv:14: Focus: 'elbow' is not a focus area; left out (allowed: 'Neck & shoulders', 'Upper back', "
        "'Lower back', 'Hips & glutes', 'Legs & feet', 'Arms & hands', 'Jaw & head')",
        "sessions.csv:15: Duration: 'abc' is not a session length (allowed: 60, 90 min, 1h 30m, 1 hr 30 min, "
        "1.5 hours); using 60 minutes",
        "sessions.csv:16: External ID: duplicate of row 2; skipped",  # Done = completed, focus written differently
    ]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("", "booked"),
        ("Scheduled", "booked"),
        ("confirmed", "booked"),
        ("PENDING", "booked"),
        ("arrived", "completed"),
        ("Checked Out", "completed"),
        ("checked-out", "completed"),
        ("complete", "completed"),
        ("done", "completed"),
        ("attended", "completed"),
        ("Canceled", "cancelled"),
        ("cancelled", "cancelled"),
        ("Late Cancel", "cancelled"),
        ("late-cancel", "cancelled"),
        ("Rescheduled", "cancelled"),
        ("No-Show", "no_show"),
        ("noshow", "no_show"),
        ("NoShow", "no_show"),
        ("no show", "no_show"),
        ("no_show", "no_show"),
        ("missed", "no_show"),
    ],
)
def test_status_synonyms(tmp_path: Path, raw: str, status: str) -> None:
    result = one_session(tmp_path, f"S1,C1,2026-12-03 15:00,,,Massage,,{raw},")
    assert result.rows[0].session.status == status


def test_an_unknown_status_is_an_error(tmp_path: Path) -> None:
    result = one_session(tmp_path, "S1,C1,2026-12-03 15:00,,,Massage,,Whenever,")
    assert result.rows == []
    assert [e.column for e in result.errors] == ["status"]
    assert result.errors[0].reason.startswith("'Whenever' is not a session status")


@pytest.mark.parametrize(
    ("raw", "areas", "dropped"),
    [
        ("Neck & shoulders", ("neck_shoulders",), []),
        ("neck_shoulders", ("neck_shoulders",), []),
        ("neck and shoulders", ("neck_shoulders",), []),
        ("NECK/SHOULDERS", ("neck_shoulders",), []),
        ("Arms & hands", ("arms_hands",), []),
        ("upper back; Upper_Back | hips & glutes", ("upper_back", "hips_glutes"), []),
        ("legs & feet, elbow, knees", ("legs_feet",), ["elbow", "knees"]),
        ("", (), []),
    ],
)
def test_focus_matching(tmp_path: Path, raw: str, areas: tuple[str, ...], dropped: list[str]) -> None:
    result = one_session(tmp_path, f'S1,C1,2026-12-03 15:00,,,Massage,,,"{raw}"')
    assert result.rows[0].session.focus_areas == areas
    assert [w.reason.split(" is not")[0] for w in result.warnings] == [repr(d) for d in dropped]


def test_focus_without_a_vocabulary(tmp_path: Path) -> None:
    path = write(tmp_path, f"{SESSION_HEADER}\nS1,C1,2026-12-03 15:00,,,Massage,,,neck\n")
    result = read_sessions(path)
    assert result.rows[0].session.focus_areas == ()
    assert [w.reason for w in result.warnings] == [
        "'neck' is not a focus area; left out (no focus areas are configured in tips.yaml)"
    ]


@pytest.mark.parametrize(
    ("client", "kind", "ref"),
    [
        ("C-1001", "external_id", "C-1001"),
        ("12345", "external_id", "12345"),
        ("305-555-0123", "phone", "+13055550123"),
        ("+34 612 345 678", "phone", "+34612345678"),
        ("ana@EXAMPLE.com", "email", "ana@example.com"),
    ],
)
def test_client_reference_kinds(tmp_path: Path, client: str, kind: str, ref: str) -> None:
    parsed = one_session(tmp_path, f"S1,{client},2026-12-03 15:00,,,Massage,,,").rows[0]
    assert (parsed.client_ref_kind, parsed.session.client_external_id) == (kind, ref)


@pytest.mark.parametrize(
    ("start", "facts"),
    [
        ("2026-12-03", ("'2026-12-03' has no time of day", "December 3, 2026 3:00 pm")),
        ("", ("is empty (a start date and time is required", "12/03/2026 3:00 PM", "December 3, 2026 3:00 pm")),
        ("next tuesday", ("'next tuesday' is not a date and time", "month/day/year", "spelled out")),
    ],
)
def test_start_errors(tmp_path: Path, start: str, facts: tuple[str, ...]) -> None:
    result = one_session(tmp_path, f"S1,C1,{start},,,Massage,,,")
    assert [e.column for e in result.errors] == ["start"]
    reason = result.errors[0].reason
    assert reason.startswith(facts[0])
    for fact in facts[1:]:
        assert fact in reason


def test_end_as_a_time_before_the_start(tmp_path: Path) -> None:
    result = one_session(tmp_path, "S1,C1,12/03/2026 3:00 PM,2:00 PM,,Massage,,,")
    assert [(e.column, e.reason) for e in result.errors] == [
        ("end", "'2:00 PM' is before the start (2026-12-03 15:00 EST); the end must not be earlier")
    ]


# --------------------------------------------------------------------------- dates and times as exports write them


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("11/30/2026 2:30 PM", "2026-11-30 14:30 EST"),
        ("11-30-2026 2:30 PM", "2026-11-30 14:30 EST"),
        ("2026-11-30 14:30", "2026-11-30 14:30 EST"),
        ("2026-11-30T14:30:00", "2026-11-30 14:30 EST"),
        ('"December 5, 2026 11:00 am"', "2026-12-05 11:00 EST"),
        ('"December 5, 2026 11:00 AM"', "2026-12-05 11:00 EST"),
        ('"December 5, 2026 11:00 Am"', "2026-12-05 11:00 EST"),
        ('"Dec 5, 2026 2:30 p.m."', "2026-12-05 14:30 EST"),
        ('"Sat, Dec 5, 2026 11:00 am"', "2026-12-05 11:00 EST"),
        ("5 December 2026 11:00", "2026-12-05 11:00 EST"),
        ("2026-12-05T11:00:00-08:00", "2026-12-05 14:00 EST"),
    ],
)
def test_date_and_time_forms(tmp_path: Path, start: str, expected: str) -> None:
    result = one_session(tmp_path, f"S1,C1,{start},,,Massage,,,")
    assert result.errors == []
    assert local(result.rows[0].session.start) == expected


@pytest.mark.parametrize(
    ("day", "time", "expected"),
    [
        ("11/30/2026", "2:30 PM", "2026-11-30 14:30 EST"),
        ("11/30/2026", "2:30 pm", "2026-11-30 14:30 EST"),
        ("11-30-2026", "2:30PM", "2026-11-30 14:30 EST"),
        ("2026-11-30", "14:30", "2026-11-30 14:30 EST"),
        ('"December 5, 2026"', "11:00 AM", "2026-12-05 11:00 EST"),
        ("7/4/2026", "9:00 AM", "2026-07-04 09:00 EDT"),
    ],
)
def test_split_date_and_time_columns(tmp_path: Path, day: str, time: str, expected: str) -> None:
    result = session_file(
        tmp_path,
        "Appointment ID,Client ID,Appointment Date,Start Time,Service",
        f"A-1,C-100,{day},{time},Deep Tissue Massage",
    )
    assert result.errors == []
    session = result.rows[0].session
    assert local(session.start) == expected
    assert session.end - session.start == timedelta(minutes=60)  # no end or duration: the default length


@pytest.mark.parametrize(
    ("day", "time", "column", "fact"),
    [
        ("11/30/2026", "", "Start Time", "has no time of day"),
        ("", "2:30 PM", "Appointment Date", "is not a date"),
        ("11/31/2026", "2:30 PM", "Appointment Date", "'11/31/2026' is not a date"),
    ],
)
def test_split_date_and_time_errors(tmp_path: Path, day: str, time: str, column: str, fact: str) -> None:
    result = session_file(
        tmp_path, "Appointment ID,Client ID,Appointment Date,Start Time,Service", f"A-1,C-100,{day},{time},Swedish"
    )
    assert result.rows == []
    assert [e.column for e in result.errors] == [column]
    assert fact in result.errors[0].reason


def test_a_bad_time_of_day_names_the_time_column(tmp_path: Path) -> None:
    result = session_file(
        tmp_path, "Appointment ID,Client ID,Appointment Date,Start Time,Service", "A-1,C-100,11/30/2026,25:99,Swedish"
    )
    assert [e.column for e in result.errors] == ["Start Time"]
    assert "'25:99' is not a time of day" in result.errors[0].reason


def test_a_lone_start_time_column_holds_the_whole_datetime(tmp_path: Path) -> None:
    result = session_file(
        tmp_path,
        "Appointment ID,Email,Start Time,End Time,Type,Calendar",
        '1180245402,jose.nunez@example.com,"December 5, 2026 11:00 am","December 5, 2026 12:30 pm",Deep Tissue,Lucía',
        '1180245403,jose.nunez@example.com,"December 6, 2026",,Deep Tissue,Lucía',
    )
    session = result.rows[0].session
    assert (local(session.start), local(session.end)) == ("2026-12-05 11:00 EST", "2026-12-05 12:30 EST")
    assert (session.service, session.therapist) == ("Deep Tissue", "Lucía")
    assert [(e.row, e.column) for e in result.errors] == [(3, "Start Time")]
    assert "has no time of day" in result.errors[0].reason


def test_an_end_time_column_is_on_the_start_day(tmp_path: Path) -> None:
    result = session_file(
        tmp_path,
        "Appointment ID,Client ID,Appointment Date,Start Time,End Time,Service",
        "A-1,C-100,11/30/2026,2:30 PM,4:00 PM,Swedish",
    )
    session = result.rows[0].session
    assert (local(session.start), local(session.end)) == ("2026-11-30 14:30 EST", "2026-11-30 16:00 EST")


@pytest.mark.parametrize(
    ("duration", "minutes"),
    [("60", 60), ("60 min", 60), ("90 mins", 90), ("1h 30m", 90), ("1h30m", 90), ("1h", 60), ("", 60)],
)
def test_durations(tmp_path: Path, duration: str, minutes: int) -> None:
    result = session_file(
        tmp_path, "Customer ID,Date,Time,Duration,Service", f"C-1,12/05/2026,11:00 AM,{duration},Swedish Massage"
    )
    assert result.errors == []
    session = result.rows[0].session
    assert session.end - session.start == timedelta(minutes=minutes)


@pytest.mark.parametrize("duration", ["0", "abc", "-30", "13 hours"])
def test_a_bad_duration_warns_and_the_visit_takes_an_hour(tmp_path: Path, duration: str) -> None:
    result = session_file(
        tmp_path, "Customer ID,Date,Time,Duration,Service", f"C-1,12/05/2026,11:00 AM,{duration},Swedish Massage"
    )
    assert result.errors == []
    assert [w.column for w in result.warnings] == ["Duration"]
    assert result.warnings[0].reason.startswith(f"{duration!r} is not a session length")
    assert result.warnings[0].reason.endswith("using 60 minutes")
    session = result.rows[0].session
    assert session.end - session.start == timedelta(minutes=60)


def test_session_column_aliases(tmp_path: Path) -> None:
    result = session_file(
        tmp_path,
        "Appointment ID,Customer ID,Customer Name,Appointment Date,Start Time,Duration,Service,Service Provider,"
        "State,Price",
        "A-77,C-100,Maria Diaz,11/30/2026,2:30 PM,90,Swedish Massage,Andrés Molina,Completed,$150.00",
    )
    assert result.errors == []
    parsed = result.rows[0]
    session = parsed.session
    assert (session.external_id, session.client_external_id, parsed.client_name) == ("A-77", "C-100", "Maria Diaz")
    assert (local(session.start), local(session.end)) == ("2026-11-30 14:30 EST", "2026-11-30 16:00 EST")
    assert (session.service, session.therapist, session.status) == ("Swedish Massage", "Andrés Molina", "completed")
    assert result.ignored == ["Price"]


@pytest.mark.parametrize("header", ["Staff", "Service Provider", "Therapist", "Calendar"])
def test_therapist_aliases(tmp_path: Path, header: str) -> None:
    result = session_file(
        tmp_path, f"Appointment ID,Client ID,Start,Service,{header}", "A-1,C-1,11/30/2026 2:30 PM,Swedish,Lucía"
    )
    assert result.rows[0].session.therapist == "Lucía"


# --------------------------------------------------------------------------- sessions without an id column


AUTO_HEADER = "Client ID,Appointment Date,Start Time,Service"


def test_sessions_without_an_id_column_get_a_stable_id(tmp_path: Path) -> None:
    rows = ("C-100,11/30/2026,2:30 PM,Swedish Massage", "C-101,11/30/2026,4:00 PM,Deep Tissue Massage")
    first = session_file(tmp_path, AUTO_HEADER, *rows)
    again = session_file(tmp_path, AUTO_HEADER, *reversed(rows))  # a later export, other order
    ids = [r.session.external_id for r in first.rows]
    assert first.errors == [] and len(set(ids)) == 2
    assert all(AUTO_ID.fullmatch(i) for i in ids)
    assert sorted(ids) == sorted(r.session.external_id for r in again.rows)


@pytest.mark.parametrize(
    "changed",
    [
        "C-200,11/30/2026,2:30 PM,Swedish Massage",  # another client
        "C-100,11/30/2026,3:30 PM,Swedish Massage",  # another start
        "C-100,11/30/2026,2:30 PM,Hot Stone Massage",  # another service
    ],
)
def test_the_made_id_comes_from_client_start_and_service(tmp_path: Path, changed: str) -> None:
    base = session_file(tmp_path, AUTO_HEADER, "C-100,11/30/2026,2:30 PM,Swedish Massage").rows[0]
    other = session_file(tmp_path, AUTO_HEADER, changed).rows[0]
    assert base.session.external_id != other.session.external_id


def test_the_made_id_ignores_how_the_start_and_service_are_written(tmp_path: Path) -> None:
    one = session_file(tmp_path, AUTO_HEADER, "C-100,11/30/2026,2:30 PM,Swedish  Massage").rows[0]
    other = session_file(tmp_path, "Client ID,Start,Service", "C-100,2026-11-30T19:30:00Z,swedish massage").rows[0]
    assert one.session.external_id == other.session.external_id


def test_a_repeated_row_without_an_id_is_a_duplicate(tmp_path: Path) -> None:
    row = "C-100,11/30/2026,2:30 PM,Swedish Massage"
    result = session_file(tmp_path, AUTO_HEADER, row, row)
    assert len(result.rows) == 1 and result.errors == []
    assert [(w.row, w.reason) for w in result.warnings] == [(3, "duplicate of row 2; skipped")]


def test_an_empty_id_in_an_id_column_is_an_error(tmp_path: Path) -> None:
    result = session_file(
        tmp_path,
        "Appointment ID,Client ID,Appointment Date,Start Time,Service",
        "A-1,C-100,11/30/2026,2:30 PM,Swedish Massage",
        ",C-100,11/30/2026,4:00 PM,Swedish Massage",
    )
    assert [r.session.external_id for r in result.rows] == ["A-1"]
    assert [str(e) for e in result.errors] == ["in.csv:3: Appointment ID: is empty (each session needs its own id)"]


# --------------------------------------------------------------------------- presets


def test_the_shipped_presets() -> None:
    assert set(SHIPPED) == {"square", "mindbody", "vagaro", "acuity", "massagebook", "jane"}
    for preset in PRESETS:
        assert preset.system and preset.source
        assert preset.mapping("clients") and preset.mapping("sessions")


def _exports() -> Iterator[tuple[str, str]]:
    for name in ("square", "mindbody", "vagaro", "acuity", "massagebook", "jane"):
        for kind in ("clients", "appointments"):
            yield name, kind


def _read_export(name: str, kind: str) -> ParseResult[ClientRow] | ParseResult[SessionRow]:
    path = EXPORTS / f"{name}_{kind}.csv"
    if kind == "clients":
        return read_clients(path, shown=path.name, presets=PRESETS)
    return read_sessions(path, shown=path.name, presets=PRESETS, focus_areas=FOCUS_AREAS)


@pytest.mark.parametrize(("name", "kind"), list(_exports()), ids=[f"{n}_{k}" for n, k in _exports()])
def test_every_export_fixture_imports_with_no_errors(name: str, kind: str) -> None:
    result = _read_export(name, kind)
    assert [str(e) for e in result.errors] == []
    assert len(result.rows) == result.total >= 4


def _same_columns(name: str, kind: Kind) -> list[str]:
    """The shipped presets whose ``kind`` columns are exactly those of ``name`` (no header tells them apart)."""
    columns = set(SHIPPED[name].mapping(kind).values())
    return [other for other, preset in SHIPPED.items() if set(preset.mapping(kind).values()) == columns]


@pytest.mark.parametrize(("name", "kind"), list(_exports()), ids=[f"{n}_{k}" for n, k in _exports()])
def test_every_export_fixture_is_recognised_as_its_own_preset(name: str, kind: str) -> None:
    recognised = _read_export(name, kind).preset
    twins = _same_columns(name, "clients" if kind == "clients" else "sessions")
    if twins == [name]:
        assert recognised == SHIPPED[name].label
    else:  # Vagaro's and MassageBook's client lists have the same columns: the result names both
        assert recognised is not None
        assert recognised.split(" or ") == twins


def test_twin_presets_are_named_together() -> None:
    assert _same_columns("massagebook", "clients") == ["vagaro", "massagebook"]
    assert _read_export("massagebook", "clients").preset == "vagaro or massagebook"
    assert _read_export("vagaro", "appointments").preset == SHIPPED["vagaro"].label  # these differ


def test_no_preset_is_recognised_unless_presets_are_given() -> None:
    assert read_clients(EXPORTS / "jane_clients.csv").preset is None


def test_a_map_adds_to_the_recognised_preset() -> None:
    # --map "phone=Home Phone" overrides the preset's Cell Phone; the rest of the preset still applies.
    result = read_clients(EXPORTS / "mindbody_clients.csv", {"phone": "Home Phone"}, presets=PRESETS)
    assert result.preset is not None and result.preset.startswith("mindbody")
    assert "Cell Phone" in result.ignored and "Home Phone" not in result.ignored
    assert [r.external_id for r in result.rows][:2] == ["100231", "100232"]


def test_square_clients_consent_words_and_ids() -> None:
    result = _read_export("square", "clients")
    by_name = {r.client.first_name: r for r in result.rows if isinstance(r, ClientRow)}
    jose, zoe, ines = by_name["José"], by_name["Zoë"], by_name["Inés"]
    assert jose.external_id == "JZ8K3QW5N1V7T2R9M4X6B0C1DA"  # Square Customer ID, not the blank Reference ID
    assert (jose.client.phone, zoe.client.phone) == ("+13055550101", "+13055550101")  # leading apostrophe
    assert (jose.client.consent.email_marketing, zoe.client.consent.email_marketing) == (True, False)
    assert jose.consent_sources["email_marketing"] == "square_clients.csv:2:Email Subscription Status"
    assert zoe.consent_sources["email_marketing"] == "square_clients.csv:3:Email Subscription Status"
    # Square's "Unknown" (never asked) is no consent by the preset's own words, and the column said so.
    assert ines.client.consent.email_marketing is False
    assert ines.consent_sources["email_marketing"] == "square_clients.csv:5:Email Subscription Status"
    assert "Reference ID" in result.ignored and "Memo" in result.ignored


def test_square_appointment_statuses_need_the_preset() -> None:
    path = EXPORTS / "square_appointments.csv"
    with_preset = read_sessions(path, presets=PRESETS)
    assert [r.session.status for r in with_preset.rows] == ["booked", "booked", "cancelled", "no_show", "booked"]
    assert [r.session.client_external_id for r in with_preset.rows][:2] == [
        "jose.nunez@example.com",
        "zoe.nunez@example.org",
    ]
    without = read_sessions(path, shown="square_appointments.csv")
    # Any "cancelled by ..." reads as cancelled without the preset too (an owner's own header).
    assert [r.session.status for r in without.rows if r.row == 4] == ["cancelled"]


def test_mindbody_appointments() -> None:
    result = _read_export("mindbody", "appointments")
    rows = [r for r in result.rows if isinstance(r, SessionRow)]
    assert [r.session.status for r in rows] == ["no_show", "completed", "booked", "booked", "cancelled", "booked"]
    first = rows[0]
    assert (first.session.client_external_id, first.client_name) == ("100305", "Castillo-Ruiz, Inés")
    assert local(first.session.start) == "2026-11-20 18:00 EST"
    assert all(AUTO_ID.fullmatch(r.session.external_id) for r in rows)
    again = _read_export("mindbody", "appointments")
    assert [r.session.external_id for r in rows] == [
        r.session.external_id for r in again.rows if isinstance(r, SessionRow)
    ]


def test_mindbody_noshow(tmp_path: Path) -> None:
    result = session_file(
        tmp_path,
        "Date,Start Time,End Time,Client,Client ID,Staff,Appointment Type,Status,Notes",
        '11/20/2026,6:00 PM,7:00 PM,"Diaz, Maria",100305,"Molina, Andrés",Sports Massage,NoShow,',
        '11/21/2026,6:00 PM,7:00 PM,"Diaz, Maria",100305,"Molina, Andrés",Sports Massage,LateCancelled,',
        presets=PRESETS,
    )
    assert result.preset == SHIPPED["mindbody"].label
    assert [r.session.status for r in result.rows] == ["no_show", "cancelled"]


def test_jane_states_use_the_presets_words(tmp_path: Path) -> None:
    header = "Date,Start Time,End Time,Patient,Patient ID,Staff Member,Treatment,State"
    rows = (
        "2026-11-30,2:30 PM,3:30 PM,Maria Diaz,987,Lucía Herrera,Deep Tissue Massage,Arrived",
        "2026-12-01,2:30 PM,3:30 PM,Maria Diaz,987,Lucía Herrera,Deep Tissue Massage,Never Booked",
        "2026-12-02,2:30 PM,3:30 PM,Maria Diaz,987,Lucía Herrera,Deep Tissue Massage,Archived",
    )
    result = session_file(tmp_path, header, *rows, presets=PRESETS)
    assert result.preset == SHIPPED["jane"].label
    assert [r.session.status for r in result.rows] == ["completed", "cancelled", "cancelled"]
    assert [r.session.therapist for r in result.rows] == ["Lucía Herrera"] * 3
    without = session_file(tmp_path, header, *rows)
    assert [e.row for e in without.errors] == [3, 4]  # Never Booked, Archived: Jane's own words


def test_jane_rails_time_zone_names() -> None:
    result = read_clients(EXPORTS / "jane_clients.csv", shown="jane_clients.csv", presets=PRESETS)
    assert result.errors == [] and result.warnings == []
    zones = {r.client.first_name: r.client.timezone for r in result.rows}
    assert (zones["José"], zones["Raúl"]) == ("America/New_York", "America/Chicago")  # Eastern / Central Time


def test_family_members_in_the_exports_are_two_clients() -> None:
    for name in ("square", "mindbody", "vagaro", "acuity", "massagebook", "jane"):
        result = _read_export(name, "clients")
        names = [r.client.first_name for r in result.rows if isinstance(r, ClientRow)]
        assert names[:2] == ["José", "Zoë"], name  # same phone (305) 555-0101


def test_a_presets_consent_words(tmp_path: Path) -> None:
    kiosk = Preset(
        name="kiosk",
        columns={
            "clients": {"external_id": "Member No", "first_name": "Given", "phone": "Cell", "sms_marketing": "Texts"}
        },
        consent_values={"Opted in at front desk": True, "Said no": False},
    )
    path = write(
        tmp_path,
        "Member No,Given,Cell,Texts\nM-1,Maria,3055550142,Opted in at front desk\nM-2,Lucas,3055550143,said NO\n",
    )
    result = read_clients(path, shown="in.csv", presets=[kiosk])
    assert result.preset == "kiosk"
    assert [r.client.consent.sms_marketing for r in result.rows] == [True, False]
    assert [r.consent_sources["sms_marketing"] for r in result.rows] == ["in.csv:2:Texts", "in.csv:3:Texts"]
    named = read_clients(path, preset=kiosk)
    assert named.preset is None  # named, not recognised
    assert [r.client.consent.sms_marketing for r in named.rows] == [True, False]


# --------------------------------------------------------------------------- mapping and file-level errors


def test_parse_mapping() -> None:
    assert parse_mapping(["first_name=First Name", "Phone = Mobile", "full_name=Client"], CLIENT_FIELDS) == {
        "first_name": "First Name",
        "phone": "Mobile",
        "full_name": "Client",
    }


@pytest.mark.parametrize(
    ("pairs", "facts"),
    [
        (["cell=Mobile"], ("--map 'cell=Mobile': unknown field 'cell' (allowed: external_id, first_name", "full_name")),
        (
            ["Mobile"],
            ("--map 'Mobile': expected FIELD=COLUMN, e.g. first_name=First Name (fields: ", "email_marketing"),
        ),
        (
            ["phone=Mobile", "phone=Cell"],
            ("--map 'phone=Cell': phone is already mapped to 'Mobile' (one column per field)",),
        ),
    ],
)
def test_parse_mapping_errors(pairs: list[str], facts: tuple[str, ...]) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(pairs, CLIENT_FIELDS)
    message = str(caught.value)
    assert message.startswith(facts[0])
    for fact in facts[1:]:
        assert fact in message


def test_mapped_column_missing_from_the_header() -> None:
    with pytest.raises(MappingError) as caught:
        read_clients(MESSY, {"external_id": "Client ID", "phone": "Cell"}, shown="clients_messy.csv")
    assert str(caught.value) == (
        "clients_messy.csv: --map phone=Cell: no column 'Cell' in the header (columns: Client ID, First Name, "
        "Last Name, Mobile Phone, Email Address, Time Zone, Language, Preferred Channel, SMS Opt In, Email Opt In)"
    )


@pytest.mark.parametrize(
    ("header", "facts"),
    [
        (
            "First Name,Last Name,Notes",
            (
                "in.csv: no column for external_id or phone or email",
                "First Name, Last Name, Notes",
                "--map external_id=",
            ),
        ),
        ("Client ID,Phone", ("in.csv: no column for first_name or full_name", "--map first_name=")),
    ],
)
def test_required_client_column_missing(tmp_path: Path, header: str, facts: tuple[str, ...]) -> None:
    with pytest.raises(MappingError) as caught:
        read_clients(write(tmp_path, f"{header}\n"), shown="in.csv")
    message = str(caught.value)
    assert message.startswith(facts[0])
    for fact in facts[1:]:
        assert fact in message


def test_sessions_need_client_start_and_service_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Appointment,Client,When\nA1,C1,2026-12-03 15:00\n")
    with pytest.raises(MappingError) as caught:
        read_sessions(path, shown="in.csv")
    message = str(caught.value)
    assert message.startswith("in.csv: no column for start or start_date or start_time; service ")
    assert "(columns in the header: Appointment, Client, When)" in message
    assert "external_id" not in message  # an id column is optional now


def test_unknown_field_in_a_mapping_passed_directly() -> None:
    with pytest.raises(MappingError, match=r"unknown field 'mobile' in --map \(allowed: external_id, first_name"):
        read_clients(MESSY, {"mobile": "Mobile Phone"}, shown="clients_messy.csv")


def test_mapped_column_matches_loosely_and_session_mapping_works(tmp_path: Path) -> None:
    path = write(tmp_path, "Appt #,Client ID,Start Time,Service Name\nA1,C1,2026-12-03 15:00,Massage\n")
    mapping = parse_mapping(
        ["external_id=Appt #", "client=client id", "start=Start Time", "service=Service Name"], SESSION_FIELDS
    )
    result = read_sessions(path, mapping)
    assert [(r.session.external_id, r.session.client_external_id) for r in result.rows] == [("A1", "C1")]


def test_two_columns_matching_one_field(tmp_path: Path) -> None:
    path = write(tmp_path, "first_name,First Name,phone\nAna,Ana,3055550123\n")
    with pytest.raises(MappingError) as caught:
        read_clients(path, shown="in.csv")
    assert str(caught.value) == (
        "in.csv: columns 'first_name' and 'First Name' both match first_name; choose one with --map first_name=COLUMN"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            "in.csv: no header; the first line must name the columns (fields: external_id, first_name, last_name, "
            "full_name, phone, email, timezone, language, preferred_channel, sms_marketing, email_marketing)",
        ),
        (
            b"external_id,first_name,phone\nC1,Ana,3055550123\nC2,Jos\xe9,3055550124\n",
            "in.csv:3: not UTF-8 (byte 0xe9); save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)",
        ),
        (
            "external_id,first_name\n".encode("utf-16"),
            "in.csv: is UTF-16; save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(MappingError) as caught:
        read_clients(path, shown="in.csv")
    assert str(caught.value) == message


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        read_sessions(tmp_path / "nope.csv", shown="nope.csv")
    assert str(caught.value) == "nope.csv: file not found"
