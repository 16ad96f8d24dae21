"""Storing parsed CSV rows: match clients, resolve session owners, summarise, re-plan.

The whole file is written in one transaction, so an interrupted import leaves nothing
half-written; with ``strict`` a single bad row rejects the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from followup.config.loader import ClinicConfig
from followup.core.domain import Consent
from followup.engine.planning import replan
from followup.intake import ClientRow, ParseResult, RowError, SessionRow
from followup.intake.values import name_key
from followup.store.port import Outcome, Store

Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    file: str
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rolled_back: bool = False
    planned: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def changes(self) -> int:
        return self.created + self.updated

    def line(self) -> str:
        head = "REJECTED (--strict), nothing imported: " if self.rolled_back else ""
        return (
            f"{head}{self.file}: {self.total} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )


class _RollbackError(Exception):
    pass


def _auto_id(row: ClientRow) -> str:
    """A stable id for a client the file gives no id for: their email, else phone, with their
    first name (a family shares a phone, and sometimes an email)."""
    basis = f"{row.client.email or row.client.phone or ''}|{name_key(row.client.first_name)}"
    return "auto-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def _same_person(store: Store, row: ClientRow) -> tuple[int | None, str | None]:
    """(stored client id or None for a new client, or an "ambiguous" reason).

    A row with its own id is that client and nobody else, whatever phone or email it
    shares.  A row without one is matched by email, then by phone, and only to a client of
    the same first name: a different name on a shared phone is another member of the family.
    """
    client = row.client
    if row.external_id:
        return store.find_client_id(external_id=row.external_id), None
    for kind, value in (("email", client.email), ("phone", client.phone)):
        if not value:
            continue
        sharing = store.clients_with(**{kind: value})
        named = [m for m in sharing if name_key(m.first_name) == name_key(client.first_name)]
        if len(named) == 1:
            return named[0].id, None
        if len(named) > 1:
            ids = ", ".join(m.external_id for m in named)
            return (
                None,
                f"matches {len(named)} clients named {client.first_name} on this {kind} ({ids}); add an id column",
            )
    return None, None


def _start(result: ParseResult[ClientRow] | ParseResult[SessionRow]) -> ImportSummary:
    summary = ImportSummary(file=result.file, total=result.total)
    summary.errors = [str(e) for e in result.errors]
    summary.warnings = [str(w) for w in result.warnings]
    summary.rejected = len({e.row for e in result.errors})
    return summary


def import_clients(
    store: Store,
    result: ParseResult[ClientRow],
    now: datetime,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    summary = _start(result)
    if strict and result.errors:
        summary.rolled_back = True
        return summary
    with store.transaction():
        for row in result.rows:
            client = row.client
            found, ambiguous = _same_person(store, row)
            if ambiguous is not None:
                summary.rejected += 1
                summary.errors.append(str(RowError(result.file, row.row, "client", ambiguous)))
                continue
            external_id = row.external_id or (store.client_external_id(found) if found is not None else _auto_id(row))
            before = store.client_state(found).client.consent if found is not None else None
            if found is not None and before is not None:
                # What the file did not say stays as recorded (a nightly re-import without a consent
                # column must not undo an opt-in taken at the desk); care consent has no column.
                kept = {
                    flag: getattr(before, flag)
                    for flag in ("sms_marketing", "email_marketing")
                    if row.consent_sources.get(flag, "default") == "default"
                }
                kept |= {"sms_care": before.sms_care, "email_care": before.email_care}
                client = replace(client, consent=replace(client.consent, **kept))
                # An import never switches back on what the client switched off (STOP, a link, the desk).
                locked = store.opted_out_by_client(found)
                client = replace(client, consent=replace(client.consent, **dict.fromkeys(locked, False)))
            client_id, outcome = store.upsert_client(replace(client, external_id=external_id), now)
            summary.count(outcome)
            record_consent_changes(store, client_id, before, client.consent, now, row.consent_sources)
            # A number or address that opted out stays out, whoever is imported with it later.
            store.enforce_suppressions(client_id, now)
            if progress:
                progress(1)
    return summary


def record_consent_changes(
    store: Store,
    client_id: int,
    before: Consent | None,
    after: Consent,
    now: datetime,
    sources: Mapping[str, str],
    *,
    via: str = "import",
) -> None:
    """Marketing consent an import or API call granted or withdrew goes into the ledger with its
    true source: ``FILE:ROW:COLUMN`` (or ``api``) when the data said so, ``default`` when nothing did."""
    for flag in ("sms_marketing", "email_marketing"):
        new = getattr(after, flag)
        source = sources.get(flag, "default")
        if before is None and not new and source == "default":
            continue  # nothing granted and nothing said: the default needs no record
        if before is not None and getattr(before, flag) == new:
            continue
        channel, purpose = flag.split("_")
        store.log_consent(
            client_id,
            channel,
            purpose,
            "opt_in" if new else "opt_out",
            now,
            source=source,
            wording=f"{via}: nothing said otherwise" if source == "default" else f"{via}: the client's answer",
        )


def _session_owner(store: Store, row: SessionRow) -> tuple[int | None, str | None]:
    """The client a session belongs to; a phone or email two clients share is settled by the
    row's client name, and reported (never guessed) when it can't be."""
    ref, kind = row.session.client_external_id, row.client_ref_kind
    if kind == "external_id":
        return store.find_client_id(external_id=ref), None
    sharing = store.clients_with(**{kind: ref})
    if len(sharing) <= 1:
        return (sharing[0].id if sharing else None), None
    name = name_key(row.client_name)
    if name:
        named = [
            m
            for m in sharing
            if name
            in (
                name_key(m.first_name),
                name_key(f"{m.first_name}{m.last_name}"),
                name_key(f"{m.last_name}{m.first_name}"),
            )
        ]
        if len(named) == 1:
            return named[0].id, None
    ids = ", ".join(m.external_id for m in sharing)
    return None, (
        f"{len(sharing)} clients share the {kind} {ref!r} ({ids}); "
        "map the client name (--map client_name=COLUMN) or an id column to tell them apart"
    )


def import_sessions(
    store: Store,
    clinic: ClinicConfig,
    result: ParseResult[SessionRow],
    now: datetime,
    *,
    strict: bool = False,
    client_column: str = "client",
    progress: Progress | None = None,
) -> ImportSummary:
    summary = _start(result)
    if strict and result.errors:
        summary.rolled_back = True
        return summary
    touched: set[int] = set()
    try:
        with store.transaction():
            for row in result.rows:
                session = row.session
                ref = session.client_external_id
                client_id, problem = _session_owner(store, row)
                if progress:
                    progress(1)
                if client_id is None:
                    summary.rejected += 1
                    reason = problem or (
                        f"no client with {row.client_ref_kind.replace('_', ' ')} {ref!r} (import clients first)"
                    )
                    summary.errors.append(str(RowError(result.file, row.row, client_column, reason)))
                    continue
                owner = store.client_external_id(client_id)
                _, outcome = store.upsert_session(replace(session, client_external_id=owner), client_id, now)
                summary.count(outcome)
                if outcome != "unchanged":
                    touched.add(client_id)
            if strict and summary.errors:
                raise _RollbackError
    except _RollbackError:
        summary.rolled_back = True
        summary.created = summary.updated = summary.unchanged = 0
        return summary
    store.record_booking_refresh(now, f"import {result.file}")
    summary.planned = replan(store, clinic, sorted(touched), now).created
    return summary
