"""plan passes: campaigns are re-planned when they change, not every hour

The worker used to re-plan every client every hour.  Planning is now driven by events (an
import, an API call, a session status); what is left to time is a campaign edit, which
starts a pass over the clients in batches.  This table remembers which configuration the
pass plans with and how far it got, so an interrupted pass resumes and a finished one costs
nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_passes",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("started_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", followup.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_plan_passes")),
    )


def downgrade() -> None:
    op.drop_table("plan_passes")
