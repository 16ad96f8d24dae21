"""Email over SMTP with the standard library.

One connection serves a whole batch (``open``/``close``), reconnecting when the server
says 421 or drops us between messages.  The exchange is driven step by step (MAIL, RCPT,
DATA) so that a failure is classified by where it happened:

- 4xx at any step: transient (retry later);
- 5xx: permanent (this recipient or content will not be accepted);
- the connection lost before DATA completed its send: transient (nothing was accepted);
- the connection lost *after* the message was sent in DATA but before the server's
  answer: unknown.  SMTP has no way to ask afterwards, so such a message is not resent.

:func:`build_message` is the one place an email is made: live delivery sends it and the
dry-run channel (:mod:`followup.channels.dryrun`) writes the same bytes to its ``.eml`` files.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from followup.channels.base import Channel, Outgoing, Sent
from followup.exceptions import (
    AccountError,
    DeliveryError,
    PermanentDeliveryError,
    RecipientOptedOutError,
    TransientDeliveryError,
    UnknownOutcomeError,
)

log = logging.getLogger("followup.smtp")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    tls: str = "starttls"  # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    sender: str = "followup@localhost"
    reply_to: str | None = None
    timeout: float = 30.0
    unsubscribe_mailto: str | None = None  # e.g. unsubscribe@clinic.example
    ca_file: str | None = None  # extra CA to trust (a private relay)

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


# RFC 2369 list headers hold URLs in angle brackets: they must reach the mail provider as
# they are.  The standard library's folding turns any word longer than a line into RFC 2047
# encoded words (``=?utf-8?q?=3Chttps...``), in which no provider finds a one-click link.
_VERBATIM_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
_BETWEEN_ENTRIES = re.compile(r"(?<=>)\s*,\s*(?=<)")


class MailPolicy(EmailPolicy):
    """``email.policy.default`` except that ``List-Unsubscribe`` and ``List-Unsubscribe-Post``
    are written in plain ASCII, folded only between the ``<...>`` entries (RFC 2369 section 2:
    whitespace may appear between the bracketed URLs; RFC 8058 section 3.1: the header must
    carry the https URI for a one-click POST).  Everything else folds as usual."""

    def _verbatim(self, name: str, value: str) -> str | None:
        text = str(value).strip()
        if name.lower() not in _VERBATIM_HEADERS or not text.isascii():
            return None
        return f"{name}: " + ("," + self.linesep + " ").join(_BETWEEN_ENTRIES.split(text)) + self.linesep

    def fold(self, name: str, value: str) -> str:
        verbatim = self._verbatim(name, value)
        return verbatim if verbatim is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        verbatim = self._verbatim(name, value)
        return verbatim.encode("ascii") if verbatim is not None else super().fold_binary(name, value)


MAIL_POLICY = MailPolicy()


def build_message(message: Outgoing, config: SmtpConfig) -> EmailMessage:
    """The email, for live delivery and the dry-run ``.eml`` files alike: multipart/alternative
    (text + HTML), with the headers mail providers look for.

    Marketing email carries ``List-Unsubscribe: <https://.../u/TOKEN>, <mailto:...>``
    (RFC 2369) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058): the
    token's scope is "marketing", so a one-click POST stops marketing email only.  Care email
    (reminders, aftercare) has neither header: its footer links to the preferences page, and
    nothing should stop care messages in one click.
    """
    assert message.email is not None
    mail = EmailMessage(policy=MAIL_POLICY)
    mail["Subject"] = message.email.subject
    mail["From"] = config.sender
    mail["To"] = message.to
    if config.reply_to:
        mail["Reply-To"] = config.reply_to
    mail["Date"] = format_datetime(message.at.replace(microsecond=0))
    domain = config.sender.rsplit("@", 1)[-1].strip("> ") or None
    mail["Message-ID"] = make_msgid(idstring=f"followup.{message.message_id}", domain=domain)
    mail["X-Followup-Key"] = message.key
    if message.purpose == "marketing" and message.unsubscribe_url:
        targets = [f"<{message.unsubscribe_url}>"]
        if config.unsubscribe_mailto:
            targets.append(f"<mailto:{config.unsubscribe_mailto}?subject=unsubscribe>")
        mail["List-Unsubscribe"] = ", ".join(targets)
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1
    mail.set_content(message.email.text)
    mail.add_alternative(message.email.html, subtype="html")
    return mail


def sender_address(sender: str) -> str:
    """``hello@clinic.example`` from ``Clinic <hello@clinic.example>``."""
    return parseaddr(sender)[1] or sender


# A hard bounce: the mailbox does not exist or is disabled (RFC 3463 enhanced codes 5.1.1-5.1.3,
# 5.1.6, 5.2.1), or, from servers that give no enhanced code, the usual wording for it.
_HARD_BOUNCE = re.compile(
    r"\b5\.1\.[1236]\b|\b5\.2\.1\b|user unknown|no such user|unknown user|does not exist|"
    r"mailbox (?:unavailable|not found|disabled)|recipient (?:address )?rejected: user",
    re.IGNORECASE,
)


def classify_smtp(code: int, text: str, step: str) -> DeliveryError:
    """What an SMTP reply means for this message (RFC 5321 section 4.2.1, RFC 3463).

    4xx: try again later.  5xx at RCPT naming a mailbox that does not exist is a hard bounce:
    the address goes on the suppression list (:class:`RecipientOptedOutError`).  Other 5xx:
    this message will never go (policy, content), but the address may be fine.
    """
    detail = f"SMTP {code} at {step}: {text}"
    if 400 <= code < 500:
        return TransientDeliveryError(detail, code=str(code), provider="smtp")
    if step == "RCPT" and code in (550, 551, 553) and _HARD_BOUNCE.search(text):
        return RecipientOptedOutError(f"hard bounce: {detail}", code=str(code), provider="smtp")
    return PermanentDeliveryError(detail, code=str(code), provider="smtp")


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class SmtpEmailChannel(Channel):
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None
        self._in_batch = False

    # --- connection ------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        conn: smtplib.SMTP
        if config.tls == "ssl":
            conn = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=config.tls_context())
        else:
            conn = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        conn.ehlo()
        if config.tls == "starttls":
            conn.starttls(context=config.tls_context())
            conn.ehlo()
        if config.username:
            conn.login(config.username, config.password or "")
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except smtplib.SMTPAuthenticationError as exc:
                # An account fault, not the recipient's: pause the channel, keep the messages.
                raise AccountError(
                    f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)} "
                    "(check FOLLOWUP_SMTP_USERNAME / _PASSWORD)",
                    provider="smtp",
                ) from exc
            except smtplib.SMTPResponseException as exc:
                raise classify_smtp(exc.smtp_code, _text(exc.smtp_error), "connect") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise TransientDeliveryError(f"cannot connect to SMTP server: {exc}", provider="smtp") from exc
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def open(self) -> None:
        self._in_batch = True

    def close(self) -> None:
        self._in_batch = False
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None

    # --- the hooks ------------------------------------------------------------

    def build(self, message: Outgoing) -> EmailMessage:
        return build_message(message, self.config)

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        try:
            return self._exchange(message, payload)
        except TransientDeliveryError as first:
            if first.code != "421" and "disconnected" not in str(first):
                raise
            # 421 / a connection the server closed between messages: once more on a new one.
            log.info("smtp: reconnecting after %s", first)
            self._drop()
            return self._exchange(message, payload)
        finally:
            if not self._in_batch:
                self.close()

    def _exchange(self, message: Outgoing, mail: EmailMessage) -> Sent:
        conn = self._connection()
        sender = sender_address(self.config.sender)
        step = "MAIL FROM"
        try:
            code, reply = conn.mail(sender)
            if code != 250:
                raise classify_smtp(code, _text(reply), step)
            step = "RCPT TO"
            code, reply = conn.rcpt(message.to)
            if code not in (250, 251):
                self._reset(conn)
                raise classify_smtp(code, _text(reply), step)
            step = "DATA"
            # SMTP wants CRLF line ends; smtplib converts str but sends bytes as they are.
            code, reply = conn.data(mail.as_bytes(policy=mail.policy.clone(linesep="\r\n")))
            if code != 250:
                raise classify_smtp(code, _text(reply), step)
        except smtplib.SMTPServerDisconnected as exc:
            self._conn = None
            if step == "DATA":
                # The message may have been accepted before the line dropped.
                raise UnknownOutcomeError(f"connection lost during DATA: {exc}", provider="smtp") from exc
            raise TransientDeliveryError(f"server disconnected at {step}", provider="smtp") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset(conn)
            raise classify_smtp(exc.smtp_code, _text(exc.smtp_error), step) from exc
        except OSError as exc:
            self._conn = None
            if step == "DATA":
                raise UnknownOutcomeError(f"connection error during DATA: {exc}", provider="smtp") from exc
            raise TransientDeliveryError(f"connection error at {step}: {exc}", provider="smtp") from exc
        return Sent(provider_id=str(mail["Message-ID"]), detail=_text(reply))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._conn = None

    # SMTP cannot be asked afterwards whether a message arrived: an unknown outcome is
    # recorded as "unconfirmed" and not resent (a duplicate email is the worse mistake).
    can_reconcile = False
