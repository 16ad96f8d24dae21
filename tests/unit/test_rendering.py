from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followup.checker import run_check
from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName, Client, Session
from followup.core.sms_encoding import analyse
from followup.core.tokens import verify
from followup.exceptions import TemplateRenderError
from followup.rendering.compose import Composed, compose
from followup.rendering.context import zone_label
from followup.rendering.examples import (
    SAMPLE_NOW,
    WORST_FIRST_NAME,
    WORST_SERVICE,
    WORST_THERAPIST,
    sample_client,
    sample_session,
    worst_case_client,
)
from followup.rendering.templates import MAX_OUTPUT
from followup.timeutil import zone
from tests.conftest import REPO, ClinicFactory


def clinic_from(config: Path, templates: Path) -> ClinicConfig:
    return load_clinic(config, templates, env_file=None)


def render(clinic: ClinicConfig, client: Client, channel: ChannelName, session_of: Client | None = None) -> Composed:
    """Step 1 of the mini clinic's post_session campaign, for ``client``, at the sample time."""
    return compose(
        clinic,
        client=client,
        session=sample_session(session_of or client),
        visit_count=1,
        campaign_name="post_session",
        step_index=0,
        channel=channel,
        now=SAMPLE_NOW,
    )


def test_sms_joins_template_lines_and_uses_client_local_time(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(
        templates={"thanks/sms.j2": "Hi {{ client.first_name }},\nsee you {{ session.day }}\nat {{ session.time }}.\n"}
    )
    clinic = clinic_from(config, templates)
    client = sample_client("en")
    out = render(clinic, client, "sms")
    # CLDR's narrow no-break space before PM is replaced: the text stays GSM-7.
    assert out.sms == "Hi Maria, see you Thursday, December 3 at 3:00 PM."


def test_marketing_sms_gets_the_opt_out_line_from_the_layout(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_CAMPAIGNS

    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("purpose: care", "purpose: marketing", 1))
    clinic = clinic_from(config, templates)
    client = sample_client("en")
    out = render(clinic, client, "sms")
    assert out.sms is not None and out.sms.endswith("\nReply STOP to opt out.")


def test_email_has_address_unsubscribe_and_inlined_css(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic())
    client = sample_client("en")
    out = render(clinic, client, "email")
    assert out.email is not None and out.unsubscribe_url is not None
    assert out.email.subject == "Thank you, Maria"
    assert "1 Ocean Dr, Miami Beach, FL 33139" in out.email.text
    assert out.unsubscribe_url in out.email.text and out.unsubscribe_url in out.email.html
    assert 'style="color: #123456' in out.email.html and "<style>" not in out.email.html
    token = out.unsubscribe_url.rsplit("/u/", 1)[1]
    data = verify(clinic.settings.signing_key(), token, now=SAMPLE_NOW)
    assert (data.client, data.channel) == (client.external_id, "email")


def test_text_only_template_gets_escaped_html_paragraphs(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(
        templates={"thanks/email.txt.j2": "Hi {{ client.first_name }} <b>&\n\nBook: https://x.example/book.\n"}
    )
    clinic = clinic_from(config, templates)
    client = sample_client("en")
    out = render(clinic, client, "email")
    assert out.email is not None
    assert "Hi Maria &lt;b&gt;&amp;</p>" in out.email.html
    assert '<a href="https://x.example/book">https://x.example/book</a>.' in out.email.html


def test_html_template_autoescapes_client_data(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/email.html.j2": "<p>Hi {{ client.first_name }}</p>"})
    clinic = clinic_from(config, templates)
    client = sample_client("en")
    evil = type(client)(**{**client.__dict__, "first_name": "<script>x</script>"})
    out = render(clinic, evil, "email", session_of=client)
    assert out.email is not None
    assert "<script>" not in out.email.html and "&lt;script&gt;" in out.email.html


def test_language_variant_is_used_and_falls_back(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(
        templates={
            "thanks/es/sms.j2": "Hola {{ client.first_name }}, hasta el {{ session.day }}.\n",
            "thanks/es/email.txt.j2": None,
        }
    )
    clinic = clinic_from(config, templates)
    spanish = sample_client("es")
    out = render(clinic, spanish, "sms")
    assert out.sms == "Hola Carmen, hasta el jueves, 3 de diciembre."
    # No Spanish email variant: the default text is used, with the date in Spanish.
    mail = render(clinic, spanish, "email")
    assert mail.email is not None and "jueves, 3 de diciembre" in mail.email.text


def test_unsupported_language_uses_default(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic())
    client = sample_client("fr")
    out = render(clinic, client, "sms")
    assert out.language == "en"


# --- times a client reads right -----------------------------------------------------------


def _client(first_name: str = "Maria", timezone: str = "America/New_York") -> Client:
    return Client(
        external_id="c-tz",
        first_name=first_name,
        phone="+13105550104",
        email="c@example.com",
        timezone=timezone,
        language="en",
    )


def _reminder(clinic: ClinicConfig, client: Client, start: str) -> str:
    begins = datetime.fromisoformat(start)
    session = Session(
        external_id="s-tz",
        client_external_id=client.external_id,
        start=begins,
        end=begins + timedelta(hours=1),
        service="Neuromuscular therapy, 60 min",
        therapist="Daniel",
        status="booked",
    )
    out = compose(
        clinic,
        client=client,
        session=session,
        visit_count=1,
        campaign_name="reminder",
        step_index=0,
        channel="sms",
        now=begins - timedelta(days=1),
    )
    assert out.sms is not None
    return out.sms


TIME_TEMPLATE = {"thanks/sms.j2": "See you {{ session.day }} at {{ session.time }} (until {{ session.end_time }}).\n"}


def test_a_client_in_another_zone_reads_the_clinic_time_with_its_zone(make_clinic: ClinicFactory) -> None:
    """The failing input of issue 10: a Los Angeles client, a 3 pm session in Miami."""
    clinic = clinic_from(*make_clinic(templates=TIME_TEMPLATE))
    text = _reminder(clinic, _client(timezone="America/Los_Angeles"), "2026-12-10T15:00-05:00")
    assert text == "See you Thursday, December 10 at 3:00 PM ET (until 4:00 PM ET)."
    assert "12:00 PM" not in text


def test_a_client_in_the_clinic_zone_reads_no_zone(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic(templates=TIME_TEMPLATE))
    text = _reminder(clinic, _client(), "2026-12-10T15:00-05:00")
    assert text == "See you Thursday, December 10 at 3:00 PM (until 4:00 PM)."
    # Same wall clock elsewhere (Detroit is Eastern too): nothing to name.
    assert _reminder(clinic, _client(timezone="America/Detroit"), "2026-07-10T15:00-04:00").endswith("(until 4:00 PM).")


def test_the_day_is_the_clinic_day_even_when_it_is_yesterday_for_the_client(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic(templates=TIME_TEMPLATE))
    # 00:30 in Miami is 21:30 the evening before in Los Angeles: the clinic's day is shown.
    text = _reminder(clinic, _client(timezone="America/Los_Angeles"), "2026-12-10T00:30-05:00")
    assert text.startswith("See you Thursday, December 10 at 12:30 AM ET")


def test_a_clinic_elsewhere_names_its_own_zone(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TOML

    toml = MINI_TOML.replace('default_timezone = "America/New_York"', 'default_timezone = "Europe/Madrid"')
    clinic = clinic_from(*make_clinic(toml=toml, templates=TIME_TEMPLATE))
    text = _reminder(clinic, _client(), "2026-12-10T15:00+01:00")
    assert text == "See you Thursday, December 10 at 3:00 PM CET (until 4:00 PM CET)."
    summer = _reminder(clinic, _client(), "2026-07-09T15:00+02:00")
    assert "3:00 PM CEST" in summer


@pytest.mark.parametrize(
    ("zone_name", "moment", "label"),
    [
        ("America/New_York", "2026-12-10T15:00", "ET"),  # CLDR's generic short names: winter and summer alike
        ("America/New_York", "2026-07-10T15:00", "ET"),
        ("America/Chicago", "2026-12-10T15:00", "CT"),
        ("America/Denver", "2026-12-10T15:00", "MT"),
        ("America/Los_Angeles", "2026-07-10T15:00", "PT"),
        ("America/Anchorage", "2026-12-10T15:00", "AKT"),
        ("America/Puerto_Rico", "2026-12-10T15:00", "AT"),
        ("Pacific/Honolulu", "2026-12-10T15:00", "HST"),  # no CLDR short name: the tz abbreviation
        ("Europe/London", "2026-07-10T15:00", "BST"),
        ("Asia/Tokyo", "2026-12-10T15:00", "JST"),
        ("America/Bogota", "2026-12-10T15:00", "UTC-5"),  # the tz database has only "-05"
        ("Asia/Kathmandu", "2026-12-10T15:00", "UTC+5:45"),
    ],
)
def test_zone_labels_are_short_and_gsm7(zone_name: str, moment: str, label: str) -> None:
    value = zone_label(datetime.fromisoformat(moment).replace(tzinfo=zone(zone_name)))
    assert value == label
    assert analyse(value).encoding == "GSM-7"


# --- what a name costs by SMS -------------------------------------------------------------


def test_an_accented_name_does_not_change_the_encoding(make_clinic: ClinicFactory) -> None:
    """The failing input of issue 10: Zoë's thanks text is GSM-7 and costs what Zoe's does."""
    clinic = clinic_from(*make_clinic())
    zoe_accent = render(clinic, _client("Zoë"), "sms", session_of=sample_client("en"))
    zoe = render(clinic, _client("Zoe"), "sms", session_of=sample_client("en"))
    assert zoe_accent.sms == zoe.sms == "Hi Zoe, thanks for your Neuromuscular therapy, 60 min."
    info, plain = analyse(zoe_accent.sms), analyse(zoe.sms)
    assert info.encoding == "GSM-7" and info.segments == plain.segments


def test_emoji_and_symbols_in_inserted_values_are_dropped(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(
        templates={"thanks/sms.j2": "Hi {{ client.first_name }}, {{ session.service }} with {{ session.therapist }}.\n"}
    )
    clinic = clinic_from(config, templates)
    client = _client("Ana 💆\u200d♀️")
    session = replace(sample_session(client), service="Deep tissue™ 🌿", therapist="José Ñúñez")
    out = compose(
        clinic,
        client=client,
        session=session,
        visit_count=1,
        campaign_name="post_session",
        step_index=0,
        channel="sms",
        now=SAMPLE_NOW,
    )
    assert out.sms == "Hi Ana, Deep tissue with José Ñuñez."
    assert out.sms is not None and analyse(out.sms).encoding == "GSM-7"


def test_the_templates_own_words_are_not_transliterated(make_clinic: ClinicFactory) -> None:
    """With ``accents = "keep"`` what the owner wrote is sent as written (and ``check`` names
    the characters that force UCS-2); inserted values lose emoji, and keep their accents
    since the text is UCS-2 anyway."""
    from tests.conftest import MINI_TOML

    config, templates = make_clinic(
        toml=MINI_TOML + '\n[sms]\naccents = "keep"\n',
        templates={"thanks/sms.j2": "¡Hola {{ client.first_name }}! Gracias, ¿sí? 💆\n"},
    )
    clinic = clinic_from(config, templates)
    out = render(clinic, _client("Zoë 💆"), "sms", session_of=sample_client("en"))
    assert out.sms == "¡Hola Zoë! Gracias, ¿sí? 💆"
    assert out.sms is not None and analyse(out.sms).ucs2_chars == ("ë", "í", "💆")


def test_accents_strip_takes_them_off_the_templates_words_too(make_clinic: ClinicFactory) -> None:
    """The default ``accents = "strip"``: á í ó ú lose their accent everywhere in the SMS, the
    owner's words included; é ñ ü ¿ ¡ (GSM-7) stay, and so does an emoji the owner wrote."""
    config, templates = make_clinic(
        templates={"thanks/sms.j2": "¡Hola {{ client.first_name }}! ¿Sí? Más té, Núñez 💆\n"}
    )
    clinic = clinic_from(config, templates)
    out = render(clinic, _client("Zoë"), "sms", session_of=sample_client("en"))
    assert out.sms == "¡Hola Zoe! ¿Si? Mas té, Nuñez 💆"


def test_transliteration_can_be_turned_off(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TOML

    clinic = clinic_from(*make_clinic(toml=MINI_TOML + '\n[sms]\ntransliterate = false\naccents = "keep"\n'))
    assert clinic.settings.sms_transliterate is False
    out = render(clinic, _client("Zoë"), "sms", session_of=sample_client("en"))
    assert out.sms is not None and out.sms.startswith("Hi Zoë,") and analyse(out.sms).encoding == "UCS-2"


def test_emails_keep_names_as_written(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic())
    out = render(clinic, _client("Zoë"), "email", session_of=sample_client("en"))
    assert out.email is not None and out.email.subject == "Thank you, Zoë"


# --- worst-case data for check ------------------------------------------------------------


def test_worst_case_service_and_therapist_are_the_longest_in_the_shipped_samples() -> None:
    import csv

    with (REPO / "config" / "sample" / "sessions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert len(WORST_SERVICE) == max(len(r["service"]) for r in rows)
    assert WORST_SERVICE in {r["service"] for r in rows}
    assert len(WORST_THERAPIST) == max(len(r["therapist"]) for r in rows)
    assert WORST_THERAPIST in {r["therapist"] for r in rows}


def test_worst_case_client_is_in_another_zone_than_the_clinic() -> None:
    assert worst_case_client("en", "America/New_York").timezone == "America/Los_Angeles"
    assert worst_case_client("en", "America/Los_Angeles").timezone == "America/New_York"
    assert worst_case_client("en", "America/Vancouver").timezone == "America/New_York"


def test_check_fails_a_template_only_worst_case_data_pushes_over_the_limit(make_clinic: ClinicFactory) -> None:
    from followup.checker import run_check
    from tests.conftest import MINI_TOML

    # 155 characters for Maria; Marie-Noelle is 7 longer: 162, two segments.
    config, templates = make_clinic(
        toml=MINI_TOML + "\n[sms]\nmax_segments = 1\n",
        templates={"thanks/sms.j2": "Hi {{ client.first_name }}, " + "x" * 145 + "\n"},
    )
    report = run_check(clinic_from(config, templates))
    row = report.sms[("thanks", "en")]
    assert row.typical is not None and row.typical.segments == 1 and max(row.lengths) == 155
    assert row.worst_case is not None and (row.worst_case.segments, row.worst_case.length) == (2, 162)
    assert row.worst_case.encoding == "GSM-7"  # the accented name was transliterated
    messages = [i.message for i in report.issues]
    assert any("renders to 2 SMS segments" in m and "worst-case data" in m for m in messages), messages


def test_check_shipped_templates_stay_within_the_limit_with_worst_case_data() -> None:
    from followup.checker import run_check

    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    report = run_check(clinic)
    assert report.ok, report.issues
    limit = clinic.settings.sms_max_segments
    for (template, _language), row in report.sms.items():
        assert row.worst_case is not None, template
        assert row.max_segments <= limit, (template, row.worst_case)
        assert row.worst_case.encoding == "GSM-7", template
        assert WORST_FIRST_NAME not in row.worst_case.text  # transliterated: Marie-Noelle


# --- bounded rendering: owners edit templates; none may exhaust memory or crash check -------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 10**9 }}", "repeating 1 items 1,000,000,000 times"),
        ("{{ 10**9 * 'x' }}", "repeating 1 items 1,000,000,000 times"),
        ("{{ [0] * 10**9 }}", "repeating 1 items"),
        ("{{ range(10**9)|list }}", "range() of more than 10,000 items"),
        ("{{ range(10**30)|list }}", "range() of more than 10,000 items"),
        ("{{ (2**3000) * (2**3000) }}", "wider than 4,096 bits"),
        ("{{ 7 ** 100000 }}", "a power wider than 4,096 bits"),
        ("{{ 2.0 ** 99999 }}", "OverflowError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ '%*s' % (10**9, 'x') }}", "format width '*'"),
        ("{{ '%999999999s' % 'x' }}", "format width '999999999'"),
        ("{{ '%999999999s'|format('x') }}", "format width '999999999'"),
        ("{{ '{:>999999999}'.format(1) }}", "format width '999999999'"),
        ("{{ 'x'.ljust(10**9) }}", "argument 1000000000 is too large"),
        ("{{ 'x'|center(10**9) }}", "center argument 1000000000"),
        ("{{ 'x'|indent(10**9) }}", "indent argument"),
        ("{{ [1]|slice(10**9)|list }}", "slice argument"),
        (
            "{% set ns = namespace(x='x') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
            "namespace value 'x' of 131,072 characters",
        ),
        ("{% set s = 'y' * 90000 %}{{ s + s }}", "the result of +"),
    ],
)
def test_runaway_templates_are_refused_with_file_and_line(
    make_clinic: ClinicFactory, template: str, message: str
) -> None:
    clinic = clinic_from(*make_clinic(templates={"thanks/sms.j2": template + "\n"}))
    began = time.monotonic()
    with pytest.raises(TemplateRenderError) as caught:
        render(clinic, sample_client("en"), "sms")
    assert time.monotonic() - began < 5
    issue = caught.value.issue
    assert str(issue.file).endswith("thanks/sms.j2") and issue.line == 1, issue
    assert message in issue.message, issue.message


def test_output_is_capped_even_when_each_piece_is_small(make_clinic: ClinicFactory) -> None:
    loop = "{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}"  # 10 MB of small pieces
    clinic = clinic_from(*make_clinic(templates={"thanks/email.txt.j2": loop + "\n"}))
    with pytest.raises(TemplateRenderError) as caught:
        render(clinic, sample_client("en"), "email")
    assert str(caught.value.issue.file).endswith("thanks/email.txt.j2")
    assert f"renders more than {MAX_OUTPUT:,} characters" in caught.value.issue.message


def test_ordinary_arithmetic_and_formatting_still_work(make_clinic: ClinicFactory) -> None:
    template = (
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 3 * 4 }} {{ range(3)|list }} {{ '%05.1f'|format(3.14159) }} "
        "{{ '%s-%s' % ('a', 'b') }} {{ [1] * 2 }} {{ '{:>4}'.format(7) }} {{ 'x'|center(5) }}|"
        "{% set ns = namespace(n=0) %}{% for i in range(100) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
    )
    clinic = clinic_from(*make_clinic(templates={"thanks/sms.j2": template + "\n"}))
    out = render(clinic, sample_client("en"), "sms")
    assert out.sms == "ababab 1024 12 [0, 1, 2] 003.1 a-b [1, 1] 7 x |4950"


def test_followup_check_names_a_runaway_template_without_a_traceback(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/sms.j2": "Hi\n{{ 'x' * 10**9 }}\n"})
    report = run_check(clinic_from(config, templates))
    found = [i for i in report.issues if str(i.file).endswith("thanks/sms.j2") and i.line == 2]
    assert found and "repeating" in found[0].message
    done = subprocess.run(
        [sys.executable, "-m", "followup", "check", "--config", str(config), "--templates", str(templates)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "thanks/sms.j2:2:" in output and "Traceback" not in output


def test_marketing_and_care_emails_link_to_different_pages() -> None:
    clinic = clinic_from(REPO / "config", REPO / "templates")
    client = sample_client("en")
    for campaign, scope, words in (
        ("rebook_nudge", "marketing", "Unsubscribe from tips and offers"),
        ("pre_visit_reminder", "preferences", "Manage your email preferences"),
    ):
        out = compose(
            clinic,
            client=client,
            session=sample_session(client),
            visit_count=1,
            campaign_name=campaign,
            step_index=0,
            channel="email",
            now=SAMPLE_NOW,
        )
        assert out.email is not None and out.unsubscribe_url is not None
        assert f"{words}: {out.unsubscribe_url}" in out.email.text and words in out.email.html
        token = out.unsubscribe_url.rsplit("/u/", 1)[1]
        assert verify(clinic.settings.signing_key(), token, now=SAMPLE_NOW).scope == scope
