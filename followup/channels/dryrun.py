"""Dry-run delivery: the in-memory fake plus files a person can open.

Every email becomes ``<outbox>/email/<message id>-<campaign>-<step>.eml`` (open it in any
mail client) and every SMS a line of ``<outbox>/sms.jsonl``.  Files are written so that
a crash never leaves half a message: emails via a temporary file and an atomic rename,
SMS lines with a single ``write`` on an append-only descriptor.  ``lookup`` reads them
back, so a message whose worker died after writing is recognised as sent, not resent.
"""

from __future__ import annotations

import json
import logging
import os
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from followup.channels.base import Outgoing, Sent
from followup.channels.memory import InMemoryChannel
from followup.core.domain import ChannelName
from followup.timeutil import UTC

log = logging.getLogger("followup.dryrun")


def build_email(message: Outgoing, sender: str, reply_to: str | None = None) -> EmailMessage:
    """The MIME message we would send (text + HTML alternative)."""
    assert message.email is not None
    mail = EmailMessage()
    mail["Subject"] = message.email.subject
    mail["From"] = sender
    mail["To"] = message.to
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Message-ID"] = make_msgid(idstring=f"followup-{message.message_id}")
    mail["X-Followup-Key"] = message.key
    mail.set_content(message.email.text)
    mail.add_alternative(message.email.html, subtype="html")
    return mail


class DryRunChannel(InMemoryChannel):
    def __init__(self, name: ChannelName, outbox: Path, sender: str = "followup@localhost") -> None:
        super().__init__(name=name)
        self.outbox = outbox
        self.sender = sender

    def _email_path(self, message: Outgoing) -> Path:
        return self.outbox / "email" / f"{message.message_id:08d}-{message.campaign}-{message.step}.eml"

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        sent = super().transmit(message, payload)
        if self.name == "email":
            path = self._email_path(message)
            path.parent.mkdir(parents=True, exist_ok=True)
            mail = build_email(message, self.sender)
            mail["Date"] = format_datetime(message.at.astimezone(UTC).replace(microsecond=0))
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(bytes(mail))
            os.replace(tmp, path)
            provider_id = f"dryrun-email-{message.message_id}"
            log.info("dry-run email written to %s", path)
        else:
            self.outbox.mkdir(parents=True, exist_ok=True)
            line = (
                json.dumps(
                    {
                        "message_id": message.message_id,
                        "key": message.key,
                        "to": message.to,
                        "campaign": message.campaign,
                        "step": message.step,
                        "body": message.sms,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            fd = os.open(self.outbox / "sms.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
            provider_id = f"dryrun-sms-{message.message_id}"
            log.info("dry-run sms to %s appended to %s", message.to, self.outbox / "sms.jsonl")
        return Sent(provider_id=provider_id, detail=sent.detail)

    def lookup(self, message: Outgoing) -> Sent | None:
        if self.name == "email":
            return Sent(f"dryrun-email-{message.message_id}") if self._email_path(message).exists() else None
        path = self.outbox / "sms.jsonl"
        if not path.exists():
            return None
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    if json.loads(line).get("key") == message.key:
                        return Sent(f"dryrun-sms-{message.message_id}")
                except json.JSONDecodeError:
                    continue
        return None
