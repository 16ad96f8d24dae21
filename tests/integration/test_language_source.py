"""A client's language and where it came from (``clients.language_source``), on SQLite and
PostgreSQL: the API reads languages as imports do and keeps a stored one it is not told about;
re-imports keep it too; a keyword only sets a language nobody chose, both ways; CANCEL /
CANCELAR from a client with a booked session is an opt-out the clinic is told about."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from followup.config.loader import ClinicConfig
from followup.core.domain import Client, Consent, Session
from followup.core.keywords import classify
from followup.engine.ingest import import_clients
from followup.intake import read_clients
from followup.store.port import REPLY_FORWARD, MessageQuery
from followup.store.sql import SqlStore
from followup.web.context import WebContext
from followup.web.inbound import InboundService
from tests.integration import test_web
from tests.integration.test_web import NOW, Web, api

web = test_web.web  # Maria Lopez (c1, +13055550101, language en) on a live uvicorn server


@pytest.fixture(params=["sqlite", "postgresql"])
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``web`` fixture's database, here once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'followup.db'}"
    return str(request.getfixturevalue("pg_url"))


def _client(web: Web, external_id: str = "c1") -> Client:
    found = web.store.find_client_id(external_id=external_id)
    assert found is not None
    return web.store.client_state(found).client


def _set(web: Web, language: str, source: str | None) -> None:
    web.store.upsert_client(replace(_client(web), language=language, language_source=source), NOW)


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["es-US", "ES", "Español", "es_US", "spa", "Spanish (US)", "castellano"])
def test_the_api_reads_languages_as_imports_do(web: Web, given: str) -> None:
    body = {"external_id": "c2", "first_name": "Ana", "phone": "305-555-0199", "language": given}
    response = api(web, "/api/clients", body)
    assert response.status_code == 200, response.text
    client = _client(web, "c2")
    assert (client.language, client.language_source) == ("es", "api")


@pytest.mark.parametrize(("given", "why"), [("fr", "'fr' (fr) is not one of"), ("klingon", "is not a language")])
def test_the_api_refuses_a_language_followup_does_not_write(web: Web, given: str, why: str) -> None:
    body = {"external_id": "c2", "first_name": "Ana", "phone": "305-555-0199", "language": given}
    response = api(web, "/api/clients", body)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "language"]
    assert why in detail["msg"] and "en, es" in detail["msg"], detail
    assert web.store.find_client_id(external_id="c2") is None


def test_an_api_call_without_a_language_keeps_the_stored_one(web: Web) -> None:
    body = {"external_id": "c1", "first_name": "Maria", "last_name": "Lopez", "phone": "3055550101"}
    _set(web, "es", "owner")  # set-language by the owner
    for extra in ({}, {"language": None}, {"language": ""}):
        assert api(web, "/api/clients", {**body, **extra}).status_code == 200
        assert (_client(web).language, _client(web).language_source) == ("es", "owner"), extra
    assert api(web, "/api/clients", {**body, "language": "en"}).status_code == 200  # said: it changes
    assert (_client(web).language, _client(web).language_source) == ("en", "api")
    new = {"external_id": "c2", "first_name": "Ana", "phone": "305-555-0199"}
    assert api(web, "/api/clients", new).status_code == 200
    assert (_client(web, "c2").language, _client(web, "c2").language_source) == ("en", "default")


def test_the_openapi_schema_describes_the_language(web: Web) -> None:
    import requests

    schema = requests.get(web.url + "/openapi.json", timeout=10).json()
    language = schema["components"]["schemas"]["ClientIn"]["properties"]["language"]
    assert "pattern" not in str(language)
    assert "es-US" in language["description"] and "default_language" in language["description"]


# --- keywords -----------------------------------------------------------------------------------


def test_a_spanish_keyword_leaves_an_explicitly_english_client_english(web: Web) -> None:
    _set(web, "en", "import")
    reply = web.sms("Cancelar", "SMLS1").text
    assert "you are unsubscribed" in reply and "dimos de baja" not in reply, reply
    assert (_client(web).language, _client(web).language_source) == ("en", "import")
    assert not web.consent().sms_care  # still a full opt-out


@pytest.mark.parametrize("source", [None, "default"])
def test_a_spanish_keyword_sets_a_language_nobody_chose(web: Web, source: str | None) -> None:
    _set(web, "en", source)
    assert "Pueden cobrarse tarifas" in web.sms("AYUDA", "SMLS2").text
    assert (_client(web).language, _client(web).language_source) == ("es", "keyword")
    # and a later English keyword does not switch it back: the keyword chose it
    assert "Pueden cobrarse tarifas" in web.sms("HELP", "SMLS3").text
    assert _client(web).language == "es"


def test_an_english_keyword_sets_english_in_a_spanish_clinic(web: Web) -> None:
    settings = web.clinic.settings.model_copy(update={"default_language": "es"})
    clinic = ClinicConfig(
        config_dir=web.clinic.config_dir,
        settings=settings,
        campaigns=web.clinic.campaigns,
        tips=web.clinic.tips,
        templates=web.clinic.templates,
    )
    service = InboundService(WebContext(clinic=clinic, store=web.store, email=None, now=lambda: NOW))
    table = settings.keyword_table()
    _set(web, "es", "default")
    form = {"MessageSid": "SMLS4", "From": "+13055550101", "Body": "HELP"}
    reply = service.handle(form, classify("HELP", table))
    assert reply is not None and "Msg & data rates may apply" in reply
    assert (_client(web).language, _client(web).language_source) == ("en", "keyword")
    _set(web, "es", "import")  # explicitly Spanish: STOP keeps it Spanish
    reply = service.handle({**form, "MessageSid": "SMLS5", "Body": "STOP"}, classify("STOP", table))
    assert reply is not None and "dimos de baja" in reply
    assert _client(web).language == "es"


# --- CANCEL / CANCELAR --------------------------------------------------------------------------


def _book(web: Web, days: int) -> None:
    start = NOW + timedelta(days=days)
    web.store.upsert_session(
        Session(
            external_id=f"s-ahead-{days}",
            client_external_id="c1",
            start=start,
            end=start + timedelta(hours=1),
            service="Sports massage, 60 min",
            therapist="Daniel",
            status="booked",
        ),
        web.client_id,
        NOW,
    )


@pytest.mark.parametrize("word", ["Cancelar", "CANCEL", "cancel."])
def test_cancel_with_a_booked_session_opts_out_and_tells_the_clinic(web: Web, word: str) -> None:
    _book(web, 5)
    _book(web, 2)  # the nearer one is named
    reply = web.sms(word, "SMLS6").text
    assert "<Message>" in reply  # the opt-out confirmation, as for any STOP
    assert not web.consent().sms_care and not web.consent().sms_marketing
    (row,) = [m for m in web.store.messages(MessageQuery()) if m.campaign == REPLY_FORWARD]
    assert row.step == "opt_out_cancel"
    assert row.subject == (
        f"Opted out with {word!r} — they may have meant to cancel their appointment on Sat Dec 05, 10:00 AM"
    )
    assert row.body is not None and "Sports massage, 60 min with Daniel" in row.body
    assert "The session is NOT cancelled" in row.body
    assert web.dispatch()["sent"] == 1
    (mail,) = web.box.received
    assert "they may have meant to cancel their appointment" in str(mail["Subject"])


def test_cancel_without_a_booked_session_or_stop_with_one_is_not_forwarded(web: Web) -> None:
    assert "<Message>" in web.sms("Cancelar", "SMLS7").text  # only a past (completed) session
    _book(web, 2)
    web.sms("START", "SMLS8")
    web.sms("STOP", "SMLS9")
    assert [m for m in web.store.messages(MessageQuery()) if m.campaign == REPLY_FORWARD] == []
    assert not web.consent().sms_care


# --- imports ------------------------------------------------------------------------------------


def _import(store: SqlStore, tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "clients.csv"
    path.write_text(text, encoding="utf-8")
    result = read_clients(path, shown="clients.csv", languages=("en", "es"))
    summary = import_clients(store, result, NOW)
    return summary.language_lines()


def test_a_reimport_that_says_nothing_keeps_the_language(web: Web, tmp_path: Path) -> None:
    _set(web, "es", "keyword")
    assert _import(web.store, tmp_path, "external_id,first_name,last_name,phone\nc1,Maria,Lopez,3055550101\n") == []
    assert (_client(web).language, _client(web).language_source) == ("es", "keyword")
    blank = "external_id,first_name,last_name,phone,language\nc1,Maria,Lopez,3055550101,\n"
    assert _import(web.store, tmp_path, blank) == []
    assert (_client(web).language, _client(web).language_source) == ("es", "keyword")
    unusable = "external_id,first_name,last_name,phone,language\nc1,Maria,Lopez,3055550101,fr\n"
    assert _import(web.store, tmp_path, unusable) == []  # a warning; the stored language stays
    assert _client(web).language == "es"
    said = "external_id,first_name,last_name,phone,language\nc1,Maria,Lopez,3055550101,English\n"
    assert _import(web.store, tmp_path, said) == ["language es -> en: 1 client (the file's language column)"]
    assert (_client(web).language, _client(web).language_source) == ("en", "import")
    new = "external_id,first_name,phone\nc7,Lucia,3055550177\n"
    _import(web.store, tmp_path, new)
    assert (_client(web, "c7").language, _client(web, "c7").language_source) == ("en", "default")


def test_consent_untouched_by_the_language(web: Web) -> None:
    # a client stored before language sources keeps working (None source)
    client = _client(web)
    assert client.consent == Consent(sms_marketing=True) and client.language_source is None
