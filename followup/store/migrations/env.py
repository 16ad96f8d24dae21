"""Alembic environment: run with the connection followup hands in (see store/migrate.py)."""

from __future__ import annotations

from alembic import context

from followup.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` on the command line
    from followup.store.engine import make_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///var/followup.db"
    with make_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
