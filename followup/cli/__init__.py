"""The ``followup`` command line.  Each command lives in a module named after it.

Commands are loaded when they run, not at start-up: ``followup --help`` or a cron
``followup run --once`` imports only the module it uses (FastAPI only where the web app is
served).  The listing below gives each command's one-line help without importing it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from followup.exceptions import ConfigError, FollowupError, issues_text

EXIT_INVALID = 1  # as followup.cli.common, which this module does not import (start-up cost)

HELP = "Follow-up messages for a massage clinic: care texts, self-care tips, reminders, rebooking nudges."

# name -> (module, one-line help); the module's ``register(app)`` adds the command.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "Check every config file and template; print the SMS segment table."),
    "preview": ("preview", "Show exactly what one campaign step sends, for a sample or given client."),
    "init": ("init", "Copy a starter config/ and templates/ into DIR for a new clinic."),
    "db": ("db", "Database schema."),
    "import": ("imports", "Import clients and sessions from CSV files."),
    "sessions": ("sessions", "Add, complete or cancel a session by hand."),
    "clients": ("clients", "Look up a client; record an opt-out or opt-in by hand."),
    "run": ("run", "Run the worker (and serve the web app): plan, send due messages."),
    "serve": ("serve", "Serve the web app: Twilio webhooks, unsubscribe pages, ingest API."),
    "replan": ("replan", "Re-plan every client after a campaign edit, in resumable batches."),
    "schedule": ("schedule", "What is planned for the coming days, and why."),
    "simulate": ("simulate", "Run the campaigns on a virtual clock over a copy of the data."),
    "send-test": ("sendtest", "Send one message to yourself through the configured channel."),
    "report": ("report", "What each campaign step did over a period, and whether it worked (holdout)."),
    "replies": ("replies", "Texts clients sent, with the message each answered; mark them handled."),
    "consent": ("consent", "Export the consent ledger to CSV for an auditor."),
    "admin": ("admin", "The owner dashboard (/admin): set its password."),
}


class LazyGroup(TyperGroup):
    """The top-level group: its commands are imported when one is asked for, and the listing
    comes from :data:`COMMANDS` (no import)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"followup.cli.{COMMANDS[cmd_name][0]}")
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.callback()(_nothing)  # keep it a group, so the command keeps its name
        module.register(holder)
        return typer.main.get_command(holder).get_command(ctx, cmd_name)  # type: ignore[attr-defined]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


def _nothing() -> None:
    """followup"""


app = typer.Typer(
    cls=LazyGroup,
    name="followup",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.callback()(_nothing)


def main(args: Any = None) -> None:
    """Run the command; an error of ours is printed as the owner's message, never a traceback
    (a bug, anything else, still shows its traceback)."""
    try:
        app(args=args, prog_name="followup")
    except ConfigError as exc:
        print(f"Configuration has errors ({len(exc.issues)}):\n{issues_text(exc.issues)}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None
    except FollowupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None
