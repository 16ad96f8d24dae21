"""Storing parsed CSV rows: match clients, resolve session owners, summarise, re-plan.

The whole file is written in one transaction, so an interrupted import leaves nothing
half-written; with ``strict`` a single bad row rejects the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from followup.config.loader import ClinicConfig
from followup.core.domain import Consent
from followup.engine.planning import replan
from followup.intake import ClientRow, ParseResult, RowError, SessionRow
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
    """A stable id for a client the file gives no id for (phone, else email)."""
    basis = row.client.phone or row.client.email or ""
    return "auto-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


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
            found = store.find_client_id(external_id=row.external_id, phone=client.phone, email=client.email)
            if found is None:
                external_id = row.external_id or _auto_id(row)
            else:
                external_id = store.client_external_id(found)
                if row.external_id and row.external_id != external_id:
                    summary.warnings.append(
                        str(
                            RowError(
                                result.file,
                                row.row,
                                "external_id",
                                f"{row.external_id!r} matched existing client "
                                f"{external_id!r} by phone or email; kept {external_id!r}",
                            )
                        )
                    )
            before = store.client_state(found).client.consent if found is not None else None
            if found is not None:
                # An import never switches back on what the client switched off (STOP, a link, the desk).
                locked = store.opted_out_by_client(found)
                client = replace(client, consent=replace(client.consent, **dict.fromkeys(locked, False)))
            client_id, outcome = store.upsert_client(replace(client, external_id=external_id), now)
            summary.count(outcome)
            _ledger_import(store, client_id, before, client.consent, now, f"{result.file}:{row.row}")
            if progress:
                progress(1)
    return summary


def _ledger_import(
    store: Store, client_id: int, before: Consent | None, after: Consent, now: datetime, where: str
) -> None:
    """Consent the import granted or withdrew goes into the ledger, with where it came from."""
    for flag in ("sms_marketing", "email_marketing"):
        new = getattr(after, flag)
        if before is None and not new:
            continue  # nothing granted: the default needs no record
        if before is not None and getattr(before, flag) == new:
            continue
        channel, purpose = flag.split("_")
        store.log_consent(
            client_id,
            channel,
            purpose,
            "opt_in" if new else "opt_out",
            now,
            source="import",
            wording=f"consent column in {where}",
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
                client_id = store.find_client_id(**{row.client_ref_kind: ref})
                if progress:
                    progress(1)
                if client_id is None:
                    summary.rejected += 1
                    summary.errors.append(
                        str(
                            RowError(
                                result.file,
                                row.row,
                                client_column,
                                f"no client with {row.client_ref_kind.replace('_', ' ')} {ref!r} "
                                "(import clients first)",
                            )
                        )
                    )
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
    summary.planned = replan(store, clinic, sorted(touched), now).created
    return summary
