"""indexes for reads that scanned whole tables: sessions(status, end_at), messages(due_at, id)

``simulate`` asks for the booked sessions whose end has passed, and for the next end, at
every event of its virtual clock; without an index each ask scanned the sessions table.
``followup schedule`` lists the outbox by due time a page at a time; without an index each
page scanned and sorted every message (an outbox of 6.5M rows listed 16 MB in 11 minutes).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_status_end", ["status", "end_at"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_due", ["due_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_due")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_status_end")
