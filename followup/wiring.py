"""Wiring: settings -> store, channels, worker.  The only module that picks implementations."""

from __future__ import annotations

from followup.channels.base import Channel
from followup.channels.dryrun import DryRunChannel
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.channels.twilio_sms import TwilioConfig, TwilioSmsChannel
from followup.config.loader import ClinicConfig
from followup.config.settings import Settings
from followup.core.domain import ChannelName
from followup.exceptions import ConfigError
from followup.store.sql import SqlStore


def open_store(clinic: ClinicConfig) -> SqlStore:
    store = SqlStore.from_url(clinic.settings.database_url)
    store.upgrade()
    return store


def make_channels(clinic: ClinicConfig) -> dict[ChannelName, Channel]:
    """Dry-run fakes plus files, or the live providers (refused while a setting is missing)."""
    settings = clinic.settings
    if settings.delivery == "dryrun":
        sender = settings.smtp_from or f"{settings.business_name} <{settings.business_email}>"
        return {
            "sms": DryRunChannel("sms", settings.outbox_dir),
            "email": DryRunChannel("email", settings.outbox_dir, sender=sender),
        }
    problems = settings.live_problems()
    if problems:
        raise ConfigError(problems)
    return {"sms": twilio_channel(settings), "email": smtp_channel(settings)}


def twilio_channel(settings: Settings) -> TwilioSmsChannel:
    assert settings.twilio_account_sid and settings.twilio_auth_token
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
    assert settings.smtp_host and settings.smtp_from
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
