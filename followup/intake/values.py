"""One value at a time, as exports write them: phones, emails, yes/no consent, languages, channels.

Each parser takes the raw cell text and returns the normalised value, ``None`` for an
empty cell, or raises ``ValueError`` whose message names the bad value.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from followup.core.domain import ChannelName


def phone_e164(raw: str, region: str) -> str | None:
    """E.164, or None for an empty cell."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(raw: str) -> str | None:
    """The normalised address, or None for an empty cell."""
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{raw!r} is not a valid email address: {exc}") from None


_YES_NO = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def yes_no(raw: str, default: bool) -> bool:
    if not raw:
        return default
    value = _YES_NO.get(raw.casefold())
    if value is None:
        empty = "yes" if default else "no"
        raise ValueError(f"{raw!r} is not yes or no (allowed: yes, no, y, n, true, false, 1, 0; empty means {empty})")
    return value


LANGUAGE = re.compile(r"([A-Za-z]{2})(?:[-_][A-Za-z0-9]{2,8})*")

CHANNELS: dict[str, ChannelName] = {"sms": "sms", "text": "sms", "email": "email", "e-mail": "email"}
