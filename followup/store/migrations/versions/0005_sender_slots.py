"""sender slots: one sending rate per sender shared by all workers, channel pauses

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sender_slots",
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("next_slot_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_until", followup.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("fault_since", followup.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_sender_slots")),
    )


def downgrade() -> None:
    op.drop_table("sender_slots")
