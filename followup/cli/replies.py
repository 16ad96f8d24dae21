"""``followup replies``: the texts clients sent (not keywords), each with the message it
answered; ``followup replies handle ID`` marks one dealt with.  Times are the clinic's, labelled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.schedule import shown_time
from followup.engine.worker import SystemClock
from followup.store.port import Reply
from followup.timeutil import zone
from followup.wiring import open_store

replies_app = typer.Typer(
    help="Texts clients sent, with the message each answered; mark them handled.", invoke_without_command=True
)


def as_json(reply: Reply, tz_name: str) -> dict[str, object]:
    """One reply as JSON: times ISO 8601 with the clinic's UTC offset, ``timezone`` its IANA name."""
    tz = zone(tz_name)

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(tz).isoformat()

    return {
        "id": reply.id,
        "client": reply.client,
        "client_name": reply.client_name,
        "from": reply.sender,
        "text": reply.text,
        "received_at": iso(reply.received_at),
        "handled_at": iso(reply.handled_at),
        "timezone": tz_name,
        "answered": None
        if reply.answered_id is None
        else {
            "id": reply.answered_id,
            "campaign": reply.answered_campaign,
            "step": reply.answered_step,
            "sent_at": iso(reply.answered_at),
            "body": reply.answered_body,
        },
    }


def excerpt(body: str | None, width: int = 80) -> str:
    """A message as one line: its first ``width`` characters, whitespace run together."""
    line = " ".join((body or "").split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


@replies_app.callback()
def listing(
    ctx: typer.Context,
    unhandled: Annotated[bool, typer.Option("--unhandled", help="Only the ones not handled yet.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON array instead of text.")] = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """List replies, newest first: who, what, when (clinic's time) and the message it answered.

    Example: followup replies --unhandled
    """
    if ctx.invoked_subcommand is not None:
        return
    clinic = load(config, templates)
    tz_name = clinic.settings.default_timezone
    tz = zone(tz_name)
    found = open_store(clinic).replies(unhandled=unhandled)
    if json_out:
        out.print_json(json.dumps([as_json(r, tz_name) for r in found]))
        return
    if not found:
        out.print("No unhandled replies." if unhandled else "No replies.", markup=False)
        return
    for r in found:
        who = f"{r.client_name} ({r.client})" if r.client else f"{r.sender} (not a client)"
        state = f"handled {shown_time(r.handled_at.astimezone(tz))}" if r.handled_at else "NOT HANDLED"
        out.print(f"#{r.id} {shown_time(r.received_at.astimezone(tz))} {who} [{state}]", markup=False)
        out.print(f"    {r.text!r}", markup=False)
        if r.answered_id is not None and r.answered_at is not None:
            out.print(
                f"    answering message {r.answered_id} {r.answered_campaign}/{r.answered_step} "
                f"sent {shown_time(r.answered_at.astimezone(tz))}: {excerpt(r.answered_body)!r}",
                markup=False,
            )
        else:
            out.print("    answering nothing we sent", markup=False)


@replies_app.command("handle")
def handle(
    reply_id: Annotated[int, typer.Argument(metavar="ID", help="The reply's number, as `followup replies` shows it.")],
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Mark a reply handled (it leaves `followup replies --unhandled`).

    Example: followup replies handle 12
    """
    store = open_store(load(config, templates))
    done = store.handle_reply(reply_id, SystemClock().now())
    if done is None:
        err.print(f"no reply #{reply_id} (see followup replies)", markup=False)
        raise typer.Exit(EXIT_INVALID)
    out.print(f"reply #{reply_id} " + ("marked handled" if done else "was already handled"), markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(replies_app, name="replies")
