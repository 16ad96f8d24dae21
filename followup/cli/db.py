"""``followup db upgrade``: create or migrate the database."""

from __future__ import annotations

import typer

from followup.cli.common import ConfigOpt, TemplatesOpt, load, out
from followup.wiring import upgrade_database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(config: ConfigOpt = None, templates: TemplatesOpt = None) -> None:
    """Create the tables, or migrate them to the newest schema (Alembic).

    Example: FOLLOWUP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/followup followup db upgrade
    """
    clinic = load(config, templates)
    out.print(f"database at revision {upgrade_database(clinic)}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
