"""Dry-run delivery: the in-memory fake plus files a person can open.

Every email becomes ``<outbox>/email/<message id>-<campaign>-<step>.eml`` (open it in any
mail client) and every SMS a line of ``<outbox>/sms.jsonl``.  Files are written so that
a crash never leaves half a message: emails via a temporary file and an atomic rename,
SMS lines with a single ``write`` on an append-only descriptor.  ``lookup`` reads them
back, so a message whose worker died after writing is recognised as sent, not resent.

An ``.eml`` file holds exactly the bytes live delivery would send: it is made by
:func:`followup.channels.smtp_email.build_message`, with the same headers (``Reply-To``,
``Message-ID``, and on marketing email ``List-Unsubscribe`` / ``List-Unsubscribe-Post``,
RFC 2369 / RFC 8058).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from followup.channels.base import Outgoing, Sent
from followup.channels.memory import InMemoryChannel
from followup.channels.smtp_email import SmtpConfig, build_message, sender_address
from followup.core.domain import ChannelName

log = logging.getLogger("followup.dryrun")


class DryRunChannel(InMemoryChannel):
    def __init__(
        self, name: ChannelName, outbox: Path, sender: str = "followup@localhost", mail: SmtpConfig | None = None
    ) -> None:
        """``mail``: the live SMTP settings that shape a message (sender, ``Reply-To``, the
        unsubscribe ``mailto:``); without it, ``sender`` and, as live delivery defaults them to
        the business email, its address for ``Reply-To`` and the ``mailto:``."""
        super().__init__(name=name)
        self.keep_sent = False  # the files are the record, and lookup() reads them
        self.outbox = outbox
        address = sender_address(sender)
        self.mail = mail or SmtpConfig(host="dry-run", sender=sender, reply_to=address, unsubscribe_mailto=address)
        self._sms_fd: int | None = None  # sms.jsonl, held open from open() to close()

    def open(self) -> None:
        """Before a batch: open ``sms.jsonl`` once (opening it per text was a third of a dry-run send)."""
        if self.name == "sms" and self._sms_fd is None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            self._sms_fd = os.open(self.outbox / "sms.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def close(self) -> None:
        if self._sms_fd is not None:
            os.close(self._sms_fd)
            self._sms_fd = None

    def _email_path(self, message: Outgoing) -> Path:
        return self.outbox / "email" / f"{message.message_id:08d}-{message.campaign}-{message.step}.eml"

    def transmit(self, message: Outgoing, payload: Any) -> Sent:
        sent = super().transmit(message, payload)
        if self.name == "email":
            path = self._email_path(message)
            mail = build_message(message, self.mail)
            tmp = path.with_suffix(".tmp")
            try:
                tmp.write_bytes(mail.as_bytes())
            except FileNotFoundError:  # the first email (a mkdir per email was 5% of writing one)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(mail.as_bytes())
            os.replace(tmp, path)
            provider_id = f"dryrun-email-{message.message_id}"
            log.info("dry-run email written to %s", path)
        else:
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
            # One write on an O_APPEND descriptor: a whole line, even with other workers writing.
            if self._sms_fd is not None:
                os.write(self._sms_fd, line.encode("utf-8"))
            else:  # sent outside open()/close() (send-test, a test calling send)
                self.outbox.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.outbox / "sms.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
            provider_id = f"dryrun-sms-{message.message_id}"
            log.info("dry-run sms to %s appended to %s", message.to, self.outbox)
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
