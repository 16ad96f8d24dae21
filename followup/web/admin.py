"""The owner dashboard at ``/admin``: messages per day, the funnel per campaign step, the
holdout comparison, the replies inbox, what is due in the next 7 days, client search.

Server-rendered Jinja2 (templates in ``followup/web/admin_templates/``, shipped in the
package; an ordinary autoescaping environment: the templates are ours, not the owner's), no
script.  Every number comes from the same code as the CLI: the report core
(:mod:`followup.core.report`), the replies inbox of :class:`~followup.store.port.ReportStore`,
the outbox's :class:`~followup.store.port.MessageQuery`.  Times are in the clinic's zone
(``default_timezone``) and labelled (``2026-12-03 10:00 ET``).

Access: :class:`AdminGate` (ASGI) stands before every ``/admin`` route.  Without a signed-in
session a GET is redirected to ``/admin/login`` (303) and any other method gets 401; every
POST, the login's included, needs the session's CSRF token (else 403).  See
:mod:`followup.web.admin_auth` for the cookie and the token, :mod:`followup.web.passwords`
for the hash.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from followup.engine.report import gather
from followup.intake.values import phone_e164
from followup.logfmt import logfmt
from followup.rendering.context import zone_label
from followup.store.port import DashboardStore, MessageQuery
from followup.timeutil import zone
from followup.web.admin_auth import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    AdminSession,
    LoginThrottle,
    SessionCodec,
    csrf_matches,
    new_session,
)
from followup.web.charts import STATUS_COLOURS, per_day, stacked_bars
from followup.web.context import WebContext
from followup.web.passwords import hash_password, verify_password

log = logging.getLogger("followup.web.admin")

LOGIN = "/admin/login"
FAILED_LOGIN_DELAY = 1.0  # seconds, on top of scrypt's own cost, before a wrong password is answered
UPCOMING_DAYS = 7
NAV = (
    ("/admin", "Overview"),
    ("/admin/replies", "Replies"),
    ("/admin/upcoming", "Upcoming"),
    ("/admin/clients", "Clients"),
)
# Sent with every /admin answer: never cached, never framed, no script at all, forms post
# only here, no referrer to other sites.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ENV = Environment(
    loader=PackageLoader("followup.web", "admin_templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Compared against when no password is set, so such a login still runs the KDF and waits
# (the login page says openly that no password is set; this only keeps the code path alike).
_NO_PASSWORD = hash_password("no password is set", n=2**14)


def under_admin(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _cookie(scope: Scope) -> str | None:
    raw = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return str(morsel.value) if morsel is not None else None


@dataclass
class AdminAuth:
    """The dashboard's keys and counters: ``codec`` is None while ``FOLLOWUP_SECRET_KEY`` is
    unset (nobody can sign in: the development key is public)."""

    codec: SessionCodec | None
    store: DashboardStore
    throttle: LoginThrottle

    def signed_in(self, session: AdminSession | None) -> bool:
        """A session signed in with the password that is set now."""
        if session is None or not session.signed_in or self.codec is None:
            return False
        stored = self.store.admin_password_hash()
        return stored is not None and session.password == self.codec.fingerprint(stored)


async def _plain(send: Send, status: int, text: str, headers: dict[str, str] | None = None) -> None:
    body = text.encode()
    raw = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in {**SECURITY_HEADERS, **(headers or {})}.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AdminGate:
    """Pure ASGI middleware before every ``/admin`` path (ASGI, so a path no route serves is
    guarded too): a signed-in session, else 303 to the login page (GET, HEAD) or 401; for
    POST, PUT, PATCH, DELETE the session's CSRF token in the form field ``csrf_token`` or the
    ``X-CSRF-Token`` header, else 403 (OWASP CSRF cheat sheet, synchronizer token).  The body
    it reads for the token is handed on unchanged; :class:`~followup.web.app.BodyLimit` runs
    before it.  Adds :data:`SECURITY_HEADERS` to every answer.  The session read is left in
    ``scope["state"]["admin_session"]``."""

    def __init__(self, app: ASGIApp, auth: AdminAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under_admin(str(scope["path"])):
            await self.app(scope, receive, send)
            return
        codec = self.auth.codec
        session = codec.loads(_cookie(scope)) if codec is not None else None
        signed_in = await run_in_threadpool(self.auth.signed_in, session)
        method = str(scope["method"]).upper()
        if scope["path"] != LOGIN and not signed_in:
            if method in ("GET", "HEAD"):
                await _plain(send, 303, "sign in first", {"location": LOGIN})
            else:
                await _plain(send, 401, "sign in first")
            return
        if method in _UNSAFE:
            body = await _read_body(receive)
            if body is None:
                return  # the client went away
            if not csrf_matches(session, _csrf_token(scope, body)):
                log.warning(logfmt("admin_csrf_refused", path=scope["path"]))
                await _plain(send, 403, "missing or wrong CSRF token: reload the page and try again")
                return
            receive = _replay(body)
        scope.setdefault("state", {})["admin_session"] = session if signed_in or scope["path"] == LOGIN else None

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured_send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _csrf_token(scope: Scope, body: bytes) -> str | None:
    headers: dict[bytes, bytes] = dict(scope["headers"])
    header = headers.get(CSRF_HEADER.encode())
    if header:
        return header.decode("latin-1")
    if headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/x-www-form-urlencoded":
        return None
    values = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD)
    return values[0] if values else None


def mount_admin(app: FastAPI, context: WebContext, store: DashboardStore) -> None:
    """Add the dashboard's routes and its :class:`AdminGate` to ``app`` (call it before the
    body limit is added, so that the limit runs first)."""
    settings = context.clinic.settings
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    codec = SessionCodec(secret, secure=settings.public_base_url.startswith("https://")) if secret else None
    auth = AdminAuth(codec, store, LoginThrottle())
    tz_name = settings.default_timezone
    tz = zone(tz_name)
    router = APIRouter(prefix="/admin", include_in_schema=False)

    def shown(moment: datetime | None) -> str:
        """``2026-12-03 10:00 ET``: the clinic's wall time, labelled; ``-`` for none."""
        if moment is None:
            return "-"
        local = moment.astimezone(tz)
        return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"

    def render(
        request: Request,
        template: str,
        title: str,
        status: int = 200,
        cookie: AdminSession | None = None,
        **values: Any,
    ) -> HTMLResponse:
        session: AdminSession | None = request.state.admin_session
        if cookie is not None:
            session = cookie
        page = _ENV.get_template(template).render(
            title=title,
            business=settings.business_name,
            nav=NAV,
            current=request.url.path,
            signed_in=bool(session and session.signed_in),
            csrf=session.csrf if session else "",
            **values,
        )
        response = HTMLResponse(page, status_code=status)
        if cookie is not None and codec is not None:
            response.headers.append("set-cookie", codec.cookie_header(cookie))
        return response

    def see_other(path: str, cookie: AdminSession | None = None, *, clear: bool = False) -> Response:
        response = RedirectResponse(path, status_code=303)
        if codec is not None and (cookie is not None or clear):
            response.headers.append("set-cookie", codec.cookie_header(cookie))
        return response

    # --- signing in and out -------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        session: AdminSession | None = request.state.admin_session
        if auth.signed_in(session):
            return see_other("/admin")
        if codec is None:
            return render(
                request,
                "login.html.j2",
                "Sign in",
                503,
                enabled=False,
                problem="The dashboard is off until FOLLOWUP_SECRET_KEY is set (it signs the login cookie).",
            )
        # A signed-out session: the login form's CSRF token (against login CSRF).
        fresh = session if session is not None and not session.signed_in else new_session()
        problem = None if store.admin_password_hash() else "No password is set yet: run followup admin set-password."
        return render(request, "login.html.j2", "Sign in", cookie=fresh, enabled=True, problem=problem)

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, password: str = Form("")) -> Response:
        # A plain def: FastAPI runs it in a thread, so scrypt and the delay never block the loop.
        session: AdminSession | None = request.state.admin_session
        if codec is None or session is None:
            return see_other(LOGIN)
        address = request.client.host if request.client else "?"
        now = context.now()
        wait = auth.throttle.wait(address, now)
        if wait is not None:
            minutes = max(1, round(wait.total_seconds() / 60))
            log.warning(logfmt("admin_login_throttled", address=address))
            response = render(
                request,
                "login.html.j2",
                "Sign in",
                429,
                enabled=True,
                problem=f"Too many wrong passwords. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            )
            response.headers["retry-after"] = str(max(1, int(wait.total_seconds())))
            return response
        stored = store.admin_password_hash()
        good = verify_password(password, stored or _NO_PASSWORD) and stored is not None
        if not good:
            auth.throttle.failed(address, now)
            log.warning(logfmt("admin_login_failed", address=address))
            time.sleep(FAILED_LOGIN_DELAY)
            return render(request, "login.html.j2", "Sign in", 401, enabled=True, problem="Wrong password.")
        auth.throttle.succeeded(address)
        assert stored is not None  # for mypy: good implies it
        log.info(logfmt("admin_login", address=address))
        # A new session and token on sign-in: a token planted before it is worth nothing.
        return see_other("/admin", new_session(signed_in=True, password=codec.fingerprint(stored)))

    @router.post("/logout")
    def logout() -> Response:
        return see_other(LOGIN, clear=True)

    # --- the overview: chart, funnel, holdout -------------------------------------------

    @router.get("", response_class=HTMLResponse)
    def overview(request: Request, days: str = "30") -> HTMLResponse:
        return overview_page(request, min(max(int(days), 1), 366) if days.strip().isdigit() else 30)

    def overview_page(request: Request, days: int) -> HTMLResponse:
        # A hand-edited ?days=abc shows the default period (above), not FastAPI's JSON 422.
        now = context.now()
        today = now.astimezone(tz).date()
        first = today - timedelta(days=days - 1)
        since = datetime.combine(first, datetime.min.time(), tz)
        until = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)
        axis, counts = per_day(((d.at, d.status) for d in store.message_days(since, until)), first, days, tz)
        title = f"Client messages per day by status, {first:%b %d} to {today:%b %d} ({tz_name})"
        window = settings.report_attribution_window
        steps, comparisons = gather(store, since, now, window)

        def points(value: float | None) -> str:
            return "-" if value is None else f"{value * 100:+.1f} points"

        return render(
            request,
            "overview.html.j2",
            "Overview",
            period=f"{shown(since)} to {shown(now)} ({tz_name})",
            timezone=tz_name,
            chart=stacked_bars(axis, counts, title=title),
            colours=STATUS_COLOURS,
            chart_rows=[
                {"day": d.isoformat(), "counts": [counts[name][i] for name in STATUS_COLOURS]}
                for i, d in enumerate(axis)
            ],
            window=_duration(window),
            steps=[
                {
                    "campaign": s.campaign,
                    "step": s.step,
                    "planned": s.planned,
                    "sent": s.sent,
                    "delivered": s.delivered,
                    "rebooked_attributed": s.rebooked_attributed,
                    "conversion": "-" if s.conversion_rate is None else f"{s.conversion_rate * 100:.1f}%",
                }
                for s in steps
            ],
            holdouts=[
                {
                    "campaign": name,
                    "reached": c.reached,
                    "reached_rebooked": c.reached_rebooked,
                    "held_out": c.held_out,
                    "held_out_rebooked": c.held_out_rebooked,
                    "difference": points(c.difference),
                    "interval": "-"
                    if c.low is None or c.high is None
                    else f"{c.low * 100:+.1f} to {c.high * 100:+.1f} points",
                    "sentence": c.sentence(),
                }
                for name, c in comparisons.items()
            ],
        )

    # --- replies --------------------------------------------------------------------------

    @router.get("/replies", response_class=HTMLResponse)
    def replies_page(request: Request, all: int = 0, handled: int | None = None) -> HTMLResponse:
        found = store.replies(unhandled=not all)
        rows = [
            {
                "id": r.id,
                "client": r.client,
                "client_name": r.client_name,
                "sender": r.sender,
                "text": r.text,
                "received": shown(r.received_at),
                "handled": shown(r.handled_at) if r.handled_at else None,
                "answered": None
                if r.answered_id is None
                else f"{r.answered_campaign} / {r.answered_step}, sent {shown(r.answered_at)}: “{r.answered_body}”",
            }
            for r in found
        ]
        done = f"Reply #{handled} marked handled." if handled is not None else None
        return render(request, "replies.html.j2", "Replies", replies=rows, show_all=bool(all), done=done)

    @router.post("/replies/{reply_id}/handle", response_model=None)
    def handle_reply(request: Request, reply_id: int) -> Response:
        done = store.handle_reply(reply_id, context.now())
        if done is None:
            return render(
                request, "message.html.j2", "No such reply", 404, text=f"No reply #{reply_id}.", back="/admin/replies"
            )
        log.info(logfmt("reply_handled", id=reply_id, by="dashboard"))
        return see_other(f"/admin/replies?handled={reply_id}")

    # --- upcoming -------------------------------------------------------------------------

    @router.get("/upcoming", response_class=HTMLResponse)
    def upcoming(request: Request) -> HTMLResponse:
        rows = store.messages(
            MessageQuery(
                statuses=("scheduled", "sending", "unknown"),
                due_before=context.now() + timedelta(days=UPCOMING_DAYS),
            )
        )
        return render(
            request,
            "upcoming.html.j2",
            "Upcoming messages",
            timezone=tz_name,
            rows=[
                {
                    "due": shown(m.due_at),
                    "client": None if m.client_id is None else m.client_external_id,
                    "campaign": m.campaign,
                    "step": m.step,
                    "channel": m.channel,
                    "why": m.why,
                    "note": m.status_reason or "",
                }
                for m in rows
            ],
        )

    # --- clients --------------------------------------------------------------------------

    @router.get("/clients", response_class=HTMLResponse)
    def clients_page(request: Request, q: str = "") -> HTMLResponse:
        text = q.strip()[:200]
        found = []
        if text:
            try:
                phone = phone_e164(text, settings.default_region)
            except ValueError:
                phone = None  # not a phone number: names, ids and emails are still searched
            found = store.search_clients(text, phone)
        return render(request, "clients.html.j2", "Clients", q=text, found=found)

    @router.get("/client", response_class=HTMLResponse)
    def client_page(request: Request, id: str = "") -> HTMLResponse:
        client_id = store.find_client_id(external_id=id) if id else None
        if client_id is None:
            return render(
                request, "message.html.j2", "No such client", 404, text=f"No client {id!r}.", back="/admin/clients"
            )
        state = store.client_state(client_id)
        c = state.client

        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        consent = {k: yes(v) for k, v in c.consent.__dict__.items()}
        history = [{**e, "at": shown(e["at"])} for e in reversed(store.consent_history(client_id))]
        sessions = [
            {
                "start": shown(s.start),
                "id": s.external_id,
                "service": s.service,
                "therapist": s.therapist,
                "status": s.status,
            }
            for s in reversed(state.sessions)
        ]
        messages = [
            {
                "due": shown(m.due_at),
                "sent": shown(m.sent_at),
                "campaign": m.campaign,
                "step": m.step,
                "channel": m.sent_channel or m.channel,
                "status": m.status,
                "reason": m.status_reason,
                "body": m.body or "",
            }
            for m in reversed(store.messages(MessageQuery(client_external_id=c.external_id)))
        ]
        return render(
            request,
            "client.html.j2",
            c.full_name,
            c=c,
            consent=consent,
            history=history,
            sessions=sessions,
            messages=messages,
            timezone=tz_name,
        )

    app.include_router(router)
    app.add_middleware(AdminGate, auth=auth)


def _duration(value: timedelta) -> str:
    days, seconds = value.days, value.seconds
    if seconds == 0:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{value.total_seconds() / 3600:g} hours"
