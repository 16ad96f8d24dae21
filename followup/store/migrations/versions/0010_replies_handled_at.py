"""replies inbox: when the clinic handled each client's text

``followup replies`` lists the texts clients sent; ``followup replies handle ID`` marks one
handled, so ``--unhandled`` shows what still needs an answer.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("handled_at", followup.store.schema.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("handled_at")
