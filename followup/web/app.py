"""The web app: Twilio webhooks, email unsubscribe pages, the ingest API, health, and the
owner dashboard (``/admin``, :mod:`followup.web.admin`).

Served by uvicorn (``followup serve``; ``followup run`` serves it too).  Handlers are thin:
they verify, then call the store and the same services the CLI uses.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from followup.core.keywords import classify
from followup.core.tokens import BadTokenError, TokenData, verify
from followup.logfmt import logfmt
from followup.web.admin import mount_admin
from followup.web.api import api_router
from followup.web.context import WebContext
from followup.web.inbound import InboundService
from followup.web.pages import page_language, page_text

log = logging.getLogger("followup.web")


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A small JSON answer (``{"detail": ...}``, as FastAPI's errors), sent straight over ASGI."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Pure ASGI middleware: every request body is counted *while it streams in*, on every
    route, and refused with 413 as soon as the count passes ``max_bytes``, before any
    handler has parsed it.

    A declared ``Content-Length`` over the limit is refused before a byte is read.  A
    chunked body (no length) is counted in :meth:`__call__`'s ``receive``: past the limit the
    413 goes out at once, the application is told the client has gone (``http.disconnect``)
    and whatever it still tries to send is dropped.  So a 300 MB chunked upload costs one
    chunk of memory, not 300 MB.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _answer(send, 413, "request body too large")
            return
        count = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal count, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                count += len(message.get("body", b""))
                if count > self.max_bytes:
                    refused = True
                    if not started:
                        await _answer(send, 413, "request body too large")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is out; the application's own answer comes too late
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The application saw the "disconnect" it was handed (ClientDisconnect): expected.


class BearerGate:
    """Pure ASGI middleware: requests under ``prefix`` (the ingest API) need
    ``Authorization: Bearer <token>``, checked in constant time from the headers alone,
    *before* the body is read; without it: 401 and the body is never looked at."""

    def __init__(self, app: ASGIApp, token: Callable[[], str], prefix: str = "/api/") -> None:
        self.app = app
        self.token = token
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(self.prefix) and not self._authorised(scope):
            await _answer(send, 401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        return bearer_matches(dict(scope["headers"]).get(b"authorization", b"").decode("latin-1"), self.token())


def bearer_matches(header: str, expected: str) -> bool:
    """``Authorization: Bearer <expected>`` (scheme case-insensitive); never with no token set."""
    scheme, _, given = header.strip().partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def create_app(context: WebContext) -> FastAPI:
    settings = context.clinic.settings
    app = FastAPI(title="followup", version="1", summary="Webhooks, unsubscribe pages and ingest API of followup")
    inbound = InboundService(context)

    def api_token() -> str:
        return settings.api_token.get_secret_value() if settings.api_token else ""

    if context.admin is not None:
        # Before the body limit is added, so the limit runs first and the admin gate after it.
        mount_admin(app, context, context.admin)
    # Added last runs first: the token is checked, then the body counted, then FastAPI.
    app.add_middleware(BodyLimit, max_bytes=settings.web_max_body_bytes)
    app.add_middleware(BearerGate, token=api_token)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        counts = context.store.counts()
        return {"status": "ok", "outbox": counts}

    async def twilio_form(request: Request) -> dict[str, str]:
        """The POSTed form, after checking X-Twilio-Signature against the *public* URL
        (a proxy in front changes Host and scheme; Twilio signed what it called)."""
        body = await request.body()
        if len(body) > settings.web_max_body_bytes:
            raise HTTPException(413, "request body too large")
        form = {k: str(v) for k, v in (await request.form()).items()}
        url = settings.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        if not token or not signature or not RequestValidator(token).validate(url, form, signature):
            log.warning(logfmt("forged_webhook", path=request.url.path))
            raise HTTPException(403, "invalid signature")
        return form

    @app.post("/twilio/inbound", include_in_schema=False)
    async def twilio_inbound(request: Request) -> Response:
        form = await twilio_form(request)
        keyword = classify(form.get("Body", ""), settings.keyword_table())
        reply = inbound.handle(form, keyword)
        twiml = MessagingResponse()
        if reply:
            twiml.message(reply)
        return Response(str(twiml), media_type="application/xml")

    @app.post("/twilio/status", include_in_schema=False)
    async def twilio_status(request: Request) -> Response:
        form = await twilio_form(request)
        message_id = request.query_params.get("m", "")
        inbound.status(message_id, form)
        return Response(status_code=204)

    def _page(title: str, body: str, language: str, status: int = 200) -> HTMLResponse:
        name = html.escape(settings.business_name)
        return HTMLResponse(
            f"<!DOCTYPE html><html lang='{html.escape(language)}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
            f"<body style='font-family:sans-serif;max-width:32em;margin:3em auto'><h1>{name}</h1>{body}"
            f"<p style='color:#666;font-size:small'>{html.escape(settings.business_address)}</p></body></html>",
            status_code=status,
            headers={"Content-Language": language, "Vary": "Accept-Language"},
        )

    def _token(token: str) -> tuple[int, TokenData] | None:
        try:
            data = verify(settings.signing_key(), token, now=context.now())
        except BadTokenError:
            return None
        if data.purpose != "unsubscribe" or data.channel != "email":
            return None
        client_id = context.store.find_client_id(external_id=data.client)
        return None if client_id is None else (client_id, data)

    def _language(request: Request, client_id: int | None) -> str:
        """The client's language, else the browser's (see :mod:`followup.web.pages`)."""
        client = context.store.client_state(client_id).client.language if client_id is not None else None
        header = request.headers.get("Accept-Language", "")
        return page_language(client, header, settings.languages, settings.default_language)

    def _invalid(request: Request) -> HTMLResponse:
        language = _language(request, None)
        return _page(page_text(language, "invalid_title"), page_text(language, "invalid"), language, 400)

    def _form(token: str, scope: str, label: str) -> str:
        return (
            f"<form method='post' action='/u/{html.escape(token)}'>"
            f"<input type='hidden' name='scope' value='{scope}'>"
            f"<button type='submit'>{html.escape(label)}</button></form>"
        )

    def _choices(token: str, client_id: int, language: str) -> str:
        """What the page offers: marketing first (the link's own scope), then, as a separate
        explicit choice, every email (reminders and aftercare too)."""
        consent = context.store.client_state(client_id).client.consent

        def say(key: str) -> str:
            return page_text(language, key)

        parts = []
        if consent.email_marketing:
            parts.append(say("offer_marketing") + _form(token, "marketing", say("button_marketing")))
        else:
            parts.append(say("off_marketing"))
        if consent.email_care:
            parts.append(say("offer_all") + _form(token, "all", say("button_all")))
        elif not consent.email_marketing:
            parts = [say("off_all")]
        return "".join(parts)

    @app.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
        """The page behind every email's link: a marketing email's unsubscribes from
        marketing; a care email's is a preferences page.  Looking changes nothing.  In the
        client's language, else the browser's (``Accept-Language``)."""
        found = _token(token)
        if found is None:
            return _invalid(request)
        client_id, data = found
        language = _language(request, client_id)
        title = page_text(language, "title_unsubscribe" if data.scope == "marketing" else "title_preferences")
        return _page(title, _choices(token, client_id, language), language)

    @app.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        """The page's buttons and RFC 8058 one-click (``List-Unsubscribe=One-Click``; no cookies,
        no confirmation), as the ``List-Unsubscribe`` header (RFC 2369) of marketing email points
        here.  Without an explicit ``scope=all`` only marketing email stops: one click never
        stops reminders and aftercare.  Repeating an opt-out says "already" and changes (and
        records) nothing."""
        found = _token(token)
        if found is None:
            return _invalid(request)
        client_id, data = found
        language = _language(request, client_id)

        def say(key: str) -> str:
            return page_text(language, key)

        try:
            form = await request.form()
        except Exception:  # a malformed body is a one-click with nothing else in it
            form = None
        choice = str(form.get("scope", "")) if form is not None else ""
        one_click = form is not None and str(form.get("List-Unsubscribe", "")) == "One-Click"
        purpose = "all" if choice == "all" else "marketing"
        consent = context.store.client_state(client_id).client.consent
        if purpose == "all" and not consent.email_care and not consent.email_marketing:
            return _page(say("title_already"), say("already_all"), language)
        if purpose == "marketing" and not consent.email_marketing:
            return _page(
                say("title_already"), say("already_marketing") + _choices(token, client_id, language), language
            )
        how = "one-click unsubscribe" if one_click else "unsubscribe page"
        what = "stop all email" if purpose == "all" else "stop marketing email"
        where = "marketing email" if data.scope == "marketing" else "care email (preferences link)"
        context.store.record_consent(
            client_id, "email", purpose, "opt_out", context.now(), source="link", wording=f"{how}: {what} ({where})"
        )
        if purpose == "all":
            return _page(say("title_done"), say("done_all"), language)
        return _page(say("title_done"), say("done_marketing") + _choices(token, client_id, language), language)

    bearer = HTTPBearer(auto_error=False)

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        """Also checked by :class:`BearerGate` before the body is read; kept here so the
        published OpenAPI schema names the bearer scheme."""
        expected = api_token()
        given = credentials.credentials if credentials else ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    app.include_router(api_router(context), prefix="/api", dependencies=[Depends(authorised)])
    app.state.followup = context
    return app
