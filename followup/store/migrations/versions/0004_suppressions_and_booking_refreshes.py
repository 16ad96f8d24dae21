"""suppression list, booking-data refreshes, longer consent sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column("source", existing_type=sa.String(length=32), type_=sa.String(length=500))
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consent_before", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_suppressions_address", "suppressions", ["address", "channel", "purpose"], unique=True)
    op.create_table(
        "booking_refreshes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_booking_refreshes_at", "booking_refreshes", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_booking_refreshes_at", table_name="booking_refreshes")
    op.drop_table("booking_refreshes")
    op.drop_index("ux_suppressions_address", table_name="suppressions")
    op.drop_table("suppressions")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column("source", existing_type=sa.String(length=500), type_=sa.String(length=32))
