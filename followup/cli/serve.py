"""``followup serve``: the web app alone (webhooks, unsubscribe pages, ingest API, owner dashboard)."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
import uvicorn

from followup.cli.common import ConfigOpt, TemplatesOpt, fail, load, out
from followup.cli.logs import configure_logging
from followup.config.loader import ClinicConfig
from followup.engine.worker import SystemClock
from followup.exceptions import ConfigError
from followup.store.port import DashboardStore
from followup.web.app import create_app
from followup.web.context import WebContext
from followup.wiring import make_channels, open_store


def web_server(clinic: ClinicConfig, store: DashboardStore, host: str, port: int) -> uvicorn.Server:
    channels = make_channels(clinic)
    context = WebContext(clinic=clinic, store=store, email=channels["email"], now=SystemClock().now, admin=store)
    app = create_app(context)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def serve_in_background(server: uvicorn.Server) -> threading.Thread:
    """For ``followup run``: uvicorn in a thread (it installs signal handlers only in the main
    thread, so the worker keeps SIGTERM)."""
    thread = threading.Thread(target=server.run, name="followup-web", daemon=True)
    thread.start()
    return thread


def command(
    host: Annotated[str | None, typer.Option("--host", help="Default: FOLLOWUP_WEB_HOST (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default: FOLLOWUP_WEB_PORT (8080).")] = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Serve the web app: POST /twilio/inbound, POST /twilio/status, GET|POST /u/TOKEN,
    POST /api/clients, POST /api/sessions (OpenAPI at /docs), GET /healthz, the owner
    dashboard at /admin (see followup admin set-password).

    Example: followup serve --host 0.0.0.0 --port 8080
    """
    clinic = load(config, templates)
    settings = clinic.settings
    configure_logging(settings.log_level, settings.secret_values())
    store = open_store(clinic)
    try:
        server = web_server(clinic, store, host or settings.web_host, port or settings.web_port)
    except ConfigError as exc:
        fail(exc)
    out.print(
        f"serving on http://{server.config.host}:{server.config.port} (public: {settings.public_base_url})",
        markup=False,
    )
    server.run()


def register(app: typer.Typer) -> None:
    app.command("serve")(command)
