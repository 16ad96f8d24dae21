"""``followup admin set-password``: the owner dashboard's password (``/admin``).

The password is asked twice with the typing hidden (or read from standard input with
``--password-stdin``, for scripts), hashed with scrypt (:mod:`followup.web.passwords`) and
stored in the database (table ``admin_credentials``); the password itself is kept nowhere.
Setting it signs every open dashboard session out.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.engine.worker import SystemClock
from followup.web.passwords import PasswordError, check_strength, hash_password
from followup.wiring import open_store

admin_app = typer.Typer(help="The owner dashboard (/admin): its password.", no_args_is_help=True)


@admin_app.command("set-password")
def set_password(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Set (or change) the password of the owner dashboard at /admin; every session signs out.

    Example: followup admin set-password
    """
    clinic = load(config, templates)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New dashboard password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password)
    except PasswordError as exc:
        err.print(f"password not set: {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    store = open_store(clinic)
    try:
        store.set_admin_password_hash(hash_password(password), SystemClock().now())
    finally:
        store.close()
    settings = clinic.settings
    out.print(f"Dashboard password set. Sign in at {settings.public_base_url}/admin", markup=False)
    if settings.secret_key is None:
        err.print("Note: the dashboard stays off until FOLLOWUP_SECRET_KEY is set (it signs the login cookie).")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
