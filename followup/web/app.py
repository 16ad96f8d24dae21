"""The web app: Twilio webhooks, email unsubscribe pages, the ingest API, health.

Served by uvicorn (``followup serve``; ``followup run`` serves it too).  Handlers are thin:
they verify, then call the store and the same services the CLI uses.
"""

from __future__ import annotations

import hmac
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from followup.core.keywords import classify
from followup.core.tokens import BadTokenError, verify
from followup.logfmt import logfmt
from followup.web.api import api_router
from followup.web.context import WebContext
from followup.web.inbound import InboundService

log = logging.getLogger("followup.web")


def create_app(context: WebContext) -> FastAPI:
    settings = context.clinic.settings
    app = FastAPI(title="followup", version="1", summary="Webhooks, unsubscribe pages and ingest API of followup")
    inbound = InboundService(context)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > settings.web_max_body_bytes):
            return PlainTextResponse("request body too large", status_code=413)
        return await call_next(request)

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

    def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
        name = html.escape(settings.business_name)
        return HTMLResponse(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
            f"<body style='font-family:sans-serif;max-width:32em;margin:3em auto'><h1>{name}</h1>{body}"
            f"<p style='color:#666;font-size:small'>{html.escape(settings.business_address)}</p></body></html>",
            status_code=status,
        )

    def _token(token: str) -> tuple[int, str] | None:
        try:
            data = verify(settings.signing_key(), token, now=context.now())
        except BadTokenError:
            return None
        client_id = context.store.find_client_id(external_id=data.client)
        return (client_id, data.client) if client_id is not None and data.purpose == "unsubscribe" else None

    @app.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_page(token: str) -> HTMLResponse:
        if _token(token) is None:
            return _page(
                "Link not valid",
                "<p>This link is not valid or has expired. Reply to any of our "
                "emails and we will take you off the list.</p>",
                400,
            )
        return _page(
            "Unsubscribe",
            "<p>Stop receiving emails from us?</p>"
            f"<form method='post' action='/u/{html.escape(token)}'>"
            "<button type='submit'>Unsubscribe</button></form>",
        )

    @app.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe(token: str) -> HTMLResponse:
        """The confirm button and RFC 8058 one-click (``List-Unsubscribe=One-Click``): no cookies."""
        found = _token(token)
        if found is None:
            return _page("Link not valid", "<p>This link is not valid or has expired.</p>", 400)
        context.store.record_consent(
            found[0], "email", "all", "opt_out", context.now(), source="link", wording="unsubscribe link in email"
        )
        return _page("Unsubscribed", "<p>Done: you will not receive any more emails from us.</p>")

    bearer = HTTPBearer(auto_error=False)

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        expected = settings.api_token.get_secret_value() if settings.api_token else ""
        given = credentials.credentials if credentials else ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    app.include_router(api_router(context), prefix="/api", dependencies=[Depends(authorised)])
    app.state.followup = context
    return app
