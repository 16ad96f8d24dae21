"""clients.language_source: where a client's language came from

``default`` (nobody said: the clinic's default), ``import``, ``api``, ``owner`` (``followup
clients set-language``) or ``keyword`` (a keyword texted in a language).  A keyword only sets
the language of a client whose language nobody set explicitly (null or ``default``); an
import or API call that says nothing about the language keeps the stored one.  Existing rows
stay null: it is not known who set them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("language_source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("language_source")
