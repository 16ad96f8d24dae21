"""Wiring: settings -> store, channels, worker.  The only module that picks implementations."""

from __future__ import annotations

from followup.channels.base import Channel
from followup.channels.dryrun import DryRunChannel
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.channels.twilio_sms import TwilioConfig, TwilioSmsChannel
from followup.config.loader import ClinicConfig
from followup.config.settings import Settings, env_name
from followup.core.domain import ChannelName
from followup.exceptions import ConfigError, ConfigIssue, SettingsError
from followup.store.migrate import current
from followup.store.sql import SqlStore


def open_store(clinic: ClinicConfig) -> SqlStore:
    store = SqlStore.from_url(clinic.settings.database_url)
    store.upgrade()
    return store


def upgrade_database(clinic: ClinicConfig) -> str:
    """Create or migrate the configured database; returns "revision (url without password)"."""
    store = open_store(clinic)
    try:
        return f"{current(store.engine)} ({store.engine.url.render_as_string()})"
    finally:
        store.close()


def memory_store() -> SqlStore:
    """A private in-memory SQLite store (``simulate`` works on a copy, never the real outbox)."""
    store = SqlStore.from_url("sqlite://")
    store.upgrade()
    return store


def make_channels(clinic: ClinicConfig) -> dict[ChannelName, Channel]:
    """Dry-run fakes plus files, or the live providers (refused while a setting is missing)."""
    settings = clinic.settings
    if settings.delivery == "dryrun":
        sender = settings.smtp_from or f"{settings.business_name} <{settings.business_email}>"
        return {
            "sms": DryRunChannel("sms", settings.outbox_dir),
            "email": DryRunChannel(
                "email",
                settings.outbox_dir,
                sender=sender,
                # the same headers live mail would carry (Reply-To, the unsubscribe mailto:)
                mail=SmtpConfig(
                    host="dry-run",
                    sender=sender,
                    reply_to=settings.smtp_reply_to or settings.business_email,
                    unsubscribe_mailto=settings.business_email,
                ),
            ),
        }
    problems = settings.live_problems()
    if problems:
        raise ConfigError(problems)
    return {"sms": twilio_channel(settings), "email": smtp_channel(settings)}


def _require(settings: Settings, *fields: str) -> None:
    """A live channel's settings, named by their variables when missing (not an assert: ``-O`` drops those)."""
    missing = [
        ConfigIssue(env_name(f), None, "", "not set (required for live delivery)")
        for f in fields
        if not getattr(settings, f)
    ]
    if missing:
        raise SettingsError(missing)


def twilio_channel(settings: Settings) -> TwilioSmsChannel:
    _require(settings, "twilio_account_sid", "twilio_auth_token")
    assert settings.twilio_account_sid and settings.twilio_auth_token  # for mypy: _require checked them
    return TwilioSmsChannel(
        TwilioConfig(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_url=settings.twilio_api_url,
            from_number=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback_base=settings.public_base_url,
            timeout=settings.twilio_timeout_seconds,
            messages_per_second=settings.twilio_messages_per_second,
        )
    )


def smtp_channel(settings: Settings) -> SmtpEmailChannel:
    _require(settings, "smtp_host", "smtp_from")
    assert settings.smtp_host and settings.smtp_from  # for mypy: _require checked them
    return SmtpEmailChannel(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from,
            reply_to=settings.smtp_reply_to or settings.business_email,
            timeout=settings.smtp_timeout_seconds,
            unsubscribe_mailto=settings.business_email,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )
    )
