"""Bounded input over real HTTP (uvicorn on a local port, the fixture of test_web.py).

Request bodies are counted while they stream in and refused at ``web_max_body_bytes``
(64 KiB) on every route, chunked or not; the ingest API refuses a missing token before it
reads a byte.  The server runs in this process (a thread), so its RSS is this process's.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from followup.rendering.compose import unsubscribe_url
from tests.integration import test_web
from tests.integration.test_web import API_TOKEN, NOW, PUBLIC, Web

web = test_web.web  # the fixture: the web app on a live uvicorn server (Maria Lopez, c1)

MB = 1024 * 1024
BODY = 300 * MB
CHUNK = 64 * 1024


def rss_mb() -> float:
    """Resident memory of the server process (this one: uvicorn runs in a thread), from /proc."""
    status = open("/proc/self/status", encoding="ascii").read()  # noqa: SIM115 - read at once
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) / 1024


def chunked_post(url: str, path: str, headers: dict[str, str], total: int) -> tuple[int | None, int, float]:
    """POST ``total`` bytes with ``Transfer-Encoding: chunked`` (no Content-Length), from a
    generator, the way a client streaming a huge upload does; stops as soon as the server
    has answered.  Returns (status, bytes sent, largest RSS growth seen in MB)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    start = rss_mb()
    peak = 0.0
    sent = 0

    def body() -> Iterator[bytes]:
        frame = f"{CHUNK:x}\r\n".encode() + b"{" * CHUNK + b"\r\n"
        for _ in range(total // CHUNK):
            yield frame
        yield b"0\r\n\r\n"

    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    answer = b""
    with sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        for n, frame in enumerate(body()):
            view = memoryview(frame)
            while view:
                try:
                    answer += sock.recv(65536)  # has the server answered already?
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    break
                if answer:
                    break
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    time.sleep(0.001)
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                sent += len(frame)
                if n % 64 == 0:
                    peak = max(peak, rss_mb() - start)
                continue
            break
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while b"\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    peak = max(peak, rss_mb() - start)
    status = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(status.group(1)) if status else None), sent, peak


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/api/clients", {"Content-Type": "application/json"}, 401),  # no token: refused unread
        ("/api/clients", {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"}, 413),
        ("/twilio/inbound", {"Content-Type": "application/x-www-form-urlencoded"}, 413),
        ("/u/", {"Content-Type": "application/x-www-form-urlencoded"}, 413),  # a valid unsubscribe link
    ],
)
def test_a_chunked_300_mb_body_is_refused_without_being_buffered(
    web: Web, path: str, headers: dict[str, str], expected: int
) -> None:
    if path == "/u/":
        client = web.store.client_state(web.client_id).client
        path = unsubscribe_url(web.clinic, client, NOW).removeprefix(PUBLIC)
    began = time.monotonic()
    status, sent, growth = chunked_post(web.url, path, headers, BODY)
    print(f"{path}: {status} after {sent / MB:.2f} MB sent, server RSS +{growth:.1f} MB")
    assert status == expected
    assert growth < 20, f"server RSS grew by {growth:.1f} MB"
    assert sent < 20 * MB  # answered long before the 300 MB were through
    assert time.monotonic() - began < 20
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200  # still serving


def test_declared_length_over_the_limit_is_refused_before_reading(web: Web) -> None:
    response = requests.post(
        web.url + "/twilio/inbound",
        data=b"x" * (64 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 413 and response.json() == {"detail": "request body too large"}


def test_bodies_within_the_limit_still_work_chunked_or_not(web: Web) -> None:
    body = {"external_id": "c7", "first_name": "Ana", "phone": "305-555-0177", "last_name": "Diaz"}
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    assert requests.post(web.url + "/api/clients", json=body, headers=headers, timeout=10).status_code == 200

    def pieces() -> Iterator[bytes]:
        text = json.dumps(body | {"external_id": "c8"}).encode()
        for i in range(0, len(text), 50):
            yield text[i : i + 50]

    streamed = requests.post(
        web.url + "/api/clients",
        data=pieces(),
        headers=headers | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert streamed.status_code == 200, streamed.text
    assert streamed.request.headers.get("Transfer-Encoding") == "chunked"
    assert web.store.find_client_id(external_id="c8") is not None


def test_the_api_refuses_a_missing_token_before_reading_the_body(web: Web) -> None:
    """401 with the bearer challenge, whatever the body (even one that is not JSON)."""
    response = requests.post(
        web.url + "/api/sessions", data=b"not json", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    wrong = requests.post(
        web.url + "/api/sessions", data=b"not json", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 401
