"""Storing imported clients: the consent ledger records what an import granted, and a
re-import never undoes an opt-out the client made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from followup.engine.ingest import import_clients
from followup.intake import read_clients
from followup.store.sql import SqlStore
from tests.conftest import REPO

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
SAMPLE = REPO / "config" / "sample" / "clients.csv"


def test_import_records_consent_and_respects_later_opt_outs(db_url: str, tmp_path: Path) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    first = import_clients(store, read_clients(SAMPLE), NOW)
    assert (first.created, first.rejected) == (12, 0)
    maria = store.find_client_id(external_id="c-1001")
    assert maria is not None
    granted = [(e["channel"], e["purpose"], e["action"], e["source"]) for e in store.consent_history(maria)]
    # The ledger names the cell that granted it (issue 10: FILE:ROW:COLUMN, or "default").
    assert ("sms", "marketing", "opt_in", f"{SAMPLE}:2:sms_marketing") in granted
    store.record_consent(maria, "sms", "all", "opt_out", NOW, source="keyword", wording="STOP")
    again = import_clients(store, read_clients(SAMPLE), NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12)
    consent = store.client_state(maria).client.consent
    assert not consent.sms_care and not consent.sms_marketing
    # A later opt-in by the client (START) is honoured by the next import again.
    store.record_consent(maria, "sms", "all", "opt_in", NOW, source="keyword", wording="START")
    import_clients(store, read_clients(SAMPLE), NOW)
    assert store.client_state(maria).client.consent.sms_marketing
    store.close()


def test_a_number_that_said_stop_stays_out_for_everyone_on_it(db_url: str, tmp_path: Path) -> None:
    """A couple shares a phone: one STOP stops both, and a client imported later with that
    number (or one whose number said STOP before they were a client) is never texted."""
    store = SqlStore.from_url(db_url)
    store.upgrade()
    family = tmp_path / "family.csv"
    family.write_text(
        "external_id,first_name,phone,sms_marketing\nf-1,Maria,3055550141,yes\nf-2,Lucas,3055550141,yes\n",
        encoding="utf-8",
    )
    import_clients(store, read_clients(family), NOW)
    maria, lucas = store.find_client_id(external_id="f-1"), store.find_client_id(external_id="f-2")
    assert maria is not None and lucas is not None
    store.record_consent(maria, "sms", "all", "opt_out", NOW, source="keyword", wording="Stop.")
    for client_id in (maria, lucas):
        consent = store.client_state(client_id).client.consent
        assert (consent.sms_care, consent.sms_marketing) == (False, False)
    assert store.suppressed("+13055550141", "sms") == {"all"}
    # A re-import that says yes grants nothing back.
    import_clients(store, read_clients(family), NOW)
    assert not store.client_state(lucas).client.consent.sms_marketing
    # A STOP from a number that is not a client yet, then the client arrives.
    store.suppress("+13055550199", "sms", "all", NOW, source="keyword", detail="STOP")
    later = tmp_path / "later.csv"
    later.write_text("external_id,first_name,phone,sms_marketing\nf-3,Ana,(305) 555-0199,yes\n", encoding="utf-8")
    import_clients(store, read_clients(later), NOW)
    ana = store.find_client_id(external_id="f-3")
    assert ana is not None
    consent = store.client_state(ana).client.consent
    assert (consent.sms_care, consent.sms_marketing) == (False, False)
    assert [e["source"] for e in store.consent_history(ana)][-1] == "suppression list"
    # START from Maria lifts the number's suppression and resubscribes Maria only.
    store.record_consent(maria, "sms", "all", "opt_in", NOW, source="keyword", wording="START")
    assert store.suppressed("+13055550141", "sms") == set()
    assert store.client_state(maria).client.consent.sms_care
    assert not store.client_state(lucas).client.consent.sms_care
    store.close()


def test_no_default_email_consent_is_logged_for_a_client_without_an_email(db_url: str, tmp_path: Path) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    path = tmp_path / "clients.csv"
    path.write_text("external_id,first_name,phone\nc1,Ramón,3055550101\n", encoding="utf-8")
    import_clients(store, read_clients(path), NOW)
    ramon = store.find_client_id(external_id="c1")
    assert ramon is not None

    def ledger() -> list[tuple[str, str, str, str]]:
        return [(e["channel"], e["purpose"], e["action"], e["source"]) for e in store.consent_history(ramon)]

    assert ledger() == []  # no email: the default email opt-in is nobody's consent
    # the address arrives: the default starts now, once
    path.write_text("external_id,first_name,phone,email\nc1,Ramón,3055550101,ramon@example.com\n", encoding="utf-8")
    import_clients(store, read_clients(path), NOW)
    assert ledger() == [("email", "marketing", "opt_in", "default")]
    import_clients(store, read_clients(path), NOW)
    assert len(ledger()) == 1
    store.close()
