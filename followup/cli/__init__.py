"""The ``followup`` command line.  Each command lives in a module named after it."""

from __future__ import annotations

import typer

from followup.cli import (
    check,
    clients,
    db,
    imports,
    init,
    preview,
    run,
    schedule,
    sendtest,
    serve,
    sessions,
    simulate,
)
from followup.cli.common import EXIT_INVALID, err
from followup.exceptions import ConfigError, FollowupError, issues_text

app = typer.Typer(
    name="followup",
    help="Follow-up messages for a massage clinic: care texts, self-care tips, reminders, rebooking nudges.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (check, preview, init, db, imports, sessions, clients, run, serve, schedule, simulate, sendtest):
    module.register(app)


def main() -> None:
    """Run the command; an error of ours is printed as the owner's message, never a traceback
    (a bug, anything else, still shows its traceback)."""
    try:
        app()
    except ConfigError as exc:
        err.print(f"Configuration has errors ({len(exc.issues)}):", markup=False)
        err.print(issues_text(exc.issues), markup=False)
        raise SystemExit(EXIT_INVALID) from None
    except FollowupError as exc:
        err.print(f"error: {exc}", markup=False)
        raise SystemExit(EXIT_INVALID) from None
