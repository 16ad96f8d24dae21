"""Storing parsed CSV rows: match clients, resolve session owners, summarise, re-plan.

Rows arrive as a stream (:class:`~followup.intake.RowStream`, or a collected
:class:`~followup.intake.ParseResult`) and are written in batches of ``batch_size``: one
query finds the batch's stored clients (by id, and by phone/email for rows without one),
one executemany inserts and one updates, one writes the consent ledger.  Memory does not
grow with the file.

Transactions: by default the whole file is one transaction, so an interrupted import
(``stop`` set by Ctrl-C) leaves the database as it was; with ``strict`` any bad row rolls the
whole file back.  With ``partial`` each batch commits on its own: an interrupted import keeps
the batches written so far and the summary says up to which line (``committed_line``).
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from followup.config.loader import ClinicConfig
from followup.core.domain import Client, Consent, Session
from followup.engine.planning import replan
from followup.intake import ClientRow, ParseResult, RowError, RowStream, SessionRow
from followup.intake.values import name_key
from followup.store.port import ConsentChange, Outcome, Store, StoredClient, StoredSession
from followup.timeutil import UTC

Progress = Callable[[int], None]
# Told how many clients the import will plan once its rows are in; returns what to call with
# each planned batch's size (a progress bar: planning a large file takes longer than reading it).
PlanningProgress = Callable[[int], Progress]
T = TypeVar("T")

BATCH_ROWS = 2000  # rows per batch: a few statements each, a few MB of memory at most
REPLAN_CHUNK = 1000  # client ids handed to the planner at a time


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
    interrupted: bool = False  # a stop (Ctrl-C) ended the import early
    committed_line: int = 0  # --partial: rows up to this line of the file are committed
    languages_changed: dict[str, int] = field(default_factory=dict)  # "es -> en": stored clients switched

    def language_lines(self) -> list[str]:
        """``language es -> en: 3 clients`` per change the file made to stored clients' languages."""
        return [
            f"language {change}: {n} client{'s' if n != 1 else ''} (the file's language column)"
            for change, n in sorted(self.languages_changed.items())
        ]

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def changes(self) -> int:
        return self.created + self.updated

    def line(self) -> str:
        head = "REJECTED (--strict), nothing imported: " if self.rolled_back else ""
        if self.interrupted:
            head = (
                f"INTERRUPTED, rows up to line {self.committed_line} imported: "
                if self.committed_line
                else "INTERRUPTED, nothing imported: "
            )
        return (
            f"{head}{self.file}: {self.total} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )


class _RollbackError(Exception):
    pass


class _StoppedError(Exception):
    pass


# --------------------------------------------------------------------------- batches


def _batches(
    source: ParseResult[T] | RowStream[T], summary: ImportSummary, size: int
) -> Iterator[tuple[list[T], int, int]]:
    """(good rows, records read, last line read) per batch; errors and warnings go to ``summary``."""
    if isinstance(source, ParseResult):
        summary.total = source.total
        summary.errors += [str(e) for e in source.errors]
        summary.warnings += [str(w) for w in source.warnings]
        summary.rejected = len({e.row for e in source.errors})
        for start in range(0, len(source.rows), size):
            chunk = source.rows[start : start + size]
            yield chunk, len(chunk), getattr(chunk[-1], "row", 0)
        return
    batch: list[T] = []
    records = line = 0
    for parsed in source:
        records += 1
        line = parsed.line
        summary.total += 1
        if parsed.errors:
            summary.rejected += 1
            summary.errors += [str(e) for e in parsed.errors]
        if parsed.warnings:
            summary.warnings += [str(w) for w in parsed.warnings]
        if parsed.item is not None:
            batch.append(parsed.item)
        if records >= size:
            yield batch, records, line
            batch, records = [], 0
    if records:
        yield batch, records, line


def _run_batches(
    store: Store,
    source: ParseResult[T] | RowStream[T],
    summary: ImportSummary,
    write: Callable[[list[T]], None],
    *,
    strict: bool,
    partial: bool,
    batch_size: int,
    progress: Progress | None,
    stop: threading.Event | None,
) -> bool:
    """Write every batch; True when the writes stand (committed), False when rolled back."""
    whole: AbstractContextManager[None] = nullcontext() if partial else store.transaction()
    try:
        with whole:
            for rows, records, line in _batches(source, summary, batch_size):
                with store.transaction() if partial else nullcontext():
                    write(rows)
                if partial:
                    summary.committed_line = line
                if progress:
                    progress(records)
                if stop is not None and stop.is_set():  # before the next batch is read
                    raise _StoppedError
            if strict and summary.errors:
                raise _RollbackError
    except _StoppedError:
        summary.interrupted = True
        if not partial:
            summary.created = summary.updated = summary.unchanged = 0
            summary.languages_changed.clear()
        return partial
    except _RollbackError:
        summary.rolled_back = True
        summary.created = summary.updated = summary.unchanged = 0
        summary.languages_changed.clear()
        return False
    return True


def _exclusive(strict: bool, partial: bool) -> None:
    if strict and partial:
        raise ValueError("strict (all or nothing) and partial (commit each batch) exclude each other")


def _rejected_whole(result: ParseResult[T]) -> ImportSummary:
    """--strict on a collected file with bad rows: nothing is written."""
    summary = ImportSummary(file=result.file, total=result.total, rolled_back=True)
    summary.errors = [str(e) for e in result.errors]
    summary.warnings = [str(w) for w in result.warnings]
    summary.rejected = len({e.row for e in result.errors})
    return summary


def _sorted_unique(ids: array[int]) -> Iterator[int]:
    last = None
    for client_id in sorted(ids):
        if client_id != last:
            yield client_id
            last = client_id


def _replan(
    store: Store,
    clinic: ClinicConfig,
    ids: array[int],
    now: datetime,
    stop: threading.Event | None,
    planning: PlanningProgress | None = None,
) -> int:
    """Plan the touched clients (ids may repeat), ``REPLAN_CHUNK`` at a time; messages created."""
    created = 0
    chunk: list[int] = []
    unique = array("q", _sorted_unique(ids))
    advance = planning(len(unique)) if planning is not None and unique else None
    for client_id in [*unique, None]:
        if client_id is not None:
            chunk.append(client_id)
        if chunk and (client_id is None or len(chunk) >= REPLAN_CHUNK):
            changes = replan(store, clinic, chunk, now, stop)
            created += changes.created
            if advance is not None:
                advance(len(chunk))
            chunk = []
            if changes.interrupted:
                break
    return created


# --------------------------------------------------------------------------- clients


def _auto_id(row: ClientRow) -> str:
    """A stable id for a client the file gives no id for: their email, else phone, with their
    first name (a family shares a phone, and sometimes an email)."""
    basis = f"{row.client.email or row.client.phone or ''}|{name_key(row.client.first_name)}"
    return "auto-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def _choose(
    candidates: Sequence[tuple[int, str, str]], row: ClientRow, kind: str
) -> tuple[int | None, str | None, bool]:
    """Among (id, external id, first name) of the clients on the row's ``kind``: (the one of the
    same first name, an "ambiguous" reason, whether the search is settled)."""
    first = name_key(row.client.first_name)
    named = [c for c in candidates if name_key(c[2]) == first]
    if len(named) == 1:
        return named[0][0], None, True
    if len(named) > 1:
        ids = ", ".join(c[1] for c in named)
        return (
            None,
            f"matches {len(named)} clients named {row.client.first_name} on this {kind} ({ids}); add an id column",
            True,
        )
    return None, None, False


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
        sharing = [(m.id, m.external_id, m.first_name) for m in store.clients_with(**{kind: value})]
        found, ambiguous, settled = _choose(sharing, row, kind)
        if settled:
            return found, ambiguous
    return None, None


def _merged(row: ClientRow, matched: Client | None, locked: set[str]) -> Client:
    """The row's client with what the file did not say kept as recorded (a nightly re-import
    without a consent or language column, or with a blank cell, must not undo an opt-in taken at
    the desk or a language set by hand or by keyword; care consent has no column) and never
    switching back on what the client switched off (STOP, a link, the desk)."""
    client = row.client
    if client.language_source is None:  # the file said nothing usable about the language
        if matched is None:
            client = replace(client, language_source="default")
        else:
            client = replace(client, language=matched.language, language_source=matched.language_source)
    if matched is None:
        return client
    before = matched.consent
    kept = {
        flag: getattr(before, flag)
        for flag in ("sms_marketing", "email_marketing")
        if row.consent_sources.get(flag, "default") == "default"
    }
    kept |= {"sms_care": before.sms_care, "email_care": before.email_care}
    kept |= dict.fromkeys(locked, False)
    return replace(client, consent=replace(client.consent, **kept))


def reachable(client: Client | None) -> frozenset[str]:
    """The channels ``client`` has an address on (none for no client)."""
    if client is None:
        return frozenset()
    return frozenset(c for c, address in (("sms", client.phone), ("email", client.email)) if address)


def consent_changes(
    client_id: int,
    before: Consent | None,
    after: Consent,
    sources: Mapping[str, str],
    *,
    via: str = "import",
    channels: frozenset[str] = frozenset({"sms", "email"}),
    had: frozenset[str] = frozenset({"sms", "email"}),
) -> list[ConsentChange]:
    """The ledger entries for marketing consent an import or API call granted or withdrew, with
    its true source: ``FILE:ROW:COLUMN`` (or ``api``) when the data said so, ``default`` when
    nothing did.  ``channels`` are the ones the client now has an address on, ``had`` those
    they had before: a default grant on a channel they cannot be reached on is no consent
    anyone gave, and is logged only once an address arrives."""
    changes: list[ConsentChange] = []
    for flag in ("sms_marketing", "email_marketing"):
        new = getattr(after, flag)
        source = sources.get(flag, "default")
        channel, purpose = flag.split("_")
        if source == "default" and channel not in channels:
            continue  # no address: the default says nothing about this client
        if before is None and not new and source == "default":
            continue  # nothing granted and nothing said: the default needs no record
        arrived = channel not in had and new and source == "default"  # an address at last: the default starts now
        if before is not None and getattr(before, flag) == new and not arrived:
            continue
        wording = f"{via}: nothing said otherwise" if source == "default" else f"{via}: the client's answer"
        changes.append(
            ConsentChange(client_id, channel, purpose, "opt_in" if new else "opt_out", source=source, wording=wording)
        )
    return changes


def record_consent_changes(
    store: Store,
    client_id: int,
    before: Consent | None,
    after: Consent,
    now: datetime,
    sources: Mapping[str, str],
    *,
    via: str = "import",
    channels: frozenset[str] = frozenset({"sms", "email"}),
    had: frozenset[str] = frozenset({"sms", "email"}),
) -> None:
    """Write :func:`consent_changes` to the ledger."""
    for change in consent_changes(client_id, before, after, sources, via=via, channels=channels, had=had):
        store.log_consent(
            change.client_id,
            change.channel,
            change.purpose,
            change.action,
            now,
            source=change.source,
            wording=change.wording,
        )


def _keys(client: Client) -> set[str]:
    """What other rows may find a client by: its id, phone and email."""
    keys = {f"x:{client.external_id}"}
    if client.phone:
        keys.add(f"p:{client.phone}")
    if client.email:
        keys.add(f"e:{client.email.lower()}")
    return keys


def _row_keys(row: ClientRow) -> set[str]:
    """:func:`_keys` of the client the row would write (its made-up id when it has none)."""
    if row.external_id:
        return {f"x:{row.external_id}"}
    client = row.client
    keys = {f"x:{_auto_id(row)}"}
    if client.phone:
        keys.add(f"p:{client.phone}")
    if client.email:
        keys.add(f"e:{client.email.lower()}")
    return keys


@dataclass
class _Write:
    """A client decided: what to write, and what the ledger needs."""

    row: ClientRow
    client: Client
    target: StoredClient | None  # the stored row it overwrites; None: a new client
    before: Consent | None  # the matched client's consent (None: no match, nothing merged)
    had: frozenset[str] = frozenset()  # the channels the matched client had an address on


class _ClientBatch:
    """One batch of client rows: looked up together, decided in file order, written together.

    A row that would find a client written earlier in the same batch (a row without id on the
    phone of a client just created) is the one case a batch lookup would get wrong: the batch
    so far is written first and that row is looked up and written on its own."""

    def __init__(self, store: Store, file: str, now: datetime, summary: ImportSummary, replan_ids: array[int]) -> None:
        self.store, self.file, self.now, self.summary, self.replan_ids = store, file, now, summary, replan_ids
        self.pending: list[_Write] = []
        self.written: set[str] = set()  # keys of the clients written in this batch, before and after

    def write(self, rows: list[ClientRow]) -> None:
        store = self.store
        without = [r for r in rows if not r.external_id]
        by_id = store.clients_by_external_id({r.external_id or _auto_id(r) for r in rows})
        sharing = store.clients_on(
            {r.client.phone for r in without if r.client.phone}, {r.client.email for r in without if r.client.email}
        )
        on_phone: dict[str, list[StoredClient]] = {}
        on_email: dict[str, list[StoredClient]] = {}
        for stored in sharing:
            if stored.client.phone:
                on_phone.setdefault(stored.client.phone, []).append(stored)
            if stored.client.email:
                on_email.setdefault(stored.client.email.lower(), []).append(stored)
        known = {s.id: s for s in [*by_id.values(), *sharing]}
        locked = store.opted_out_by_clients(known)
        for row in rows:
            if not self.written.isdisjoint(_row_keys(row)):
                self._flush()
                self._one(row)
                continue
            found, ambiguous = self._match(row, by_id, on_phone, on_email)
            if ambiguous is not None:
                self._reject(row, ambiguous)
                continue
            matched = known[found] if found is not None else None
            # a row without id that matches nobody is written under its made-up id, which may be stored
            target = matched if matched is not None or row.external_id else by_id.get(_auto_id(row))
            self._decide(row, matched, target, locked.get(found, set()) if found is not None else set())
        self._flush()

    @staticmethod
    def _match(
        row: ClientRow,
        by_id: Mapping[str, StoredClient],
        on_phone: Mapping[str, list[StoredClient]],
        on_email: Mapping[str, list[StoredClient]],
    ) -> tuple[int | None, str | None]:
        """:func:`_same_person` on the batch's lookups."""
        if row.external_id:
            stored = by_id.get(row.external_id)
            return (stored.id if stored else None), None
        client = row.client
        for kind, value, index in (("email", client.email, on_email), ("phone", client.phone, on_phone)):
            if not value:
                continue
            sharing = index.get(value.lower() if kind == "email" else value, [])
            found, ambiguous, settled = _choose(
                [(s.id, s.client.external_id, s.client.first_name) for s in sharing], row, kind
            )
            if settled:
                return found, ambiguous
        return None, None

    def _reject(self, row: ClientRow, reason: str) -> None:
        self.summary.rejected += 1
        self.summary.errors.append(str(RowError(self.file, row.row, "client", reason)))

    def _decide(
        self, row: ClientRow, matched: StoredClient | None, target: StoredClient | None, locked: set[str]
    ) -> None:
        before = matched.client.consent if matched is not None else None
        external_id = row.external_id or (matched.client.external_id if matched is not None else _auto_id(row))
        client = _merged(row, matched.client if matched else None, locked)
        if client.external_id != external_id:  # a row without id: the matched client's id, or a made-up one
            client = replace(client, external_id=external_id)
        if matched is not None and matched.client.language != client.language:
            change = f"{matched.client.language} -> {client.language}"
            self.summary.languages_changed[change] = self.summary.languages_changed.get(change, 0) + 1
        self.pending.append(_Write(row, client, target, before, reachable(matched.client if matched else None)))
        self.written.update(_keys(client))
        if target is not None:
            self.written.update(_keys(target.client))

    def _one(self, row: ClientRow) -> None:
        """A row looked up on its own, after the batch so far is written (see the class)."""
        store = self.store
        found, ambiguous = _same_person(store, row)
        if ambiguous is not None:
            self._reject(row, ambiguous)
            return
        matched = target = None
        if found is not None:
            external_id = store.client_external_id(found)
            matched = target = store.clients_by_external_id([external_id]).get(external_id)
        elif not row.external_id:
            target = store.clients_by_external_id([_auto_id(row)]).get(_auto_id(row))
        locked = store.opted_out_by_clients([found]).get(found, set()) if found is not None else set()
        self._decide(row, matched, target, locked)
        self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        store, now, summary = self.store, self.now, self.summary
        new = [w.client for w in self.pending if w.target is None]
        changed = [
            StoredClient(w.target.id, w.client)
            for w in self.pending
            if w.target is not None and w.target.client != w.client
        ]
        ids = store.write_clients(new, changed, now)
        ledger: list[ConsentChange] = []
        addressed: list[tuple[int, Client]] = []
        for w in self.pending:
            if w.target is None:
                client_id, outcome = ids[w.client.external_id], "created"
            else:
                client_id = w.target.id
                outcome = "unchanged" if w.target.client == w.client else "updated"
                if outcome == "updated":
                    self.replan_ids.append(client_id)
            summary.count(outcome)  # type: ignore[arg-type]
            ledger += consent_changes(
                client_id, w.before, w.client.consent, w.row.consent_sources, channels=reachable(w.client), had=w.had
            )
            if w.client.phone or w.client.email:
                addressed.append((client_id, w.client))
        store.log_consents(ledger, now)
        # A number or address that opted out stays out, whoever is imported with it later.
        suppressed = store.suppressed_addresses(
            {c.phone for _, c in addressed if c.phone}, {c.email for _, c in addressed if c.email}
        )
        if suppressed:
            for client_id, client in addressed:
                on_list = client.phone in suppressed or (client.email and client.email.lower() in suppressed)
                if on_list and store.enforce_suppressions(client_id, now):
                    self.replan_ids.append(client_id)
        self.pending = []


def import_clients(
    store: Store,
    result: ParseResult[ClientRow] | RowStream[ClientRow],
    now: datetime,
    *,
    strict: bool = False,
    partial: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    clinic: ClinicConfig | None = None,
    planning: PlanningProgress | None = None,
    batch_size: int = BATCH_ROWS,
) -> ImportSummary:
    """Create or update the clients of ``result`` (see the module for batches and transactions).

    With ``clinic``, updated clients that have sessions are re-planned afterwards (a new
    phone, channel or consent changes what is sent); new clients have no sessions yet."""
    _exclusive(strict, partial)
    summary = ImportSummary(file=result.file)
    if strict and isinstance(result, ParseResult) and result.errors:
        return _rejected_whole(result)
    replan_ids: array[int] = array("q")

    def write(rows: list[ClientRow]) -> None:
        _ClientBatch(store, result.file, now, summary, replan_ids).write(rows)
        if partial and clinic is not None and replan_ids:  # as for sessions: planned with its batch
            summary.planned += _replan(store, clinic, array("q", store.with_sessions(list(replan_ids))), now, None)
            del replan_ids[:]

    kept = _run_batches(
        store,
        result,
        summary,
        write,
        strict=strict,
        partial=partial,
        batch_size=batch_size,
        progress=progress,
        stop=stop,
    )
    if kept and clinic is not None and replan_ids:
        with_sessions: array[int] = array("q")
        unique = list(_sorted_unique(replan_ids))
        for start in range(0, len(unique), batch_size):
            with_sessions.extend(store.with_sessions(unique[start : start + batch_size]))
        summary.planned += _replan(store, clinic, with_sessions, now, stop, planning)
    return summary


# --------------------------------------------------------------------------- sessions


def _owner_among(sharing: Sequence[StoredClient], row: SessionRow) -> tuple[int | None, str | None]:
    """The client a session belongs to among those on its phone or email; a phone or email two
    clients share is settled by the row's client name, and reported (never guessed) when it can't be."""
    ref, kind = row.session.client_external_id, row.client_ref_kind
    if len(sharing) <= 1:
        return (sharing[0].id if sharing else None), None
    name = name_key(row.client_name)
    if name:
        named = [
            s
            for s in sharing
            if name
            in (
                name_key(s.client.first_name),
                name_key(f"{s.client.first_name}{s.client.last_name}"),
                name_key(f"{s.client.last_name}{s.client.first_name}"),
            )
        ]
        if len(named) == 1:
            return named[0].id, None
    ids = ", ".join(s.client.external_id for s in sharing)
    return None, (
        f"{len(sharing)} clients share the {kind} {ref!r} ({ids}); "
        "map the client name (--map client_name=COLUMN) or an id column to tell them apart"
    )


def _same_session(a: Session, b: Session) -> bool:
    """Equal as stored; instants compared in UTC (an aware datetime in a DST fold is never equal
    to one in another zone, PEP 495)."""
    return (
        a.start.astimezone(UTC) == b.start.astimezone(UTC)
        and a.end.astimezone(UTC) == b.end.astimezone(UTC)
        and (a.service, a.therapist, tuple(a.focus_areas), a.status)
        == (b.service, b.therapist, tuple(b.focus_areas), b.status)
    )


def _write_sessions(
    store: Store,
    rows: list[SessionRow],
    file: str,
    client_column: str,
    now: datetime,
    summary: ImportSummary,
    touched: array[int],
) -> None:
    refs = {
        kind: {r.session.client_external_id for r in rows if r.client_ref_kind == kind}
        for kind in ("external_id", "phone", "email")
    }
    by_id = store.clients_by_external_id(refs["external_id"])
    on_phone: dict[str, list[StoredClient]] = {}
    on_email: dict[str, list[StoredClient]] = {}
    for stored in store.clients_on(refs["phone"], refs["email"]):
        if stored.client.phone:
            on_phone.setdefault(stored.client.phone, []).append(stored)
        if stored.client.email:
            on_email.setdefault(stored.client.email.lower(), []).append(stored)
    owned: list[tuple[SessionRow, int]] = []
    for row in rows:
        ref, kind = row.session.client_external_id, row.client_ref_kind
        problem = None
        if kind == "external_id":
            owner = by_id.get(ref)
            client_id = owner.id if owner else None
        else:
            index = on_phone if kind == "phone" else on_email
            client_id, problem = _owner_among(index.get(ref.lower() if kind == "email" else ref, []), row)
        if client_id is None:
            summary.rejected += 1
            reason = problem or f"no client with {kind.replace('_', ' ')} {ref!r} (import clients first)"
            summary.errors.append(str(RowError(file, row.row, client_column, reason)))
            continue
        owned.append((row, client_id))
    existing = store.sessions_by_external_id({row.session.external_id for row, _ in owned})
    new: list[tuple[Session, int]] = []
    changed: list[StoredSession] = []
    for row, client_id in owned:
        stored_session = existing.get(row.session.external_id)
        if stored_session is None:
            new.append((row.session, client_id))
            summary.count("created")
        elif stored_session.client_id == client_id and _same_session(stored_session.session, row.session):
            summary.count("unchanged")
            continue
        else:
            changed.append(StoredSession(stored_session.id, client_id, row.session))
            summary.count("updated")
        touched.append(client_id)
    store.write_sessions(new, changed, now)


def import_sessions(
    store: Store,
    clinic: ClinicConfig,
    result: ParseResult[SessionRow] | RowStream[SessionRow],
    now: datetime,
    *,
    strict: bool = False,
    partial: bool = False,
    client_column: str = "client",
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_ROWS,
    planning: PlanningProgress | None = None,
) -> ImportSummary:
    """Create or update the sessions of ``result``, then plan the clients whose sessions changed
    (see the module for batches and transactions)."""
    _exclusive(strict, partial)
    summary = ImportSummary(file=result.file)
    if strict and isinstance(result, ParseResult) and result.errors:
        return _rejected_whole(result)
    touched: array[int] = array("q")

    def write(rows: list[SessionRow]) -> None:
        _write_sessions(store, rows, result.file, client_column, now, summary, touched)
        if partial:
            # Each batch is an event of its own: its clients are planned in its transaction, so a
            # stopped import leaves no committed booking without its messages (and importing the
            # file again, which finds those rows unchanged, has nothing left to plan for them).
            summary.planned += _replan(store, clinic, touched, now, None)
            del touched[:]

    kept = _run_batches(
        store,
        result,
        summary,
        write,
        strict=strict,
        partial=partial,
        batch_size=batch_size,
        progress=progress,
        stop=stop,
    )
    if not kept:
        return summary
    store.record_booking_refresh(now, f"import {result.file}")
    summary.planned += _replan(store, clinic, touched, now, stop, planning)
    return summary
