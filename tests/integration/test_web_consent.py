"""Consent you can defend (issue 11): signed Twilio webhooks over real HTTP, on SQLite and PostgreSQL.

STOP as people type it; a request to stop in words reaches a person flagged; START/YES/UNSTOP
only undo an earlier STOP and give back exactly the consent there was; a shared number's STOP
stops everyone on it with one reply; an unknown number's STOP holds for a client imported
later; a status callback only changes the message whose MessageSid it carries.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from followup.core.domain import Client, Consent
from followup.core.keywords import Keyword
from followup.store.schema import inbound_messages, messages
from followup.web.context import WebContext
from followup.web.inbound import InboundService
from tests.integration import test_web
from tests.integration.test_web import NOW, Web, _message, api

web = test_web.web  # the fixture: Maria Lopez on a live uvicorn server, signed webhooks

MARIA = "+13055550101"  # the fixture's client: Maria Lopez, SMS marketing consent given
CARLOS = "+13055550123"


@pytest.fixture(params=["sqlite", "postgresql"])
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``web`` fixture's database, here once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'followup.db'}"
    return str(request.getfixturevalue("pg_url"))


def _add(web: Web, external_id: str, first: str, last: str, phone: str, consent: Consent) -> int:
    client_id, _ = web.store.upsert_client(
        Client(external_id=external_id, first_name=first, last_name=last, phone=phone, consent=consent), NOW
    )
    return client_id


def _consent(web: Web, client_id: int) -> Consent:
    return web.store.client_state(client_id).client.consent


def _mails(web: Web) -> list[EmailMessage]:
    """What reached the clinic's mailbox, once the dispatcher has sent what the webhooks queued."""
    web.dispatch()
    return [m for m in web.box.received if m["To"] == "frontdesk@shoreline-nmt.example"]


def _text(mail: EmailMessage) -> str:
    return str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


@pytest.mark.parametrize("body", ["Stop.", "STOP!", "Opt out", "Unsubscribe.", "STOP 🙏", '"stop"', "ＳＴＯＰ"])
def test_stop_as_people_type_it_opts_out_and_confirms(web: Web, body: str) -> None:
    reply = web.sms(body, "SM-typed")
    assert reply.status_code == 200 and "unsubscribed" in reply.text
    consent = web.consent()
    assert not consent.sms_care and not consent.sms_marketing
    assert _mails(web) == []


@pytest.mark.parametrize("body", ["please stop texting me", "No more messages", "ya no me manden mensajes"])
def test_asking_to_stop_in_words_reaches_the_clinic_flagged_and_changes_nothing(web: Web, body: str) -> None:
    reply = web.sms(body, "SM-words")
    assert reply.status_code == 200 and "<Message>" not in reply.text
    assert web.consent() == Consent(sms_marketing=True)  # not an opt-out by itself
    (mail,) = _mails(web)
    assert str(mail["Subject"]).strip().startswith("Possible opt-out: Text from Maria Lopez")
    assert "POSSIBLE OPT-OUT" in _text(mail) and body in _text(mail)


def test_an_ordinary_reply_is_forwarded_without_the_flag(web: Web) -> None:
    web.sms("Can I move Thursday to 4pm?", "SM-q")
    (mail,) = _mails(web)
    assert not str(mail["Subject"]).strip().startswith("Possible opt-out") and "POSSIBLE" not in _text(mail)


def test_yes_from_a_number_that_never_opted_out_is_an_ordinary_reply(web: Web) -> None:
    carlos = _add(web, "c2", "Carlos", "Mendez", CARLOS, Consent(sms_care=False, sms_marketing=False))
    reply = web.sms("Yes", "SM-yes", sender=CARLOS)
    assert reply.status_code == 200 and "<Message>" not in reply.text
    assert _consent(web, carlos) == Consent(sms_care=False, sms_marketing=False)  # no consent created
    (mail,) = _mails(web)
    assert "Carlos Mendez (+13055550123) replied by text" in _text(mail)
    with web.store.engine.connect() as conn:
        kind = conn.execute(select(inbound_messages.c.kind).where(inbound_messages.c.message_sid == "SM-yes"))
        assert kind.scalar() == "reply"


def test_stop_then_start_gives_back_exactly_the_consent_before(web: Web) -> None:
    carlos = _add(web, "c2", "Carlos", "Mendez", CARLOS, Consent(sms_marketing=False))
    web.sms("STOP", "SM-c1", sender=CARLOS)
    assert not _consent(web, carlos).sms_care
    reply = web.sms("START", "SM-c2", sender=CARLOS)
    assert "resubscribed" in reply.text
    assert _consent(web, carlos) == Consent(sms_care=True, sms_marketing=False)  # marketing was never given
    assert web.consent() == Consent(sms_marketing=True)  # Maria, on another number, untouched
    history = [(e["action"], e["purpose"], e["source"]) for e in web.store.consent_history(carlos)]
    assert history[-2:] == [("opt_out", "all", "keyword"), ("opt_in", "care", "keyword")]
    # The STOP is undone once: a second START is a reply for a person, not a new grant.
    again = web.sms("UNSTOP", "SM-c3", sender=CARLOS)
    assert "<Message>" not in again.text and len(_mails(web)) == 1


def test_start_never_switches_on_care_the_client_had_refused(web: Web) -> None:
    carlos = _add(web, "c2", "Carlos", "Mendez", CARLOS, Consent(sms_care=False, sms_marketing=False))
    web.sms("STOP", "SM-r1", sender=CARLOS)
    web.sms("START", "SM-r2", sender=CARLOS)
    assert _consent(web, carlos) == Consent(sms_care=False, sms_marketing=False)


def test_stop_tips_then_stop_then_start_gives_back_what_was_there_just_before_the_stop(web: Web) -> None:
    web.sms("STOP TIPS", "SM-t1")
    web.sms("STOP", "SM-t2")
    assert web.consent() == Consent(sms_care=False, sms_marketing=False)
    web.sms("START", "SM-t3")
    # START answers STOP only: the client's earlier STOP TIPS still stands (a newcomer trial found it undone).
    assert web.consent() == Consent(sms_care=True, sms_marketing=False)


def test_start_after_stop_tips_alone_is_an_ordinary_reply(web: Web) -> None:
    web.sms("STOP TIPS", "SM-u1")
    reply = web.sms("START", "SM-u2")
    assert "<Message>" not in reply.text
    assert web.consent() == Consent(sms_care=True, sms_marketing=False)


def test_shared_number_stop_stops_both_with_one_reply_and_start_restores_each(web: Web) -> None:
    luis = _add(web, "c3", "Luis", "Lopez", MARIA, Consent(sms_marketing=False))  # Maria's husband, same phone
    reply = web.sms("STOP", "SM-s1")
    assert reply.text.count("<Message>") == 1
    assert web.consent() == Consent(sms_care=False, sms_marketing=False)
    assert _consent(web, luis) == Consent(sms_care=False, sms_marketing=False)
    web.sms("START", "SM-s2")
    assert web.consent() == Consent(sms_care=True, sms_marketing=True)
    assert _consent(web, luis) == Consent(sms_care=True, sms_marketing=False)


def test_stop_from_an_unknown_number_holds_for_a_client_imported_later(web: Web) -> None:
    stranger = "+13055550177"
    reply = web.sms("stop.", "SM-u1", sender=stranger)
    assert "unsubscribed" in reply.text
    assert web.store.suppressed(stranger, "sms") == {"all"}
    body = {"external_id": "c4", "first_name": "Ana", "last_name": "Reyes", "phone": stranger, "sms_marketing": True}
    assert api(web, "/api/clients", body).status_code == 200
    ana = web.store.find_client_id(external_id="c4")
    assert ana is not None
    assert _consent(web, ana) == Consent(sms_care=False, sms_marketing=False)
    # Her own START later gives back what the clinic recorded for her, nothing more.
    web.sms("Start", "SM-u2", sender=stranger)
    assert _consent(web, ana) == Consent(sms_care=True, sms_marketing=True)
    assert web.store.suppressed(stranger, "sms") == set()


def test_start_already_answered_by_twilio_restores_without_a_second_reply(web: Web) -> None:
    web.sms("STOP", "SM-a1", OptOutType="STOP")
    reply = web.sms("START", "SM-a2", OptOutType="START")
    assert "<Message>" not in reply.text
    assert web.consent() == Consent(sms_marketing=True)


def test_an_unknown_keyword_meaning_never_resubscribes(web: Web) -> None:
    web.sms("STOP", "SM-k1")
    service = InboundService(WebContext(clinic=web.clinic, store=web.store, email=None, now=lambda: NOW))
    # A meaning handle() does not know (a newer classifier, a typo in a table): never consent.
    odd = Keyword("resubscribe", "RESUBSCRIBE")  # type: ignore[arg-type]
    form = {"MessageSid": "SM-k2", "From": MARIA, "Body": "resubscribe"}
    assert service.handle(form, odd) is None
    assert web.consent() == Consent(sms_care=False, sms_marketing=False)


def _delivery(web: Web, message_id: int) -> str | None:
    with web.store.engine.connect() as conn:
        value = conn.execute(select(messages.c.delivery_status).where(messages.c.id == message_id)).scalar()
    return None if value is None else str(value)


def test_status_callback_for_another_messagesid_changes_nothing(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    m = _message(web)
    with web.store.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == m).values(provider_id="SMaaaa1111"))
    wrong = {"MessageSid": "SMbbbb2222", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    with caplog.at_level("WARNING", logger="followup"):
        assert web.twilio(f"/twilio/status?m={m}", wrong).status_code == 204
    assert _delivery(web, m) is None
    assert web.consent().sms_care  # the number is not marked dead on someone else's failure
    assert "status_sid_mismatch" in caplog.text
    right = wrong | {"MessageSid": "SMaaaa1111"}
    assert web.twilio(f"/twilio/status?m={m}", right).status_code == 204
    assert _delivery(web, m) == "undelivered" and not web.consent().sms_care
