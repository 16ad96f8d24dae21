from __future__ import annotations

from pathlib import Path

from followup.config.loader import ClinicConfig, load_clinic
from followup.core.domain import ChannelName, Client
from followup.core.tokens import verify
from followup.rendering.compose import Composed, compose
from followup.rendering.examples import SAMPLE_NOW, sample_client, sample_session
from tests.conftest import ClinicFactory


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
        templates={"thanks/es/sms.j2": "Hola {{ client.first_name }}, hasta el {{ session.day }}.\n"}
    )
    clinic = clinic_from(config, templates)
    spanish = sample_client("es")
    out = render(clinic, spanish, "sms")
    assert out.sms == "Hola Carmen, hasta el jueves 3 de diciembre."
    # No Spanish email variant: the default text is used, with the date in Spanish.
    mail = render(clinic, spanish, "email")
    assert mail.email is not None and "jueves 3 de diciembre" in mail.email.text


def test_unsupported_language_uses_default(make_clinic: ClinicFactory) -> None:
    clinic = clinic_from(*make_clinic())
    client = sample_client("fr")
    out = render(clinic, client, "sms")
    assert out.language == "en"
