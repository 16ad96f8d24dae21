"""A clients export -> :class:`ClientRow` records (pure: reads only the file it is given).

One bad field does not reject a client: a malformed email beside a good phone imports the
client with the phone and reports ``FILE:ROW: email: reason`` as a warning; so do a bad
time zone, language, channel or consent value (each falls back to its safe default: the
clinic's zone and language, no marketing consent).  A row is rejected only when nothing
identifies the client (no id, phone or email that reads) or it has no name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from followup.core.domain import ChannelName, Client, Consent
from followup.intake.mapping import CLIENT_ALIASES, CLIENT_FIELDS, CLIENT_REQUIRED
from followup.intake.presets import Preset, detect
from followup.intake.results import ClientRow, ParseResult, RowError
from followup.intake.rows import Deferred, Duplicates, Key, Row, RowStream, open_rows, remembered
from followup.intake.values import (
    CHANNELS,
    configured_language,
    consent_word,
    email_address,
    language_code,
    name_key,
    phone_e164,
    timezone_name,
)
from followup.timeutil import zone

V = TypeVar("V")
_DEFAULT_CONSENT = Consent()
_CONSENT_FLAGS = ("sms_marketing", "email_marketing")


def _lenient(row: Row, field_name: str, parser: Callable[[str], V], fallback: V, consequence: str) -> V:
    """``parser(value)``; a ValueError becomes a warning (the client still imports) saying what follows."""
    try:
        return parser(row.get(field_name))
    except ValueError as exc:
        # A library's message may end with its own full stop ("... an @-sign."): not before the ";".
        row.warn(field_name, f"{str(exc).rstrip('.')}; {consequence}")
        return fallback


def split_name(full: str) -> tuple[str, str]:
    """``"Diaz, Maria"`` -> (Maria, Diaz); ``"Maria Jose Diaz"`` -> (Maria, Jose Diaz).

    Only the first word is the first name a text greets by ("Hi Maria"); compound first
    names belong in a first-name column when the export has one.
    """
    if "," in full:
        last, _, first = full.partition(",")
        return " ".join(first.split()), " ".join(last.split())
    words = full.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


class _ClientRules:
    """How a row of this file is read: the clinic's region, zone and languages, and the preset's
    consent words.  A phone or email is read afresh on each row (a clients file names each
    client once); the cells a file repeats (time zone, language, consent) are read once each."""

    def __init__(
        self,
        region: str,
        timezone: str,
        language: str,
        languages: Sequence[str] | None = None,  # None: any language CLDR knows
        consent_values: Mapping[str, bool] | None = None,
    ) -> None:
        self.region = region
        self.timezone = timezone
        self.language = language
        self._timezone_of = remembered(lambda raw: timezone_name(raw, timezone))
        allowed = None if languages is None else tuple(languages)
        self._language_of = remembered(
            language_code if allowed is None else lambda raw: configured_language(raw, allowed)
        )
        self._consent_of = remembered(lambda raw: consent_word(raw, consent_values or {}), 256)
        self._phone_of = lambda raw: phone_e164(raw, region)  # not remembered: each client has their own
        self._timezone_fallback = f"using {timezone}"
        self._language_fallback = f"the client's stored language is kept ({language!r} for a new client)"

    def build(self, row: Row) -> ClientRow | None:
        external_id = row.get("external_id") or None
        first_name, last_name = row.get("first_name"), row.get("last_name")
        if not first_name and row.get("full_name"):
            first_name, from_full = split_name(row.get("full_name"))
            last_name = last_name or from_full
        if not first_name:
            row.error("first_name" if row.layout.has("first_name") else "full_name", "is empty (a name is required)")
        phone = _lenient(row, "phone", self._phone_of, None, "left out")
        email = _lenient(row, "email", email_address, None, "left out")
        self._identity(row, external_id, phone, email)
        timezone = _lenient(row, "timezone", self._timezone_of, self.timezone, self._timezone_fallback)
        said = _lenient(row, "language", self._language_of, None, self._language_fallback)
        channel = self._channel(row, phone, email)
        consent, sources = self._consent(row)
        if row.errors:
            return None
        client = Client(
            external_id=external_id or "",
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            email=email,
            timezone=timezone,
            language=said or self.language,
            preferred_channel=channel,
            consent=consent,
            # None: the file said nothing usable, and the import keeps a stored client's language
            language_source="import" if said else None,
        )
        return ClientRow(row=row.line, external_id=external_id, client=client, consent_sources=sources)

    def _consent(self, row: Row) -> tuple[Consent, dict[str, str]]:
        """Marketing consent per channel, and where each answer came from (for the ledger)."""
        values: dict[str, bool] = {}
        sources: dict[str, str] = {}
        for flag in _CONSENT_FLAGS:
            where = f"{row.layout.file}:{row.line}:{row.layout.column(flag)}"
            try:
                said = self._consent_of(row.get(flag))
            except ValueError as exc:
                row.warn(flag, f"{exc}; taken as no consent")
                values[flag], sources[flag] = False, where  # an unreadable answer is never a yes
                continue
            if said is None:
                values[flag], sources[flag] = bool(getattr(_DEFAULT_CONSENT, flag)), "default"
            else:
                values[flag], sources[flag] = said, where
        return Consent(**values), sources

    @staticmethod
    def _channel(row: Row, phone: str | None, email: str | None) -> ChannelName:
        fallback: ChannelName = "sms" if phone else "email"
        raw = row.get("preferred_channel")
        if not raw:
            return fallback
        channel = CHANNELS.get(raw.casefold())
        if channel is None:
            row.warn("preferred_channel", f"{raw!r} is not a channel (allowed: sms, text, email); using {fallback}")
            return fallback
        if channel == "sms" and not phone:
            row.warn("preferred_channel", f"{raw!r} but there is no phone to text; using email")
            return "email"
        if channel == "email" and not email:
            row.warn("preferred_channel", f"{raw!r} but there is no email address; using sms")
            return "sms"
        return channel

    @staticmethod
    def _identity(row: Row, external_id: str | None, phone: str | None, email: str | None) -> None:
        if phone or email:
            return
        if external_id:
            row.warn("phone", "no phone or email: nothing can be sent to this client")
            return
        columns = "/".join(row.layout.column(f) for f in ("external_id", "phone", "email") if row.layout.has(f))
        row.errors.append(
            RowError(
                row.layout.file,
                row.line,
                columns,
                "no external id, phone or email that can be read (at least one is required)",
            )
        )


def identity_keys(item: ClientRow) -> list[Key]:
    """Who a row is: its id when the file has one; else its email; else its phone *and* first
    name (families share a phone: a phone alone never makes two rows one person)."""
    client = item.client
    if item.external_id:
        return [("external id", "external_id", client.external_id)]
    if client.email:  # a couple may share an email too: the first name tells them apart
        return [("email and first name", "email", f"{client.email}|{name_key(client.first_name)}")]
    if client.phone:
        return [("phone and first name", "phone", f"{client.phone}|{name_key(client.first_name)}")]
    return []


def stream_clients(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    default_language: str = "en",
    languages: Sequence[str] | None = None,
    preset: Preset | None = None,
    presets: Sequence[Preset] = (),
) -> RowStream[ClientRow]:
    """Clients from ``path``.

    ``mapping`` maps field -> CSV column; ``preset`` names a system's columns and words;
    with neither, a preset among ``presets`` is recognised from the header.  Fields left
    unplaced match a column of their own name or a common alias (``Client ID``...).
    A language cell is read by :func:`~followup.intake.values.configured_language`: one not
    in ``languages`` (``fr`` when followup writes en and es; None: any language) is a warning like an unknown one,
    and the row says nothing about the language (a stored client keeps theirs, a new one
    gets ``default_language``).
    """
    chosen: list[Preset] = [preset] if preset is not None else []

    def _detect(header: Sequence[str]) -> tuple[str, Mapping[str, str]] | None:
        found = detect(header, "clients", presets)
        if found is None:
            return None
        chosen.append(found)
        return found.label, found.mapping("clients")

    start_mapping = {**(preset.mapping("clients") if preset else {}), **(mapping or {})}
    rules = Deferred[ClientRow](
        lambda: (
            _ClientRules(
                region=default_region,
                timezone=zone(default_timezone).key,
                language=default_language,
                languages=None if languages is None else tuple(languages),
                consent_values=chosen[0].consent_values if chosen else {},
            ).build
        )
    )
    duplicates = Duplicates[ClientRow](identity_keys, lambda item: item.client)
    return open_rows(
        path,
        mapping=start_mapping,
        shown=shown,
        fields=CLIENT_FIELDS,
        required=CLIENT_REQUIRED,
        build=rules.build,
        duplicates=duplicates,
        aliases=CLIENT_ALIASES,
        detect_preset=_detect if preset is None else None,
    )


def read_clients(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    shown: str | None = None,
    default_region: str = "US",
    default_timezone: str = "America/New_York",
    default_language: str = "en",
    languages: Sequence[str] | None = None,
    preset: Preset | None = None,
    presets: Sequence[Preset] = (),
) -> ParseResult[ClientRow]:
    """:func:`stream_clients` read whole into memory (small files: tests, the sample data, simulate)."""
    return stream_clients(
        path,
        mapping,
        shown=shown,
        default_region=default_region,
        default_timezone=default_timezone,
        default_language=default_language,
        languages=languages,
        preset=preset,
        presets=presets,
    ).collect()
