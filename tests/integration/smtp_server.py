"""A real SMTP server in-process (aiosmtpd), scriptable per command."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Mailbox:
    rcpt_script: list[str] = field(default_factory=list)  # replies to the next RCPT TOs ("" = accept)
    data_script: list[str] = field(default_factory=list)  # replies to the next DATAs ("drop" = hang up)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.box.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        reply = self.box.rcpt_script.pop(0) if self.box.rcpt_script else ""
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.box.data_script.pop(0) if self.box.data_script else ""
        if reply == "drop":
            # The message was transmitted, but the answer never comes: the line drops.
            self.box.received.append(message_from_bytes(envelope.content, policy=policy.default))
            server.transport.abort()
            return "250 never seen"
        if reply:
            return reply
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.box.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (openssl), for the TLS tests."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def tls_smtp_server(cert: Path, key: Path, *, implicit: bool, password: str) -> Iterator[Mailbox]:
    """STARTTLS (or implicit TLS) with LOGIN required: only ``user`` / ``password`` gets in."""
    box = Mailbox(port=_free_port())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"user"
            and auth_data.password == (password.encode())
        )
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; with implicit TLS the whole
    # connection is encrypted already.
    options: dict[str, Any] = {"authenticator": check, "auth_require_tls": not implicit}
    if implicit:
        controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port, ssl_context=context, **options)
    else:
        controller = Controller(
            _Handler(box), hostname="127.0.0.1", port=box.port, tls_context=context, require_starttls=True, **options
        )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
