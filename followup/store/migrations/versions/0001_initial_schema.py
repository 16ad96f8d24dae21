"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 03:11:33.065552
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import followup.store.schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("preferred_channel", sa.String(length=8), nullable=False),
        sa.Column("consent_sms_care", sa.Boolean(), nullable=False),
        sa.Column("consent_sms_marketing", sa.Boolean(), nullable=False),
        sa.Column("consent_email_care", sa.Boolean(), nullable=False),
        sa.Column("consent_email_marketing", sa.Boolean(), nullable=False),
        sa.Column("created_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("external_id", name=op.f("uq_clients_external_id")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_clients_phone"), ["phone"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("start_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("therapist", sa.String(length=100), nullable=False),
        sa.Column("focus_areas", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_sessions_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("external_id", name=op.f("uq_sessions_external_id")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_client_start", ["client_id", "start_at"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=400), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sent_channel", sa.String(length=8), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("due_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=300), nullable=True),
        sa.Column("why", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", followup.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tip_id", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sent_at", followup.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        sa.Column("fell_back", sa.Boolean(), nullable=False),
        sa.Column("created_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_messages_client_id_clients")),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=op.f("fk_messages_session_id_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_messages_idempotency_key")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_claim", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_client_id"), ["client_id"], unique=False)

    op.create_table(
        "client_tips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_client_tips_client_id_clients")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_client_tips_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_tips")),
        sa.UniqueConstraint("message_id", name=op.f("uq_client_tips_message_id")),
    )
    with op.batch_alter_table("client_tips", schema=None) as batch_op:
        batch_op.create_index("ix_client_tips_client_sent", ["client_id", "sent_at"], unique=False)

    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", followup.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_delivery_events_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_events_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_events_message_id"))

    op.drop_table("delivery_events")
    with op.batch_alter_table("client_tips", schema=None) as batch_op:
        batch_op.drop_index("ix_client_tips_client_sent")

    op.drop_table("client_tips")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_client_id"))
        batch_op.drop_index("ix_messages_claim")

    op.drop_table("messages")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_client_start")

    op.drop_table("sessions")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_phone"))
        batch_op.drop_index(batch_op.f("ix_clients_email"))

    op.drop_table("clients")
