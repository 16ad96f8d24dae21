"""Wiring: settings -> store, channels, worker.  The only module that picks implementations."""

from __future__ import annotations

from followup.channels.base import Channel
from followup.channels.dryrun import DryRunChannel
from followup.config.loader import ClinicConfig
from followup.domain import ChannelName
from followup.exceptions import ConfigError, ConfigIssue
from followup.store.sql import SqlStore


def open_store(clinic: ClinicConfig) -> SqlStore:
    store = SqlStore.from_url(clinic.settings.database_url)
    store.upgrade()
    return store


def make_channels(clinic: ClinicConfig) -> dict[ChannelName, Channel]:
    settings = clinic.settings
    if settings.delivery == "dryrun":
        sender = settings.smtp_from or f"{settings.business_name} <{settings.business_email}>"
        return {
            "sms": DryRunChannel("sms", settings.outbox_dir),
            "email": DryRunChannel("email", settings.outbox_dir, sender=sender),
        }
    raise ConfigError(
        [ConfigIssue("FOLLOWUP_DELIVERY", None, "", "live delivery (Twilio, SMTP) is not built yet; use dryrun")]
    )
