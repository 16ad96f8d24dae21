"""A small local stand-in for Twilio's Messages API, scriptable for faults.

Each POST to ``…/Messages.json`` takes the next scripted answer (default: 201 created);
a GET lists the messages "Twilio" accepted, newest first, like the real API.  What it
received is kept for assertions, with each POST's arrival time (``time.monotonic``).

With ``rate`` set it enforces a sending rate as Twilio's queue would: a POST arriving less
than ``1/rate - tolerance`` seconds after the previous one is answered 429 (error 20429)
and counted in ``too_fast``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ACCOUNT = "AC" + "0" * 32


@dataclass
class Answer:
    status: int = 201
    code: int | None = None
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering (after reading the request)
    # Whether "Twilio" keeps the message; None: only with a 201, a drop or a delay.  With an
    # error status (504 say): a gateway that timed out after Twilio had queued it.
    accept: bool | None = None
    retry_after: str | None = None  # a Retry-After header on the answer


@dataclass
class StandIn:
    script: list[Answer] = field(default_factory=list)
    list_script: list[Answer] = field(default_factory=list)  # answers to GET (lookups); default 200
    posts: list[dict[str, str]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    lists: int = 0
    base_url: str = ""
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each POST
    rate: float | None = None  # messages per second enforced (None: any)
    tolerance: float = 0.0  # seconds of early arrival forgiven
    too_fast: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # What "now" is for Twilio (tests on a virtual clock set this to theirs).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def answer(self) -> Answer:
        arrived = time.monotonic()
        with self.lock:
            previous = self.arrivals[-1] if self.arrivals else None
            self.arrivals.append(arrived)
            if self.rate and previous is not None and arrived - previous < 1 / self.rate - self.tolerance:
                self.too_fast += 1
                return Answer(429, 20429)
            return self.script.pop(0) if self.script else Answer()


def _message(form: dict[str, str], moment: datetime) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    now = format_datetime(moment.astimezone(UTC))
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "to": form.get("To"),
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "body": form.get("Body"),
        "status": "queued",
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "num_segments": "1",
        "direction": "outbound-api",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
    }


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.posts.append(form)
            answer = state.answer()
            keep = (
                answer.accept
                if answer.accept is not None
                else bool(answer.status == 201 or answer.drop or answer.delay)
            )
            if keep:
                created = _message(form, state.clock())
                state.accepted.insert(0, created)
            if answer.delay:
                time.sleep(answer.delay)
            if answer.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if answer.status == 201:
                self._json(201, state.accepted[0] if keep else _message(form, state.clock()))
            else:
                self._json(
                    answer.status,
                    {
                        "code": answer.code,
                        "message": f"scripted {answer.status}",
                        "more_info": "https://www.twilio.com/docs/errors",
                        "status": answer.status,
                    },
                    {"Retry-After": answer.retry_after} if answer.retry_after else None,
                )

        def do_GET(self) -> None:
            state.lists += 1
            if state.list_script:
                failure = state.list_script.pop(0)
                body = {"code": failure.code, "message": f"scripted {failure.status}", "status": failure.status}
                self._json(failure.status, body, {"Retry-After": failure.retry_after} if failure.retry_after else None)
                return
            query = parse_qs(urlparse(self.path).query)
            to = query.get("To", [None])[0]
            items = [m for m in state.accepted if to is None or m["to"] == to]
            self._json(
                200,
                {
                    "messages": items,
                    "page": 0,
                    "page_size": 50,
                    "start": 0,
                    "end": len(items),
                    "first_page_uri": self.path,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                    "uri": self.path,
                },
            )

    return Handler


@contextmanager
def twilio_standin() -> Iterator[StandIn]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
