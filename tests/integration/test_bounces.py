"""Opt-outs belong to addresses (issue 11): a hard bounce suppresses the email address and a
carrier's "unsubscribed" suppresses the number, for every client on it.  SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from followup.exceptions import RecipientOptedOutError
from tests.integration.test_dispatch import T0, Rig, at, rig  # noqa: F401


def test_a_hard_bounce_suppresses_the_address_for_everyone_on_it(rig: Rig) -> None:  # noqa: F811
    rig.add_client("c2", T0 - timedelta(days=30), email="m@example.com", phone="+13055550102")
    rig.email.fail(RecipientOptedOutError("hard bounce: SMTP 550 at RCPT: 5.1.1 user unknown", provider="smtp"))
    at(rig, (T0 + timedelta(days=14)).replace(hour=11))
    rig.dispatcher.run_once()
    assert rig.store.suppressed("m@example.com", "email") == {"all"}
    for ref in ("c1", "c2"):
        client_id = rig.store.find_client_id(external_id=ref)
        assert client_id is not None
        consent = rig.store.client_state(client_id).client.consent
        assert (consent.email_care, consent.email_marketing) == (False, False), ref
