"""``followup db upgrade``: create or migrate the database."""

from __future__ import annotations

import typer

from followup.cli.common import ConfigOpt, TemplatesOpt, load, out
from followup.store.migrate import current
from followup.wiring import open_store

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(config: ConfigOpt = None, templates: TemplatesOpt = None) -> None:
    """Create the tables, or migrate them to the newest schema (Alembic).

    Example: FOLLOWUP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/followup followup db upgrade
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    out.print(f"database at revision {current(store.engine)} ({store.engine.url.render_as_string()})", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
