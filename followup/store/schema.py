"""Tables (SQLAlchemy Core).  Alembic migrations under ``migrations/`` create them.

Every timestamp is stored in UTC and read back as an aware UTC datetime, on SQLite
(which has no time-zone type) as on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from followup.timeutil import UTC, require_aware


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = require_aware(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # The two processors below do exactly what TypeDecorator builds from the methods above and
    # the dialect's own DateTime conversion, in one Python call per value instead of three or
    # four: a claimed batch reads and writes a few hundred timestamps, and the layers were about
    # a tenth of the dispatcher's time (bench/).  On SQLite the value is the text SQLAlchemy's
    # DATETIME stores ("YYYY-MM-DD HH:MM:SS.ffffff", naive UTC); anything else takes the
    # general path.  Each is checked once, on a sample, against the general path it replaces.

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite" or general is None:
            return general

        fallback = general

        def process(value: datetime | None) -> Any:
            if value is not None and (value.tzinfo is UTC or value.tzinfo is dt.UTC):  # nothing to convert
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return fallback(value)

        return process if _agrees(process, general, [None, *_SAMPLES]) else general

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None] | None:
        general = super().result_processor(dialect, coltype)
        impl = self.impl_instance.result_processor(dialect, coltype)
        if impl is None:

            def aware(value: datetime | None) -> datetime | None:
                if value is None:
                    return None
                return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

            return aware
        if dialect.name != "sqlite" or general is None:
            return general
        fallback = general

        def process(value: Any) -> datetime | None:
            if value.__class__ is str and len(value) == _STORED_LENGTH:
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            found: datetime | None = fallback(value)
            return found

        stored = [sample.replace(tzinfo=None).isoformat(" ", "microseconds") for sample in _SAMPLES]
        return process if _agrees(process, general, [None, *stored]) else general


_STORED_LENGTH = len("2026-01-01 00:00:00.000000")
_SAMPLES = [
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC),
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
]


def _agrees(fast: Callable[[Any], Any], general: Callable[[Any], Any], samples: list[Any]) -> bool:
    """Whether ``fast`` gives what ``general`` gives for each sample (equal and same type and zone)."""
    for sample in samples:
        a, b = fast(sample), general(sample)
        if a != b or type(a) is not type(b) or getattr(a, "tzinfo", None) != getattr(b, "tzinfo", None):
            return False
    return True


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(128), nullable=False, unique=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False, default=""),
    Column("phone", String(20), nullable=True, index=True),
    Column("email", String(254), nullable=True, index=True),
    Column("timezone", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("language_source", String(16), nullable=True),  # default/import/api/owner/keyword
    Column("preferred_channel", String(8), nullable=False),
    Column("consent_sms_care", Boolean, nullable=False, default=True),
    Column("consent_sms_marketing", Boolean, nullable=False, default=False),
    Column("consent_email_care", Boolean, nullable=False, default=True),
    Column("consent_email_marketing", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(128), nullable=False, unique=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("service", String(200), nullable=False),
    Column("therapist", String(100), nullable=False, default=""),
    Column("focus_areas", String(500), nullable=False, default=""),  # comma-separated focus ids
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_sessions_client_start", "client_id", "start_at"),
    Index("ix_sessions_status_end", "status", "end_at"),  # simulate: sessions ending, next end
)

# The outbox: the one source of truth for every message, planned or sent.  A message to the
# clinic or its owner (a forwarded reply) has no client: ``to_address`` says where it goes.
messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(400), nullable=False, unique=True),
    Column("campaign", String(100), nullable=False),
    Column("step", String(100), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=True, index=True),  # NULL: to the clinic
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=True),
    Column("channel", String(16), nullable=False),  # sms | email | preferred (as planned)
    Column("sent_channel", String(8), nullable=True),  # what it went out as
    Column("purpose", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(300), nullable=True),
    Column("why", String(300), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("provider_id", String(100), nullable=True),
    Column("error", Text, nullable=True),
    Column("tip_id", String(100), nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("delivery_status", String(16), nullable=True),
    Column("fell_back", Boolean, nullable=False, default=False),
    Column("to_address", String(320), nullable=True),  # messages to the clinic/owner only
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The claim query: WHERE status = 'scheduled' AND next_attempt_at <= now ORDER BY next_attempt_at, id.
    # id is in the index so that many messages due at the same instant need no sort (bench/).
    Index("ix_messages_claim", "status", "next_attempt_at", "id"),
    Index("ix_messages_due", "due_at", "id"),  # schedule and reports list the outbox by due time
)

delivery_events = Table(
    "delivery_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

client_tips = Table(
    "client_tips",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("tip_id", String(100), nullable=False),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    Column("sent_at", UTCDateTime, nullable=False),
    Index("ix_client_tips_client_sent", "client_id", "sent_at"),
)

# Every opt-in and opt-out, with the words the client saw or sent: the consent ledger.
consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("channel", String(8), nullable=False),  # sms | email
    Column("purpose", String(16), nullable=False),  # care | marketing | all
    Column("action", String(8), nullable=False),  # opt_in | opt_out
    # FILE:ROW:COLUMN | default | keyword | link | owner | provider | api | suppression list
    Column("source", String(500), nullable=False),
    Column("wording", Text, nullable=False, default=""),
)

# Texts clients sent us.  MessageSid is unique: a replayed webhook changes nothing.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_sid", String(64), nullable=False, unique=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=True, index=True),
    Column("from_number", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),  # keyword | reply
    Column("keyword", String(32), nullable=True),
    Column("forwarded_at", UTCDateTime, nullable=True),
    Column("handled_at", UTCDateTime, nullable=True),  # the clinic dealt with it (followup replies handle)
)

# The suppression list: addresses (E.164 phone, lower-cased email) that opted out or are dead.
# Consulted when planning and when sending; every client on the address, now or imported
# later, is held to it.  purpose "all" covers care and marketing.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(320), nullable=False),
    Column("channel", String(8), nullable=False),  # sms | email
    Column("purpose", String(16), nullable=False),  # all | marketing
    Column("source", String(500), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    # JSON {client id: {"sms_care": true, ...}}: the consent flags this suppression switched off,
    # as each client on the address had them before; START puts exactly those back.
    Column("consent_before", Text, nullable=False, default="{}"),
    Index("ux_suppressions_address", "address", "channel", "purpose", unique=True),
)

# When booking data last arrived (an import, an API call): rebook nudges wait while it is stale.
booking_refreshes = Table(
    "booking_refreshes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("source", String(500), nullable=False),
)

# One row per sender (a Twilio number or Messaging Service), shared by every worker: the next
# free send slot (the rate, claimed under a row lock), a pause every worker honours (a 429's
# Retry-After, an account fault), and the account fault the owner was alerted to (cleared by
# the next message that goes out).
sender_slots = Table(
    "sender_slots",
    metadata,
    Column("sender", String(200), primary_key=True),
    Column("next_slot_at", UTCDateTime, nullable=False),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("fault", Text, nullable=True),
    Column("fault_since", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# How far the planner has got with the campaigns as they are now: one row per kind of pass
# ("campaigns").  ``fingerprint`` identifies the campaign configuration the pass plans with;
# ``cursor`` is the last client id planned with it (the pass goes by increasing id, so an
# interrupted pass resumes after it); ``finished_at`` is set once every client is planned,
# after which a worker's periodic check costs one row read.
plan_passes = Table(
    "plan_passes",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("cursor", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The owner dashboard's login (``followup admin set-password``): one row per account, today
# only "owner".  ``password_hash`` is ``scrypt$n$r$p$salt$hash`` (see followup/web/passwords.py).
admin_credentials = Table(
    "admin_credentials",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
