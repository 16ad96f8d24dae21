"""Scoped email unsubscribe over real HTTP (the uvicorn fixture of test_web.py).

A marketing email's link and its RFC 8058 one-click POST stop marketing email only; "stop
all emails" is a separate, explicit choice on the page; a care email links to the
preferences page and carries no List-Unsubscribe header; repeating an opt-out says
"already" and writes no second ledger row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import timedelta
from email import message_from_bytes, policy

import requests

from followup.channels.base import Outgoing
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.core.tokens import verify
from followup.rendering.compose import Composed, compose, unsubscribe_url
from followup.rendering.examples import sample_session
from tests.integration import test_web
from tests.integration.test_web import NOW, PUBLIC, Web

web = test_web.web  # the fixture: the web app on a live uvicorn server (Maria Lopez, c1)


def _local(web: Web, link: str) -> str:
    assert link.startswith(PUBLIC + "/u/")
    return web.url + link.removeprefix(PUBLIC)


def _email(web: Web, campaign: str) -> Composed:
    state = web.store.client_state(web.client_id)
    return compose(
        web.clinic,
        client=state.client,
        session=sample_session(state.client),
        visit_count=1,
        campaign_name=campaign,
        step_index=0,
        channel="email",
        now=NOW,
    )


def _outgoing(composed: Composed, purpose: str) -> Outgoing:
    return Outgoing(
        message_id=1,
        key="k",
        channel="email",
        to="maria@example.com",
        purpose=purpose,
        expires_at=NOW + timedelta(days=1),
        client_external_id="c1",
        campaign="c",
        step="s",
        at=NOW,
        email=composed.email,
        unsubscribe_url=composed.unsubscribe_url,
    )


def _one_click(url: str) -> requests.Response:
    """What a mail provider sends (RFC 8058 section 3.2): no cookies, this exact body."""
    return requests.post(
        url,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


def _ledger(web: Web) -> list[tuple[str, str, str, str]]:
    return [(e["channel"], e["purpose"], e["action"], e["source"]) for e in web.store.consent_history(web.client_id)]


def test_one_click_from_a_marketing_emails_header_stops_marketing_email_only(web: Web) -> None:
    composed = _email(web, "rebook_nudge")
    assert composed.email is not None and composed.unsubscribe_url is not None
    assert "Unsubscribe from tips and offers: " + composed.unsubscribe_url in composed.email.text
    sent = SmtpEmailChannel(SmtpConfig(host="127.0.0.1", port=web.box.port, tls="none", sender="h@shoreline.example"))
    sent.send(_outgoing(composed, "marketing"))
    (mail,) = web.box.received
    link = re.match(r"<([^>]+)>", str(mail["List-Unsubscribe"]))
    assert link is not None and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    done = _one_click(_local(web, link.group(1)))
    assert done.status_code == 200 and "Done" in done.text and "still come by email" in done.text
    consent = web.consent()
    assert not consent.email_marketing and consent.email_care and consent.sms_care
    assert _ledger(web) == [("email", "marketing", "opt_out", "link")]
    assert "one-click" in web.store.consent_history(web.client_id)[0]["wording"]

    again = _one_click(_local(web, link.group(1)))
    assert again.status_code == 200 and "already" in again.text
    assert _ledger(web) == [("email", "marketing", "opt_out", "link")]  # no second row


def test_the_page_offers_stop_all_as_a_separate_explicit_choice(web: Web) -> None:
    url = _local(web, unsubscribe_url(web.clinic, web.store.client_state(web.client_id).client, NOW))
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert page.text.count("<form method='post'") == 2
    assert "name='scope' value='marketing'" in page.text and "name='scope' value='all'" in page.text
    assert "Stop all emails" in page.text
    assert web.consent().email_marketing and _ledger(web) == []  # looking is not unsubscribing

    all_off = requests.post(url, data={"scope": "all"}, timeout=10)
    assert all_off.status_code == 200 and "Done" in all_off.text
    consent = web.consent()
    assert not consent.email_marketing and not consent.email_care and consent.sms_care
    assert _ledger(web) == [("email", "all", "opt_out", "link")]

    for repeat in ({"scope": "all"}, {"scope": "marketing"}, {"List-Unsubscribe": "One-Click"}):
        again = requests.post(url, data=repeat, timeout=10)
        assert again.status_code == 200 and "already" in again.text, repeat
    assert _ledger(web) == [("email", "all", "opt_out", "link")]
    assert "unsubscribed from all our emails" in requests.get(url, timeout=10).text


def test_marketing_first_then_all_records_each_once(web: Web) -> None:
    url = _local(web, unsubscribe_url(web.clinic, web.store.client_state(web.client_id).client, NOW))
    assert "Done" in requests.post(url, data={"scope": "marketing"}, timeout=10).text
    page = requests.get(url, timeout=10).text
    assert "You are unsubscribed from tips and offers" in page and "name='scope' value='all'" in page
    assert "Done" in requests.post(url, data={"scope": "all"}, timeout=10).text
    assert _ledger(web) == [("email", "marketing", "opt_out", "link"), ("email", "all", "opt_out", "link")]


def test_care_email_links_to_preferences_and_has_no_one_click_header(web: Web) -> None:
    composed = _email(web, "pre_visit_reminder")
    assert composed.email is not None and composed.unsubscribe_url is not None
    assert "Manage your email preferences: " + composed.unsubscribe_url in composed.email.text
    assert "Unsubscribe" not in composed.email.text and "Manage your email preferences" in composed.email.html
    token = composed.unsubscribe_url.rsplit("/u/", 1)[1]
    assert verify(web.clinic.settings.signing_key(), token, now=NOW).scope == "preferences"

    config = SmtpConfig(host="127.0.0.1", port=web.box.port, tls="none", sender="h@shoreline.example")
    SmtpEmailChannel(config).send(_outgoing(composed, "care"))
    (mail,) = web.box.received
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None

    url = _local(web, composed.unsubscribe_url)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Email preferences" in page.text and "Stop all emails" in page.text
    # A POST that chooses nothing (or a stray one-click) never stops care email.
    assert "Done" in _one_click(url).text
    consent = web.consent()
    assert not consent.email_marketing and consent.email_care
    assert _ledger(web) == [("email", "marketing", "opt_out", "link")]


def test_a_link_issued_before_scopes_existed_stops_marketing_only(web: Web) -> None:
    """Version-1 tokens (already in inboxes, valid 400 days) carry no scope: read as marketing."""
    payload = f"v1|unsubscribe|c1|email|{int((NOW - timedelta(days=30)).timestamp())}".encode()
    key = web.clinic.settings.signing_key().encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    b64 = [base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (payload, mac)]
    url = f"{web.url}/u/{b64[0]}.{b64[1]}"
    assert requests.get(url, timeout=10).status_code == 200
    assert _one_click(url).status_code == 200
    consent = web.consent()
    assert not consent.email_marketing and consent.email_care


def test_raw_header_link_round_trip(web: Web) -> None:
    """The https entry of the header as a provider reads it from the raw bytes."""
    from followup.channels.smtp_email import build_message

    composed = _email(web, "rebook_nudge")
    config = SmtpConfig(host="x", sender="hello@shoreline-nmt.example", unsubscribe_mailto="u@shoreline.example")
    raw = build_message(_outgoing(composed, "marketing"), config).as_bytes()
    assert b"List-Unsubscribe: <https://" in raw
    header = str(message_from_bytes(raw, policy=policy.default)["List-Unsubscribe"])
    https, mailto = (part.strip(" <>") for part in header.split(","))
    assert mailto == "mailto:u@shoreline.example?subject=unsubscribe"
    assert _one_click(_local(web, https)).status_code == 200
    assert not web.consent().email_marketing and web.consent().email_care
