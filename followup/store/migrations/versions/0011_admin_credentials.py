"""owner dashboard: the owner's password hash

``followup admin set-password`` stores one scrypt hash (salt and cost parameters inside the
string) for the ``/admin`` dashboard.  It lives in the database rather than a file under
var/ so that every process that serves the web app (several hosts on one PostgreSQL too)
reads the same one, and a backup of the database keeps it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_credentials",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_admin_credentials")),
    )


def downgrade() -> None:
    op.drop_table("admin_credentials")
