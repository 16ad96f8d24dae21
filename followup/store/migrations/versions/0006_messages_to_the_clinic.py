"""messages to the clinic or its owner: client optional, an explicit recipient address

A forwarded reply (later the owner's weekly digest) is an outbox row like any other, but it
is addressed to the clinic, not to a client: ``client_id`` may be NULL and ``to_address``
holds the recipient.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("to_address", sa.String(length=320), nullable=True))


def downgrade() -> None:
    # Messages to the clinic have no client: they cannot survive a NOT NULL client_id.
    op.execute("DELETE FROM delivery_events WHERE message_id IN (SELECT id FROM messages WHERE client_id IS NULL)")
    op.execute("DELETE FROM messages WHERE client_id IS NULL")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("to_address")
        batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=False)
