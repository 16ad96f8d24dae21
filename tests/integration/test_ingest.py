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
    assert ("sms", "marketing", "opt_in", "import") in granted
    assert any("clients.csv:2" in e["wording"] for e in store.consent_history(maria))
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
