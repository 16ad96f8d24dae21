"""The CSV parsing layer of ``followup import``: files in, validated rows and row errors out."""

from __future__ import annotations

from datetime import datetime
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
from followup.timeutil import UTC
from tests.conftest import REPO

DATA = Path(__file__).resolve().parent.parent / "data"
MESSY = DATA / "clients_messy.csv"
SESSIONS = DATA / "sessions.csv"
BOOKING_MAP = [
    "external_id=Client ID",
    "phone=Mobile Phone",
    "email=Email Address",
    "sms_marketing=SMS Opt In",
    "email_marketing=Email Opt In",
]
FOCUS_AREAS: dict[str, str] = yaml.safe_load((REPO / "config" / "tips.yaml").read_text(encoding="utf-8"))["focus_areas"]
SESSION_HEADER = "external_id,client,start,end,duration,service,therapist,status,focus"


def messy() -> ParseResult[ClientRow]:
    mapping = parse_mapping(BOOKING_MAP, CLIENT_FIELDS)
    return read_clients(MESSY, mapping, shown="clients_messy.csv", languages=("en", "es"))


def sessions(**kwargs: object) -> ParseResult[SessionRow]:
    return read_sessions(
        SESSIONS,
        shown="sessions.csv",
        focus_areas=FOCUS_AREAS,
        client_timezones={"C-101": "Europe/Madrid"},
        **kwargs,  # type: ignore[arg-type]
    )


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def client_file(tmp_path: Path, *rows: str, header: str = ",".join(CLIENT_FIELDS)) -> Path:
    return write(tmp_path, "\n".join([header, *rows]) + "\n")


def one_session(tmp_path: Path, row: str, **kwargs: object) -> ParseResult[SessionRow]:
    path = write(tmp_path, f"{SESSION_HEADER}\n{row}\n")
    return read_sessions(path, shown="in.csv", focus_areas=FOCUS_AREAS, **kwargs)  # type: ignore[arg-type]


def utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


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
    assert [r.row for r in result.rows] == [2, 4, 5, 12, 15]
    ana, jose, maria, lee, ivy = (r.client for r in result.rows)
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
    assert (lee.external_id, lee.phone, lee.language) == ("", "+17865550199", "en")
    assert result.rows[3].external_id is None
    assert (ivy.phone, ivy.language) == ("+442079460958", "en")  # EN-GB -> en


@pytest.mark.parametrize(
    "line",
    [
        "clients_messy.csv:7: Mobile Phone: '305-555' is not a valid phone number (region US)",
        "clients_messy.csv:10: Client ID: conflicts with row 4 (same external id) on last_name; "
        "row 4 is kept (fix or remove one of them)",
        "clients_messy.csv:11: Client ID/Mobile Phone/Email Address: no external id, phone or email "
        "(at least one is required)",
        "clients_messy.csv:13: First Name: is empty (a first name is required)",
        "clients_messy.csv:13: Preferred Channel: 'email' but there is no email address "
        "(allowed: sms, or add an email)",
        "clients_messy.csv:14: Preferred Channel: 'sms' but there is no phone to text (allowed: email, or add a phone)",
        "clients_messy.csv:17: columns: 11 values but the header has 10 columns "
        "(a value containing a comma must be in double quotes)",
        "clients_messy.csv:18: Time Zone: 'America/Nueva_York' is not an IANA time zone "
        "(examples: America/New_York, Europe/Madrid)",
    ],
)
def test_messy_clients_exact_errors(line: str) -> None:
    assert line in [str(e) for e in messy().errors]


def test_every_problem_of_a_row_is_reported() -> None:
    row18 = [(e.column, e.reason) for e in messy().errors if e.row == 18]
    assert row18 == [
        ("Mobile Phone", "'305-555-01' is not a valid phone number (region US)"),
        (
            "Email Address",
            "'inigo@@example.com' is not a valid email address: "
            "The part after the @-sign contains invalid characters: '@'.",
        ),
        ("Time Zone", "'America/Nueva_York' is not an IANA time zone (examples: America/New_York, Europe/Madrid)"),
        ("SMS Opt In", "'maybe' is not yes or no (allowed: yes, no, y, n, true, false, 1, 0; empty means no)"),
    ]
    assert {e.row for e in messy().errors} == {7, 10, 11, 13, 14, 17, 18}


def test_messy_clients_warnings() -> None:
    assert [str(w) for w in messy().warnings] == [
        "clients_messy.csv:9: Client ID: duplicate of row 2; skipped",
        "clients_messy.csv:12: Language: 'fr' has no templates; using 'en' (languages: en, es)",
        "clients_messy.csv:16: Mobile Phone: duplicate of row 12; skipped",
    ]


def test_parsing_is_pure() -> None:
    assert messy() == messy()
    assert sessions() == sessions()


def test_columns_match_field_names_loosely(tmp_path: Path) -> None:
    result = read_clients(DATA / "clients_simple.csv")
    assert result.file == str(DATA / "clients_simple.csv")
    assert result.errors == [] and result.total == 2
    ana, ben = (r.client for r in result.rows)
    assert (ana.first_name, ana.last_name, ana.phone, ana.email) == ("Ana", "López", "+13055550123", "ana@example.com")
    assert (ben.phone, ben.email, ben.preferred_channel) == (None, "ben@example.com", "email")


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
    assert result.errors == []
    assert result.rows[0].client.preferred_channel == expected


@pytest.mark.parametrize(
    ("sms", "email", "expected"),
    [
        ("", "", Consent()),
        ("Y", "N", Consent(sms_marketing=True, email_marketing=False)),
        ("true", "false", Consent(sms_marketing=True, email_marketing=False)),
        ("1", "0", Consent(sms_marketing=True, email_marketing=False)),
        ("no", "YES", Consent(sms_marketing=False, email_marketing=True)),
    ],
)
def test_marketing_consent(tmp_path: Path, sms: str, email: str, expected: Consent) -> None:
    result = read_clients(client_file(tmp_path, f"C1,Ana,,3055550123,,,,,{sms},{email}"))
    assert result.rows[0].client.consent == expected


@pytest.mark.parametrize(
    ("raw", "language", "warning"),
    [
        ("", "en", None),
        ("ES", "es", None),
        ("es-MX", "es", None),
        ("fr", "en", "'fr' has no templates; using 'en' (languages: en, es)"),
    ],
)
def test_language(tmp_path: Path, raw: str, language: str, warning: str | None) -> None:
    result = read_clients(client_file(tmp_path, f"C1,Ana,,3055550123,,,{raw},,,"), languages=("en", "es"))
    assert result.rows[0].client.language == language
    assert [w.reason for w in result.warnings] == ([warning] if warning else [])


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        (
            "3055550123,,,Spanish,,,",
            "language",
            "'Spanish' is not a language code (allowed: 2-letter codes such as en)",
        ),
        ("3055550123,,,,fax,,", "preferred_channel", "'fax' is not a channel (allowed: sms, text, email)"),
        (
            "3055550123,,,,,si,",
            "sms_marketing",
            "'si' is not yes or no (allowed: yes, no, y, n, true, false, 1, 0; empty means no)",
        ),
        (
            "3055550123,,,,,,nah",
            "email_marketing",
            "'nah' is not yes or no (allowed: yes, no, y, n, true, false, 1, 0; empty means yes)",
        ),
        (
            ",ana@,,,,,",
            "email",
            "'ana@' is not a valid email address: There must be something after the @-sign.",
        ),
    ],
)
def test_client_field_errors(tmp_path: Path, cells: str, column: str, reason: str) -> None:
    result = read_clients(client_file(tmp_path, f"C1,Ana,,{cells}"), shown="in.csv")
    assert result.rows == []
    assert [(e.row, e.column, e.reason) for e in result.errors] == [(2, column, reason)]


def test_defaults_and_a_client_nobody_can_reach(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Ana,,,,,,,,"), default_timezone="Europe/Madrid", shown="in.csv")
    client = result.rows[0].client
    assert (client.timezone, client.language, client.preferred_channel) == ("Europe/Madrid", "en", "email")
    assert [str(w) for w in result.warnings] == [
        "in.csv:2: phone: no phone or email: nothing can be sent to this client"
    ]


def test_a_no_id_row_with_a_known_phone_conflicts(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Ana,,3055550123,,,,,,", ",Pablo,,305-555-0123,,,,,,"))
    assert [r.row for r in result.rows] == [2]
    assert [e.reason for e in result.errors] == [
        "conflicts with row 2 (same phone) on external_id, first_name; row 2 is kept (fix or remove one of them)"
    ]


def test_values_spilling_into_unnamed_columns(tmp_path: Path) -> None:
    result = read_clients(client_file(tmp_path, "C1,Ana,,3055550123,,,,,,,,", "C2,Bo,,3055550124,,,,,,,,extra"))
    assert [r.row for r in result.rows] == [2]  # trailing empty cells are harmless
    assert [(e.row, e.column) for e in result.errors] == [(3, "columns")]


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
        (6, ("S-5", "external_id", "C-101", "2026-12-03 14:00", "2026-12-03 15:30")),  # US 12h, Madrid client, 90 min
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


def test_naive_times_are_wall_clock_in_the_clients_zone() -> None:
    by_id = {r.session.external_id: r.session for r in sessions().rows}
    assert by_id["S-5"].start.strftime("%H:%M %Z") == "15:00 CET"
    assert by_id["S-8"].start.strftime("%H:%M %Z") == "03:30 EDT"
    assert (by_id["S-10"].start.strftime("%H:%M %Z"), by_id["S-10"].end.strftime("%H:%M %Z")) == (
        "01:30 EDT",
        "01:30 EST",
    )


def test_session_values() -> None:
    by_id = {r.session.external_id: r.session for r in sessions().rows}
    first = by_id["S-1"]
    assert (first.service, first.therapist, first.status) == ("Neuromuscular therapy, 60 min", "Dana", "completed")
    assert first.focus_areas == ("neck_shoulders", "lower_back")
    assert (by_id["S-2"].status, by_id["S-3"].status, by_id["S-13"].status) == ("booked", "booked", "no_show")
    assert by_id["S-13"].focus_areas == ("arms_hands", "jaw_head")


def test_session_errors_and_warnings() -> None:
    result = sessions()
    assert result.total == 18
    assert [str(e) for e in result.errors] == [
        "sessions.csv:12: End: '2026-12-03 14:00' is before the start (2026-12-03 15:00 EST); "
        "the end must not be earlier",
        "sessions.csv:13: Status: 'Rescheduled' is not a session status (allowed: booked, completed, cancelled, "
        "no_show; also scheduled, confirmed, done, checked out, canceled, late cancel, no-show, missed)",
        "sessions.csv:15: Start: 'tomorrow 3pm' is not a date and time (dates are month/day/year or year-month-day; "
        "examples: 2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm)",
        "sessions.csv:15: Duration: 'abc' is not a duration (allowed: minutes such as 60 or 90 min, or 1h30m)",
        "sessions.csv:15: Service: is empty (the service is required, e.g. Neuromuscular therapy, 60 min)",
        "sessions.csv:17: External ID: conflicts with row 3 (same external id) on end; "
        "row 3 is kept (fix or remove one of them)",
        "sessions.csv:18: Client: is empty (the client's external id, phone or email is required)",
        "sessions.csv:19: Client: 'bad@' is not a valid email address: There must be something after the @-sign.",
    ]
    assert [str(w) for w in result.warnings] == [
        "sessions.csv:14: Focus: 'elbow' is not a focus area; left out (allowed: 'Neck & shoulders', 'Upper back', "
        "'Lower back', 'Hips & glutes', 'Legs & feet', 'Arms & hands', 'Jaw & head')",
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
        ("No-Show", "no_show"),
        ("noshow", "no_show"),
        ("no show", "no_show"),
        ("no_show", "no_show"),
        ("missed", "no_show"),
    ],
)
def test_status_synonyms(tmp_path: Path, raw: str, status: str) -> None:
    result = one_session(tmp_path, f"S1,C1,2026-12-03 15:00,,,Massage,,{raw},")
    assert result.rows[0].session.status == status


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


def test_client_zone_is_looked_up_by_the_normalised_reference(tmp_path: Path) -> None:
    result = one_session(
        tmp_path,
        "S1,305-555-0123,12/03/2026 9:00 AM,,,Massage,,,",
        client_timezones={"+13055550123": "America/Los_Angeles"},
    )
    assert utc(result.rows[0].session.start) == "2026-12-03 17:00"


def test_times_with_an_offset_ignore_the_clients_zone(tmp_path: Path) -> None:
    result = one_session(
        tmp_path, "S1,C1,2026-12-03T15:00:00-05:00,,,Massage,,,", client_timezones={"C1": "Europe/Madrid"}
    )
    assert utc(result.rows[0].session.start) == "2026-12-03 20:00"
    assert result.rows[0].session.start.strftime("%H:%M %Z") == "21:00 CET"


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (
            "2026-12-03",
            "'2026-12-03' has no time of day (dates are month/day/year or year-month-day; examples: "
            "2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm)",
        ),
        (
            "",
            "is empty (a start date and time is required; dates are month/day/year or year-month-day; examples: "
            "2026-12-03 15:00, 2026-12-03T15:00:00-05:00, 12/03/2026 3:00 PM, 12/3/26 3pm)",
        ),
    ],
)
def test_start_errors(tmp_path: Path, start: str, reason: str) -> None:
    result = one_session(tmp_path, f"S1,C1,{start},,,Massage,,,")
    assert [(e.column, e.reason) for e in result.errors] == [("start", reason)]


def test_end_as_a_time_before_the_start(tmp_path: Path) -> None:
    result = one_session(tmp_path, "S1,C1,12/03/2026 3:00 PM,2:00 PM,,Massage,,,")
    assert [(e.column, e.reason) for e in result.errors] == [
        ("end", "'2:00 PM' is before the start (2026-12-03 15:00 EST); the end must not be earlier")
    ]


# --------------------------------------------------------------------------- mapping and file-level errors


def test_parse_mapping() -> None:
    assert parse_mapping(["first_name=First Name", "Phone = Mobile"], CLIENT_FIELDS) == {
        "first_name": "First Name",
        "phone": "Mobile",
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (
            ["cell=Mobile"],
            "--map 'cell=Mobile': unknown field 'cell' (allowed: external_id, first_name, last_name, phone, email, "
            "timezone, language, preferred_channel, sms_marketing, email_marketing)",
        ),
        (
            ["Mobile"],
            "--map 'Mobile': expected FIELD=COLUMN, e.g. first_name=First Name (fields: external_id, first_name, "
            "last_name, phone, email, timezone, language, preferred_channel, sms_marketing, email_marketing)",
        ),
        (
            ["phone=Mobile", "phone=Cell"],
            "--map 'phone=Cell': phone is already mapped to 'Mobile' (one column per field)",
        ),
    ],
)
def test_parse_mapping_errors(pairs: list[str], message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(pairs, CLIENT_FIELDS)
    assert str(caught.value) == message


def test_mapped_column_missing_from_the_header() -> None:
    with pytest.raises(MappingError) as caught:
        read_clients(MESSY, {"external_id": "Client ID", "phone": "Cell"}, shown="clients_messy.csv")
    assert str(caught.value) == (
        "clients_messy.csv: --map phone=Cell: no column 'Cell' in the header (columns: Client ID, First Name, "
        "Last Name, Mobile Phone, Email Address, Time Zone, Language, Preferred Channel, SMS Opt In, Email Opt In)"
    )


def test_required_column_missing() -> None:
    with pytest.raises(MappingError) as caught:
        read_clients(MESSY, shown="clients_messy.csv")  # no mapping: no id, phone or email column by those names
    assert str(caught.value) == (
        "clients_messy.csv: no column for external_id or phone or email (columns in the header: Client ID, "
        "First Name, Last Name, Mobile Phone, Email Address, Time Zone, Language, Preferred Channel, SMS Opt In, "
        "Email Opt In); rename the column or use --map external_id=COLUMN"
    )


def test_sessions_need_id_client_start_and_service_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Appointment,Client,When\nA1,C1,2026-12-03 15:00\n")
    with pytest.raises(MappingError) as caught:
        read_sessions(path, shown="in.csv")
    assert str(caught.value) == (
        "in.csv: no column for external_id; start; service (columns in the header: Appointment, Client, When); "
        "rename the column or use --map external_id=COLUMN"
    )


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
            "phone, email, timezone, language, preferred_channel, sms_marketing, email_marketing)",
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
