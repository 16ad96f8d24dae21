"""The web app over real HTTP (uvicorn on a local port): webhooks, unsubscribe, ingest API."""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from followup.channels.base import Channel
from followup.channels.memory import InMemoryChannel
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.config.loader import ClinicConfig, load_clinic
from followup.config.settings import Settings
from followup.core.domain import ChannelName, Client, Consent, Session
from followup.engine.dispatch import Dispatcher, DispatchStats
from followup.rendering.compose import unsubscribe_url
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from followup.timeutil import FixedClock, zone
from followup.web.app import create_app
from followup.web.context import WebContext
from tests.conftest import REPO
from tests.integration.smtp_server import Mailbox, smtp_server

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://followup.shoreline-nmt.example"
API_TOKEN = "api-token-for-tests"
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@dataclass
class Web:
    url: str
    store: SqlStore
    clinic: ClinicConfig
    box: Mailbox
    client_id: int
    email: SmtpEmailChannel  # the SMTP channel to ``box``, for the dispatcher

    def dispatch(self, at: datetime = NOW) -> DispatchStats:
        """Run the dispatcher once at ``at``: what the webhook queued for the clinic goes out."""
        channels: dict[ChannelName, Channel] = {"sms": InMemoryChannel("sms"), "email": self.email}
        return Dispatcher(self.store, self.clinic, channels, FixedClock(at)).run_once()

    def twilio(
        self, path: str, params: dict[str, str], *, sign_url: str | None = None, signature: str | None = None
    ) -> requests.Response:
        signed = (
            signature
            if signature is not None
            else RequestValidator(TOKEN).compute_signature(sign_url or PUBLIC + path, params)
        )
        return requests.post(self.url + path, data=params, headers={"X-Twilio-Signature": signed}, timeout=10)

    def sms(self, body: str, sid: str, sender: str = "+13055550101", **extra: str) -> requests.Response:
        return self.twilio(
            "/twilio/inbound", {"MessageSid": sid, "From": sender, "To": "+13055550100", "Body": body, **extra}
        )

    def consent(self) -> Consent:
        return self.store.client_state(self.client_id).client.consent


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def web(sqlite_url: str) -> Iterator[Web]:
    base = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    clinic_settings = Settings(
        twilio_auth_token=TOKEN,
        public_base_url=PUBLIC,
        api_token=API_TOKEN,
        secret_key="signing-key-for-tests",
        business_email="frontdesk@shoreline-nmt.example",
    )
    clinic = ClinicConfig(
        config_dir=base.config_dir,
        settings=clinic_settings,
        campaigns=base.campaigns,
        tips=base.tips,
        templates=base.templates,
    )
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    client_id, _ = store.upsert_client(
        Client(
            external_id="c1",
            first_name="Maria",
            last_name="Lopez",
            phone="+13055550101",
            email="maria@example.com",
            consent=Consent(sms_marketing=True),
        ),
        NOW,
    )
    store.upsert_session(
        Session(
            external_id="s1",
            client_external_id="c1",
            start=NOW - timedelta(days=2),
            end=NOW - timedelta(days=2) + timedelta(hours=1),
            service="Neuromuscular therapy",
            therapist="Daniel",
            status="completed",
        ),
        client_id,
        NOW,
    )
    with smtp_server() as box:
        email = SmtpEmailChannel(
            SmtpConfig(host="127.0.0.1", port=box.port, tls="none", sender="followup@shoreline-nmt.example")
        )
        app = create_app(WebContext(clinic=clinic, store=store, email=email, now=lambda: NOW))
        port = _port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Web(f"http://127.0.0.1:{port}", store, clinic, box, client_id, email)
        server.should_exit = True
        thread.join(timeout=10)
    store.close()


# --- inbound SMS ----------------------------------------------------------------------------


def test_signed_stop_opts_out_of_all_sms_and_confirms(web: Web) -> None:
    reply = web.sms("STOP", "SM1")
    assert reply.status_code == 200 and "unsubscribed" in reply.text and "<Message>" in reply.text
    consent = web.consent()
    assert not consent.sms_care and not consent.sms_marketing and consent.email_care
    (event,) = web.store.consent_history(web.client_id)
    assert (event["action"], event["channel"], event["purpose"], event["source"], event["wording"]) == (
        "opt_out",
        "sms",
        "all",
        "keyword",
        "STOP",
    )


def test_forged_or_altered_requests_get_403_and_change_nothing(web: Web) -> None:
    params = {"MessageSid": "SM2", "From": "+13055550101", "Body": "STOP"}
    assert web.twilio("/twilio/inbound", params, signature="forged").status_code == 403
    good = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/inbound", params)
    altered = params | {"From": "+13055550999"}
    assert web.twilio("/twilio/inbound", altered, signature=good).status_code == 403
    assert web.twilio("/twilio/inbound", params, signature="").status_code == 403
    assert web.consent().sms_care and web.store.consent_history(web.client_id) == []


def test_signature_checked_against_the_public_https_url_not_the_local_http_one(web: Web) -> None:
    params = {"MessageSid": "SM3", "From": "+13055550101", "Body": "HELP"}
    # Behind a proxy Twilio called https://public/...; we are reached over http://127.0.0.1.
    assert web.twilio("/twilio/inbound", params).status_code == 200
    local = web.twilio("/twilio/inbound", params | {"MessageSid": "SM4"}, sign_url=web.url + "/twilio/inbound")
    assert local.status_code == 403


def test_start_resumes_and_stop_tips_stops_only_marketing(web: Web) -> None:
    web.sms("STOP", "SM5")
    assert web.sms("START", "SM6").status_code == 200
    consent = web.consent()
    assert consent.sms_care and consent.sms_marketing
    reply = web.sms("stop tips", "SM7")
    assert "still get appointment reminders" in reply.text
    consent = web.consent()
    assert consent.sms_care and not consent.sms_marketing


@pytest.mark.parametrize(
    ("body", "meaning"),
    [
        ("STOP", "stop"),
        ("stop ", "stop"),
        (" Stop", "stop"),
        ("PARAR", "stop"),
        ("baja", "stop"),
        ("UNSUBSCRIBE", "stop"),
        ("Stop please", "reply"),
        ("STOP TIPS", "stop_marketing"),
        ("HELP", "help"),
        ("AYUDA", "help"),
        ("BOOK", "extra"),
        ("Can I come Thursday?", "reply"),
    ],
)
def test_keyword_table(web: Web, body: str, meaning: str) -> None:
    reply = web.sms(body, f"SM-{abs(hash(body))}")
    assert reply.status_code == 200
    consent = web.consent()
    if meaning == "stop":
        assert not consent.sms_care
    elif meaning == "stop_marketing":
        assert consent.sms_care and not consent.sms_marketing
    else:
        assert consent.sms_care and consent.sms_marketing
    if meaning == "help":
        text = html.unescape(reply.text)  # TwiML is XML
        rates = "Pueden cobrarse tarifas de mensajes y datos" if body == "AYUDA" else "Msg & data rates may apply"
        assert rates in text and "+1 305 555 0142" in text
    if meaning == "extra":
        assert "https://shoreline-nmt.example/book" in reply.text
    queued = web.store.messages(MessageQuery(statuses=("scheduled",)))
    assert [m.campaign for m in queued] == (["reply_forward"] if meaning == "reply" else [])
    web.dispatch()
    forwarded = [m for m in web.box.received if m["To"] == "frontdesk@shoreline-nmt.example"]
    assert bool(forwarded) == (meaning == "reply")


def test_a_question_reaches_the_clinic_mailbox_with_name_and_last_session(web: Web) -> None:
    reply = web.sms("Can I come Thursday?", "SM8")
    assert reply.status_code == 200 and "<Message>" not in reply.text
    assert web.box.received == []  # queued in the outbox, not emailed from the webhook
    assert web.dispatch()["sent"] == 1
    (mail,) = web.box.received
    assert mail["To"] == "frontdesk@shoreline-nmt.example"
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Maria Lopez (+13055550101) replied by text" in text and "Can I come Thursday?" in text
    assert "Neuromuscular therapy with Daniel" in text
    from sqlalchemy import select

    from followup.store.schema import inbound_messages

    with web.store.engine.connect() as conn:
        stored = conn.execute(
            select(inbound_messages.c.body, inbound_messages.c.kind, inbound_messages.c.forwarded_at)
        ).all()
    assert [(body, kind) for body, kind, _ in stored] == [("Can I come Thursday?", "reply")]
    assert stored[0][2] is not None


def test_replayed_webhook_changes_nothing(web: Web) -> None:
    first = web.sms("Can I come Thursday?", "SM9")
    again = web.sms("Can I come Thursday?", "SM9")
    assert first.status_code == again.status_code == 200
    assert len(web.store.messages(MessageQuery())) == 1  # one outbox row for the clinic
    web.dispatch()
    assert len(web.box.received) == 1
    web.sms("STOP", "SM10")
    web.sms("START", "SM11")
    assert web.sms("STOP", "SM10").status_code == 200  # the old STOP replayed after START
    assert web.consent().sms_care


def test_advanced_opt_out_is_recorded_without_a_second_reply(web: Web) -> None:
    reply = web.sms("STOP", "SM12", OptOutType="STOP")
    assert reply.status_code == 200 and "<Message>" not in reply.text
    assert not web.consent().sms_care


# --- delivery status callbacks --------------------------------------------------------------


def _message(web: Web) -> int:
    from followup.engine.planning import replan_all

    web.store.upsert_session(
        Session(
            external_id="s2",
            client_external_id="c1",
            start=NOW + timedelta(days=1),
            end=NOW + timedelta(days=1, hours=1),
            service="NMT",
            status="booked",
        ),
        web.client_id,
        NOW,
    )
    replan_all(web.store, web.clinic, NOW)
    (row,) = web.store.messages(MessageQuery(client_external_id="c1", statuses=("scheduled",)))[:1]
    return row.id


def test_status_only_moves_forward_whatever_the_order(web: Web) -> None:
    m = _message(web)
    for status in ("sent", "delivered", "sent", "queued"):
        response = web.twilio(f"/twilio/status?m={m}", {"MessageSid": "SMx", "MessageStatus": status})
        assert response.status_code == 204
    (row,) = [r for r in web.store.messages(MessageQuery()) if r.id == m]
    from sqlalchemy import select

    from followup.store.schema import messages

    with web.store.engine.connect() as conn:
        assert conn.execute(select(messages.c.delivery_status).where(messages.c.id == row.id)).scalar() == "delivered"


def test_permanent_failure_code_marks_the_number(web: Web) -> None:
    m = _message(web)
    web.twilio(f"/twilio/status?m={m}", {"MessageSid": "SMy", "MessageStatus": "undelivered", "ErrorCode": "30006"})
    assert not web.consent().sms_care
    assert web.twilio(f"/twilio/status?m={m}", {"MessageStatus": "sent"}, signature="bad").status_code == 403


# --- email unsubscribe ----------------------------------------------------------------------


def test_one_click_unsubscribe_from_a_sent_emails_header(web: Web) -> None:
    state = web.store.client_state(web.client_id)
    link = unsubscribe_url(web.clinic, state.client, NOW - timedelta(days=59))
    assert link.startswith(PUBLIC + "/u/")
    local = web.url + link.removeprefix(PUBLIC)
    page = requests.get(local, timeout=10)
    assert page.status_code == 200 and "<form method='post'" in page.text
    assert web.consent().email_marketing  # looking is not unsubscribing
    done = requests.post(local, data={"List-Unsubscribe": "One-Click"}, timeout=10)  # RFC 8058, no cookies
    assert done.status_code == 200 and "Done" in done.text
    consent = web.consent()
    # Issue 11: a marketing email's one-click stops marketing email only; reminders keep coming.
    assert not consent.email_marketing and consent.email_care and consent.sms_care
    assert web.store.consent_history(web.client_id)[-1]["source"] == "link"


def test_forged_unsubscribe_token_is_refused(web: Web) -> None:
    state = web.store.client_state(web.client_id)
    link = unsubscribe_url(web.clinic, state.client, NOW)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = requests.post(web.url + forged.removeprefix(PUBLIC), timeout=10)
    assert response.status_code == 400 and web.consent().email_care


# --- ingest API -----------------------------------------------------------------------------


def api(web: Web, path: str, body: Any, token: str | None = API_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(web.url + path, json=body, headers=headers, timeout=10)


def test_api_requires_the_bearer_token(web: Web) -> None:
    body = {"external_id": "c2", "first_name": "Ana", "phone": "305-555-0199"}
    assert api(web, "/api/clients", body, token=None).status_code == 401
    assert api(web, "/api/clients", body, token="wrong").status_code == 401
    assert web.store.find_client_id(external_id="c2") is None


def test_api_is_idempotent_by_external_id(web: Web) -> None:
    body = {"external_id": "c2", "first_name": "Ana", "phone": "305-555-0199", "email": "ana@example.com"}
    assert api(web, "/api/clients", body).json() == {"external_id": "c2", "outcome": "created", "planned": 0}
    assert api(web, "/api/clients", body).json()["outcome"] == "unchanged"
    session = {
        "external_id": "s9",
        "client": "c2",
        "start": (NOW + timedelta(days=3)).isoformat(),
        "service": "NMT 60",
        "focus_areas": ["neck_shoulders"],
    }
    created = api(web, "/api/sessions", session).json()
    assert created["outcome"] == "created" and created["planned"] == 1  # the reminder
    assert api(web, "/api/sessions", session).json() == {"external_id": "s9", "outcome": "unchanged", "planned": 0}


def test_api_validation_errors_are_clear_422s(web: Web) -> None:
    bad_phone = api(web, "/api/clients", {"external_id": "c3", "first_name": "X", "phone": "12"})
    assert bad_phone.status_code == 422 and "not a valid phone number" in bad_phone.text
    unknown_key = api(
        web, "/api/clients", {"external_id": "c3", "first_name": "X", "phone": "3055550123", "favourite": "blue"}
    )
    assert unknown_key.status_code == 422 and "favourite" in unknown_key.text
    # The importer's parser serves the API too: no offset means the clinic's time (issue 10).
    naive = api(
        web, "/api/sessions", {"external_id": "s", "client": "c1", "start": "12/05/2026 10:00 AM", "service": "NMT"}
    )
    assert naive.status_code == 200, naive.text
    client_id = web.store.find_client_id(external_id="c1")
    assert client_id is not None
    (stored,) = [x for x in web.store.client_state(client_id).sessions if x.external_id == "s"]
    assert stored.start == datetime(2026, 12, 5, 10, 0, tzinfo=zone("America/New_York"))
    for bad in ("someday", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00"):
        response = api(web, "/api/sessions", {"external_id": "s9", "client": "c1", "start": bad, "service": "NMT"})
        assert response.status_code == 422 and repr(bad) in response.text, (bad, response.text)
    orphan = api(
        web,
        "/api/sessions",
        {"external_id": "s", "client": "nobody", "start": "2026-12-05T10:00:00-05:00", "service": "NMT"},
    )
    assert orphan.status_code == 422 and "POST /api/clients first" in orphan.text


def test_reimport_never_undoes_an_opt_out(web: Web) -> None:
    web.sms("STOP", "SM20")
    body = {
        "external_id": "c1",
        "first_name": "Maria",
        "last_name": "Lopez",
        "phone": "+13055550101",
        "email": "maria@example.com",
        "sms_marketing": True,
    }
    api(web, "/api/clients", body)
    assert not web.consent().sms_care and not web.consent().sms_marketing


def test_openapi_schema_is_published_and_health(web: Web) -> None:
    schema = requests.get(web.url + "/openapi.json", timeout=10).json()
    assert {"/api/clients", "/api/sessions"} <= set(schema["paths"])
    assert "/twilio/inbound" not in schema["paths"]
    health = requests.get(web.url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_oversized_bodies_are_refused(web: Web) -> None:
    big = urlencode({"Body": "x" * 100_000})
    response = requests.post(
        web.url + "/twilio/inbound", data=big, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert response.status_code == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "external_id",
                "first_name",
                "last_name",
                "phone",
                "email",
                "timezone",
                "language",
                "preferred_channel",
                "sms_marketing",
                "junk",
            ]
        ),
        st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none()),
        max_size=8,
    )
)
def test_api_never_fails_with_a_server_error(web: Web, body: dict[str, object]) -> None:
    """Property: whatever JSON arrives, the API answers 200 or a 4xx, never a 500."""
    response = api(web, "/api/clients", body)
    assert response.status_code in (200, 422), (body, response.text)


def _request_schema(web: Web, path: str) -> dict[str, Any]:
    """The JSON schema of ``path``'s request body, from the *published* OpenAPI document."""
    document = requests.get(web.url + "/openapi.json", timeout=10).json()
    ref = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = dict(document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    schema["definitions"] = document["components"]["schemas"]
    return schema


def _strategy(spec: dict[str, Any], definitions: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one JSON-schema node, as FastAPI publishes them (types, enums, anyOf, lengths)."""
    if "$ref" in spec:
        return _strategy(definitions[spec["$ref"].rsplit("/", 1)[1]], definitions)
    if "anyOf" in spec:
        return st.one_of([_strategy(option, definitions) for option in spec["anyOf"]])
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    kind = spec.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers()
    if kind == "array":
        return st.lists(_strategy(spec.get("items", {}), definitions), max_size=spec.get("maxItems", 5))
    if kind == "object":
        required = set(spec.get("required", []))
        props = spec.get("properties", {})
        return st.fixed_dictionaries(
            {k: _strategy(v, definitions) for k, v in props.items() if k in required},
            optional={k: _strategy(v, definitions) for k, v in props.items() if k not in required},
        )
    text = st.text(min_size=spec.get("minLength", 0), max_size=min(spec.get("maxLength", 60), 60))
    if spec.get("format") == "date-time":
        return st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), text)
    return st.one_of(text, st.from_regex(r"\+1305555\d{4}", fullmatch=True), st.emails())


def test_schema_driven_property_run_against_the_published_openapi(web: Web) -> None:
    """Bodies generated from the *published* OpenAPI schema: each gets 200 or a clear 422,
    never a 500; a 200 is idempotent (the same body again is 'unchanged')."""
    document = requests.get(web.url + "/openapi.json", timeout=10).json()
    definitions = document["components"]["schemas"]
    for path in ("/api/clients", "/api/sessions"):
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        _check_endpoint(web, path, _strategy(schema, definitions))


def _check_endpoint(web: Web, path: str, bodies: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def run(body: dict[str, Any]) -> None:
        first = api(web, path, body)
        assert first.status_code in (200, 422), (path, body, first.text)
        if first.status_code == 200:
            again = api(web, path, body)
            assert again.status_code == 200 and again.json()["outcome"] == "unchanged", (body, again.text)
        else:
            assert first.json()["detail"], first.text

    run()


def test_after_a_signed_stop_no_sms_of_any_purpose_goes_out(web: Web) -> None:
    import random

    from followup.core.rules import SendWindow
    from followup.engine.dispatch import Dispatcher
    from followup.engine.planning import replan_all
    from followup.testing import FixedClock, InMemoryChannel

    assert web.sms("STOP", "SM30").status_code == 200
    web.store.upsert_session(
        Session(
            external_id="s3",
            client_external_id="c1",
            start=NOW + timedelta(hours=20),
            end=NOW + timedelta(hours=21),
            service="NMT",
            status="booked",
        ),
        web.client_id,
        NOW,
    )
    replan_all(web.store, web.clinic, NOW)  # the day-before reminder is due now
    sms, email = InMemoryChannel("sms"), InMemoryChannel("email")
    clock = FixedClock(datetime(2026, 12, 3, 17, 0, tzinfo=UTC))  # noon in New York
    Dispatcher(
        web.store,
        web.clinic,
        {"sms": sms, "email": email},
        clock,
        worker="w",
        window=SendWindow(),
        rng=random.Random(1),
    ).run_once()
    assert sms.sent == []
    assert "pre_visit_reminder" in [m.campaign for m in email.sent]  # care still reaches them, by email


def test_the_unsubscribe_link_in_a_real_marketing_emails_header(web: Web) -> None:
    from email import message_from_bytes, policy

    from followup.channels.base import Outgoing
    from followup.channels.smtp_email import build_message
    from followup.rendering.compose import compose
    from followup.rendering.examples import sample_session

    state = web.store.client_state(web.client_id)
    composed = compose(
        web.clinic,
        client=state.client,
        session=sample_session(state.client),
        visit_count=1,
        campaign_name="rebook_nudge",
        step_index=0,
        channel="email",
        now=NOW,
    )
    outgoing = Outgoing(
        message_id=1,
        key="k",
        channel="email",
        to="maria@example.com",
        purpose="marketing",
        expires_at=NOW + timedelta(days=1),
        client_external_id="c1",
        campaign="rebook_nudge",
        step="first_nudge",
        at=NOW,
        email=composed.email,
        unsubscribe_url=composed.unsubscribe_url,
    )
    raw = build_message(outgoing, SmtpConfig(host="x", sender="hello@shoreline-nmt.example")).as_bytes()
    header = str(message_from_bytes(raw, policy=policy.default)["List-Unsubscribe"])
    https = next(part.strip(" <>") for part in header.split(",") if "https://" in part)
    response = requests.post(
        web.url + https.removeprefix(PUBLIC),
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 200
    assert not web.consent().email_marketing
