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
    app()
