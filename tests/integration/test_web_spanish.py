"""Spanish over real HTTP (the uvicorn fixture of test_web.py): keyword replies in the
client's or the keyword's language, a Spanish keyword setting an unset language, and the
unsubscribe page in the client's language or, failing that, the browser's."""

from __future__ import annotations

import html
from dataclasses import replace

import requests

from followup.rendering.compose import unsubscribe_url
from tests.integration import test_web
from tests.integration.test_web import NOW, PUBLIC, Web

web = test_web.web  # the fixture: the web app on a live uvicorn server (Maria Lopez, c1, language en)


def _text(response: requests.Response) -> str:
    return html.unescape(response.text)


def _set_language(web: Web, language: str) -> None:
    client = web.store.client_state(web.client_id).client
    web.store.upsert_client(replace(client, language=language), NOW)


def test_ayuda_gets_the_spanish_help_reply_and_sets_the_unset_language(web: Web) -> None:
    reply = _text(web.sms("Ayuda", "SMES1"))
    assert reply.count("<Message>") == 1
    # CTIA's HELP contents, in Spanish: who, what, how often, rates, how to stop.
    assert "Shoreline Neuromuscular Therapy: recordatorios de citas" in reply, reply
    assert "hasta 3 mensajes al dia" in reply and "Pueden cobrarse tarifas de mensajes y datos" in reply
    assert "Responda PARAR para no recibir mas" in reply and "+1 305 555 0142" in reply
    assert "Reply" not in reply and "STOP" not in reply
    # The accents GSM-7 lacks are stripped ([sms] accents = "strip" by default); ñ, é stay GSM-7.
    assert "día" not in reply and "más" not in reply
    assert web.store.client_state(web.client_id).client.language == "es"
    assert web.consent().sms_care  # HELP changes no consent


def test_parar_opts_out_with_a_spanish_confirmation(web: Web) -> None:
    reply = _text(web.sms("PARAR", "SMES2"))
    assert "dimos de baja su numero y no le enviaremos mas mensajes de texto" in reply, reply
    assert "COMENZAR" in reply and "unsubscribed" not in reply
    consent = web.consent()
    assert not consent.sms_care and not consent.sms_marketing and consent.email_care
    (event,) = web.store.consent_history(web.client_id)
    assert (event["action"], event["channel"], event["purpose"], event["wording"]) == ("opt_out", "sms", "all", "PARAR")
    # COMENZAR undoes it, in Spanish too.
    again = _text(web.sms("Comenzar", "SMES3"))
    assert "le volveremos a enviar nuestros mensajes de texto" in again and web.consent().sms_care


def test_parar_consejos_stops_marketing_only_in_spanish(web: Web) -> None:
    reply = _text(web.sms("parar consejos", "SMES4"))
    assert "no le enviaremos mas consejos ni ofertas" in reply, reply
    consent = web.consent()
    assert consent.sms_care and not consent.sms_marketing


def test_an_english_keyword_from_a_spanish_client_is_answered_in_spanish(web: Web) -> None:
    _set_language(web, "es")
    reply = _text(web.sms("STOP", "SMES5"))
    assert "dimos de baja su numero" in reply and "unsubscribed" not in reply, reply


def test_a_spanish_keyword_from_an_english_client_keeps_english_keywords_english(web: Web) -> None:
    reply = _text(web.sms("HELP", "SMES6"))
    assert "Msg & data rates may apply" in reply and "Reply STOP" in reply, reply
    assert web.store.client_state(web.client_id).client.language == "en"  # an English word sets nothing


def test_a_spanish_keyword_from_an_unknown_number_is_answered_in_spanish(web: Web) -> None:
    reply = _text(web.sms("PARAR", "SMES7", sender="+13055550999"))
    assert "dimos de baja su numero" in reply, reply


def test_the_unsubscribe_page_of_a_spanish_client_is_spanish(web: Web) -> None:
    _set_language(web, "es")
    client = web.store.client_state(web.client_id).client
    link = unsubscribe_url(web.clinic, client, NOW, "marketing").removeprefix(PUBLIC)
    page = requests.get(web.url + link, headers={"Accept-Language": "en-US,en;q=0.9"}, timeout=10)
    text = _text(page)
    assert page.status_code == 200 and "<html lang='es'>" in text
    assert "¿Desea dejar de recibir consejos y ofertas por correo?" in text
    assert "Dejar de recibir consejos y ofertas" in text and "No recibir ningún correo" in text
    assert "Unsubscribe" not in text and "Stop all emails" not in text
    done = _text(requests.post(web.url + link, data={"scope": "marketing"}, timeout=10))
    assert "Listo: no le enviaremos más consejos ni ofertas por correo." in done, done
    assert not web.consent().email_marketing and web.consent().email_care
    # The RFC 8058 one-click, repeated, says "already" in Spanish and writes nothing more.
    one_click = requests.post(
        web.url + link,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert "Su baja de los consejos y ofertas por correo ya estaba registrada." in _text(one_click)
    assert len(web.store.consent_history(web.client_id)) == 1


def test_the_page_falls_back_to_the_browsers_language(web: Web) -> None:
    client = web.store.client_state(web.client_id).client  # language en: the default, so "not set"
    link = unsubscribe_url(web.clinic, client, NOW, "preferences").removeprefix(PUBLIC)
    spanish = _text(requests.get(web.url + link, headers={"Accept-Language": "es-US,es;q=0.9,en;q=0.8"}, timeout=10))
    assert "Preferencias de correo" in spanish and "No recibir ningún correo" in spanish, spanish
    english = _text(requests.get(web.url + link, headers={"Accept-Language": "fr-FR,en;q=0.5"}, timeout=10))
    assert "Email preferences" in english and "Stop all emails" in english
    # An expired or forged link knows no client: the browser's language alone.
    bad = requests.get(web.url + "/u/not-a-token", headers={"Accept-Language": "es"}, timeout=10)
    assert bad.status_code == 400 and "Enlace no válido" in _text(bad)
