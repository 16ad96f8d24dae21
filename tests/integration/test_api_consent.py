"""Consent through the ingest API is recorded like an import's, and START answers STOP only
(issue 11, found by a newcomer trial).  SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

from tests.integration.test_web import Web, api, web  # noqa: F401 - the fixture


def test_an_api_client_s_consent_is_in_the_ledger_and_kept_when_not_said(web: Web) -> None:  # noqa: F811
    body = {"external_id": "api-1", "first_name": "Nia", "phone": "3055550190", "sms_marketing": True}
    assert api(web, "/api/clients", body).status_code == 200
    client_id = web.store.find_client_id(external_id="api-1")
    assert client_id is not None
    rows = [(r["channel"], r["purpose"], r["action"], r["source"]) for r in web.store.consent_history(client_id)]
    assert ("sms", "marketing", "opt_in", "api") in rows
    # no email address: no default email opt-in on the record (nobody consented to anything)
    assert [r for r in rows if r[0] == "email"] == []
    # An update that says nothing of consent keeps it; one that says no withdraws it, on the record.
    silent = {k: v for k, v in body.items() if k != "sms_marketing"} | {"last_name": "X"}
    assert api(web, "/api/clients", silent).status_code == 200
    assert web.store.client_state(client_id).client.consent.sms_marketing is True
    assert api(web, "/api/clients", {**body, "sms_marketing": False}).status_code == 200
    assert web.store.client_state(client_id).client.consent.sms_marketing is False
    assert web.store.consent_history(client_id)[-1]["action"] == "opt_out"
