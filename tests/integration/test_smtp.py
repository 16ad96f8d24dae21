"""The SMTP channel against a real SMTP server (aiosmtpd), parsed back with ``email``."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from followup.channels.base import Outgoing
from followup.channels.dryrun import DryRunChannel
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.config.loader import load_clinic
from followup.core.domain import Client, Session
from followup.core.rules import SendWindow
from followup.engine.dispatch import Dispatcher
from followup.engine.planning import replan_all
from followup.exceptions import AccountError, PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from followup.rendering.templates import RenderedEmail
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from followup.testing import FixedClock, InMemoryChannel
from followup.timeutil import zone
from tests.conftest import ClinicFactory
from tests.integration.smtp_server import Mailbox, self_signed, smtp_server, tls_smtp_server
from tests.integration.test_dispatch import CAMPAIGNS, TIPS

NY = zone("America/New_York")
AT = datetime(2026, 12, 3, 15, 0, tzinfo=NY)


@pytest.fixture
def box() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


def channel(box: Mailbox) -> SmtpEmailChannel:
    return SmtpEmailChannel(
        SmtpConfig(
            host="127.0.0.1",
            port=box.port,
            tls="none",
            sender="Shoreline NMT <hello@shoreline-nmt.example>",
            reply_to="frontdesk@shoreline-nmt.example",
            timeout=5,
            unsubscribe_mailto="unsubscribe@shoreline-nmt.example",
        )
    )


def email(purpose: str = "marketing", n: int = 1, to: str = "maria@example.com") -> Outgoing:
    return Outgoing(
        message_id=n,
        key=f"k{n}",
        channel="email",
        to=to,
        purpose=purpose,
        expires_at=AT + timedelta(hours=5),
        client_external_id="c1",
        campaign="nudge",
        step="s",
        at=AT,
        email=RenderedEmail(
            subject="Ready for your next session?",
            text="Hi Maria,\n\nBook: x\n",
            html='<html><body><p style="color:#123">Hi Maria</p></body></html>',
        ),
        unsubscribe_url="https://followup.example/u/TOKEN",
    )


def test_marketing_email_arrives_as_text_and_html_with_one_click_unsubscribe(box: Mailbox) -> None:
    sent = channel(box).send(email("marketing"))
    (mail,) = box.received
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and "Hi Maria" in plain.get_content()
    assert html is not None and 'style="color:#123"' in html.get_content()
    assert mail["Subject"] == "Ready for your next session?"
    assert mail["From"] == "Shoreline NMT <hello@shoreline-nmt.example>"
    assert mail["Reply-To"] == "frontdesk@shoreline-nmt.example"
    assert mail["Message-ID"].strip() == sent.provider_id and sent.provider_id.endswith("@shoreline-nmt.example>")
    assert mail["Date"] is not None
    assert mail["List-Unsubscribe"] == (
        "<https://followup.example/u/TOKEN>, <mailto:unsubscribe@shoreline-nmt.example?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert box.envelopes == [("hello@shoreline-nmt.example", ["maria@example.com"])]


def test_care_email_has_no_list_unsubscribe_headers(box: Mailbox) -> None:
    channel(box).send(email("care"))
    (mail,) = box.received
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None


def test_one_connection_is_reused_across_a_batch(box: Mailbox) -> None:
    smtp = channel(box)
    smtp.open()
    for n in range(1, 4):
        smtp.send(email(n=n, to=f"c{n}@example.com"))
    smtp.close()
    assert len(box.received) == 3 and box.connections == 1
    smtp.send(email(n=9))  # outside a batch: its own connection, closed after
    assert box.connections == 2


@pytest.mark.parametrize(
    ("where", "reply", "error"),
    [
        ("rcpt", "451 4.7.1 greylisted, try later", TransientDeliveryError),
        ("rcpt", "550 5.1.1 no such user", PermanentDeliveryError),
        ("data", "451 4.3.0 temporary failure", TransientDeliveryError),
        ("data", "552 5.3.4 message too big", PermanentDeliveryError),
    ],
)
def test_replies_are_classified_by_code(box: Mailbox, where: str, reply: str, error: type[Exception]) -> None:
    (box.rcpt_script if where == "rcpt" else box.data_script).append(reply)
    with pytest.raises(error, match=reply.split(maxsplit=1)[0]):
        channel(box).send(email())
    assert box.received == []


def test_421_reconnects_and_delivers_once(box: Mailbox) -> None:
    box.rcpt_script.append("421 4.3.2 service shutting down")
    smtp = channel(box)
    smtp.open()
    smtp.send(email())
    smtp.close()
    assert len(box.received) == 1 and box.connections == 2


def test_partial_refusal_is_per_recipient(box: Mailbox) -> None:
    box.rcpt_script.append("550 5.1.1 no such user")
    smtp = channel(box)
    smtp.open()
    with pytest.raises(PermanentDeliveryError):
        smtp.send(email(n=1, to="gone@example.com"))
    smtp.send(email(n=2, to="maria@example.com"))  # the next recipient on the same connection is fine
    smtp.close()
    assert [m["To"] for m in box.received] == ["maria@example.com"] and box.connections == 1


def test_connection_lost_after_data_is_unknown(box: Mailbox) -> None:
    box.data_script.append("drop")
    with pytest.raises(UnknownOutcomeError, match="during DATA"):
        channel(box).send(email())


@pytest.fixture
def dispatch(
    sqlite_url: str, make_clinic: ClinicFactory, box: Mailbox
) -> Iterator[tuple[Dispatcher, FixedClock, SqlStore]]:
    config, templates = make_clinic(campaigns=CAMPAIGNS, tips=TIPS)
    clinic = load_clinic(config, templates, env_file=None)
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    end = datetime(2026, 12, 1, 15, 0, tzinfo=NY)
    client_id, _ = store.upsert_client(Client(external_id="c1", first_name="Maria", email="maria@example.com"), end)
    store.upsert_session(
        Session(
            external_id="s1",
            client_external_id="c1",
            start=end - timedelta(hours=1),
            end=end,
            service="NMT",
            status="completed",
        ),
        client_id,
        end,
    )
    replan_all(store, clinic, end)  # the nudge (email, marketing) is due 14 days later at 11:00
    clock = FixedClock(datetime(2026, 12, 15, 11, 0, tzinfo=NY))
    dispatcher = Dispatcher(
        store,
        clinic,
        {"sms": InMemoryChannel("sms"), "email": channel(box)},
        clock,
        worker="w",
        window=SendWindow(),
        rng=random.Random(5),
    )
    yield dispatcher, clock, store
    store.close()


def test_451_then_250_is_delivered_once(dispatch: tuple[Dispatcher, FixedClock, SqlStore], box: Mailbox) -> None:
    dispatcher, clock, store = dispatch
    box.data_script.append("451 4.3.0 try again later")
    assert dispatcher.run_once()["retry"] == 1
    (row,) = store.messages(MessageQuery(statuses=("scheduled",), client_external_id="c1"))
    clock.set(row.next_attempt_at)
    assert dispatcher.run_once()["sent"] == 1
    assert len(box.received) == 1
    assert box.received[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    clock.set(row.next_attempt_at + timedelta(hours=1))
    assert dispatcher.run_once()["claimed"] == 0


def test_550_fails_and_is_not_retried(dispatch: tuple[Dispatcher, FixedClock, SqlStore], box: Mailbox) -> None:
    dispatcher, clock, store = dispatch
    box.rcpt_script.append("550 5.1.1 mailbox unavailable")
    assert dispatcher.run_once()["failed"] == 1
    clock.set(clock.now() + timedelta(hours=1))
    assert dispatcher.run_once()["claimed"] == 0
    (row,) = [m for m in store.messages(MessageQuery()) if m.campaign == "nudge"]
    assert row.status == "failed" and "550" in (row.error or "") and box.received == []


def test_lost_answer_after_data_is_unconfirmed_and_not_resent(
    dispatch: tuple[Dispatcher, FixedClock, SqlStore], box: Mailbox
) -> None:
    dispatcher, clock, store = dispatch
    box.data_script.append("drop")
    assert dispatcher.run_once()["unconfirmed"] == 1
    clock.set(clock.now() + timedelta(hours=1))
    dispatcher.run_once()
    (row,) = [m for m in store.messages(MessageQuery()) if m.campaign == "nudge"]
    assert row.status == "unconfirmed" and len(box.received) == 1


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_and_login(tmp_path: Path, mode: str) -> None:
    cert, key = self_signed(tmp_path)
    with tls_smtp_server(cert, key, implicit=mode == "ssl", password="s3cret") as box:
        good = SmtpConfig(
            host="127.0.0.1",
            port=box.port,
            tls=mode,
            username="user",
            password="s3cret",
            sender="hello@shoreline-nmt.example",
            timeout=5,
            ca_file=str(cert),
        )
        SmtpEmailChannel(good).send(email())
        assert len(box.received) == 1
        wrong = SmtpConfig(**{**good.__dict__, "password": "nope"})
        # An account fault, not the recipient's (issue 11): the channel pauses, messages stay scheduled.
        with pytest.raises(AccountError, match="login refused"):
            SmtpEmailChannel(wrong).send(email(n=2))
        untrusted = SmtpConfig(**{**good.__dict__, "ca_file": None})
        with pytest.raises(TransientDeliveryError, match="cannot connect"):
            SmtpEmailChannel(untrusted).send(email(n=3))
        assert len(box.received) == 1


# --- the compliance headers, as bytes on the wire and in the dry-run files ------------------

LONG_LINK = (
    "https://followup.shoreline-nmt.example/u/" + "djJ8dW5zdWJzY3JpYmV8YzF8ZW1haWx8" * 3 + ".VF4GYU_zf7xuC0ImCzKV3HHhKX"
)


@contextmanager
def raw_smtp_server() -> Iterator[tuple[int, list[bytes]]]:
    """aiosmtpd keeping each message's bytes exactly as they arrived."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(bytes(envelope.original_content or envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def _header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]


def test_list_unsubscribe_arrives_as_plain_ascii_folded_only_between_its_entries() -> None:
    """RFC 2369 / RFC 8058: providers look for ``<https://`` in the raw header; the standard
    library's default folding used to send ``=?utf-8?q?=3Chttps...`` instead."""
    with raw_smtp_server() as (port, received):
        smtp = SmtpEmailChannel(
            SmtpConfig(
                host="127.0.0.1",
                port=port,
                tls="none",
                sender="Shoreline NMT <hello@shoreline-nmt.example>",
                unsubscribe_mailto="frontdesk@shoreline-nmt.example",
            )
        )
        smtp.send(replace(email("marketing"), unsubscribe_url=LONG_LINK))
    (raw,) = received
    head = _header_block(raw)
    assert b"List-Unsubscribe: <https://" in head
    assert b"=?utf-8?" not in head.split(b"List-Unsubscribe:", 1)[1].split(b"\nX-", 1)[0]
    assert (
        b"List-Unsubscribe: <" + LONG_LINK.encode() + b">,\r\n <mailto:frontdesk@shoreline-nmt.example"
        b"?subject=unsubscribe>\r\n" in head
    )
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe"] == f"<{LONG_LINK}>, <mailto:frontdesk@shoreline-nmt.example?subject=unsubscribe>"


def test_dry_run_eml_carries_exactly_the_headers_live_mail_does(tmp_path: Path) -> None:
    config = SmtpConfig(
        host="127.0.0.1",
        tls="none",
        sender="Shoreline NMT <hello@shoreline-nmt.example>",
        reply_to="frontdesk@shoreline-nmt.example",
        unsubscribe_mailto="frontdesk@shoreline-nmt.example",
    )
    for purpose in ("marketing", "care"):
        message = replace(email(purpose), unsubscribe_url=LONG_LINK)
        with raw_smtp_server() as (port, received):
            SmtpEmailChannel(replace(config, port=port)).send(message)
        dry = DryRunChannel("email", tmp_path / purpose, mail=config)
        dry.send(message)
        (eml,) = (tmp_path / purpose / "email").glob("*.eml")
        live_mail = message_from_bytes(received[0], policy=policy.default)
        dry_mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
        names = [k for k in live_mail if k not in ("Message-ID", "Content-Type")]  # both unique per message
        assert names == [k for k in dry_mail if k not in ("Message-ID", "Content-Type")]
        assert [str(live_mail[k]) for k in names] == [str(dry_mail[k]) for k in names]
        assert live_mail.get_content_type() == dry_mail.get_content_type() == "multipart/alternative"
        assert dry_mail["Message-ID"].endswith("@shoreline-nmt.example>")
        has_list = b"List-Unsubscribe: <https://" in _header_block(eml.read_bytes())
        assert has_list == (purpose == "marketing")
        assert ("List-Unsubscribe-Post" in dry_mail) == (purpose == "marketing")


def test_dry_run_without_smtp_settings_uses_the_senders_address_as_live_does(tmp_path: Path) -> None:
    """Live delivery defaults Reply-To and the unsubscribe ``mailto:`` to the business email,
    the dry-run sender's address."""
    dry = DryRunChannel("email", tmp_path, sender="Shoreline NMT <frontdesk@shoreline-nmt.example>")
    dry.send(email("marketing"))
    (eml,) = (tmp_path / "email").glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["Reply-To"] == "frontdesk@shoreline-nmt.example"
    assert mail["List-Unsubscribe"] == (
        "<https://followup.example/u/TOKEN>, <mailto:frontdesk@shoreline-nmt.example?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("code", "text", "bounce"),
    [
        (550, "5.1.1 <ana@example.com>: Recipient address rejected: User unknown", True),
        (550, "No such user here", True),
        (553, "5.1.3 Bad recipient address syntax", True),
        (550, "5.7.1 Message rejected as spam", False),  # policy, not the address
        (552, "5.2.2 Mailbox full", False),
        (451, "4.1.1 try again later", False),
    ],
)
def test_a_hard_bounce_at_rcpt_suppresses_the_address_and_nothing_else_does(code: int, text: str, bounce: bool) -> None:
    from followup.channels.smtp_email import classify_smtp
    from followup.exceptions import RecipientOptedOutError

    error = classify_smtp(code, text, "RCPT")
    assert isinstance(error, RecipientOptedOutError) is bounce
    assert not isinstance(classify_smtp(code, text, "DATA"), RecipientOptedOutError)
