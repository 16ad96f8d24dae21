"""A clients export -> :class:`ClientRow` records (pure: reads only the file it is given)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from followup.core.domain import ChannelName, Client, Consent
from followup.intake.mapping import CLIENT_FIELDS, CLIENT_REQUIRED
from followup.intake.results import ClientRow, ParseResult, RowError
from followup.intake.rows import Duplicates, Key, Row, parse_file
from followup.intake.values import CHANNELS, LANGUAGE, email_address, phone_e164, yes_no
from followup.timeutil import zone


def _channel(row: Row, phone: str | None, email: str | None) -> ChannelName:
    raw = row.get("preferred_channel")
    if not raw:
        return "sms" if phone else "email"
    channel = CHANNELS.get(raw.casefold())
    if channel is None:
        row.error("preferred_channel", f"{raw!r} is not a channel (allowed: sms, text, email)")
    elif channel == "sms" and not row.get("phone"):
        row.error("preferred_channel", f"{raw!r} but there is no phone to text (allowed: email, or add a phone)")
    elif channel == "email" and not row.get("email"):
        row.error("preferred_channel", f"{raw!r} but there is no email address (allowed: sms, or add an email)")
    return channel or "sms"


_DEFAULT_CONSENT = Consent()


@dataclass(frozen=True)
class _ClientRules:
    region: str
    timezone: str
    language: str
    languages: tuple[str, ...]

    def build(self, row: Row) -> ClientRow | None:
        external_id = row.get("external_id") or None
        first_name = row.get("first_name")
        if not first_name:
            row.error("first_name", "is empty (a first name is required)")
        self._identity(row, external_id)
        phone = row.parse("phone", lambda raw: phone_e164(raw, self.region), None)
        email = row.parse("email", email_address, None)
        timezone = row.parse("timezone", lambda raw: zone(raw or self.timezone).key, self.timezone)
        language = self._language(row)
        channel = _channel(row, phone, email)
        consent = Consent(
            sms_marketing=row.parse("sms_marketing", lambda raw: yes_no(raw, _DEFAULT_CONSENT.sms_marketing), False),
            email_marketing=row.parse(
                "email_marketing", lambda raw: yes_no(raw, _DEFAULT_CONSENT.email_marketing), False
            ),
        )
        if row.errors:
            return None
        client = Client(
            external_id=external_id or "",
            first_name=first_name,
            last_name=row.get("last_name"),
            phone=phone,
            email=email,
            timezone=timezone,
            language=language,
            preferred_channel=channel,
            consent=consent,
        )
        return ClientRow(row=row.line, external_id=external_id, client=client)

    @staticmethod
    def _identity(row: Row, external_id: str | None) -> None:
        if external_id or row.get("phone") or row.get("email"):
            if not (row.get("phone") or row.get("email")):
                row.warn("phone", "no phone or email: nothing can be sent to this client")
            return
        columns = "/".join(row.layout.column(f) for f in ("external_id", "phone", "email") if row.layout.has(f))
        row.errors.append(
            RowError(row.layout.file, row.line, columns, "no external id, phone or email (at least one is required)")
        )

    def _language(self, row: Row) -> str:
        raw = row.get("language")
        if not raw:
            return self.language
        match = LANGUAGE.fullmatch(raw)
        allowed = ", ".join(self.languages)
        if match is None:
            row.error("language", f"{raw!r} is not a language code (allowed: 2-letter codes such as {allowed})")
            return self.language
        code = match[1].lower()
        if code not in self.languages:
            row.warn("language", f"{raw!r} has no templates; using {self.language!r} (languages: {allowed})")
            return self.language
        return code


def _client_keys(item: ClientRow) -> list[Key]:
    client = item.client
    keys: list[Key] = [("external id", "external_id", client.external_id)] if item.external_id else []
    keys += [(name, name, value) for name, value in (("phone", client.phone), ("email", client.email)) if value]
    return keys


def read_clients(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    default_language: str = "en",
    languages: Sequence[str] = ("en",),
) -> ParseResult[ClientRow]:
    """Clients from ``path``; ``mapping`` maps field -> CSV column (others match by name)."""
    rules = _ClientRules(
        region=default_region,
        timezone=zone(default_timezone).key,
        language=default_language,
        languages=tuple(code.lower() for code in languages),
    )
    duplicates = Duplicates[ClientRow](_client_keys, lambda item: item.client)
    return parse_file(
        path,
        mapping=mapping,
        shown=shown,
        fields=CLIENT_FIELDS,
        required=CLIENT_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
    )
