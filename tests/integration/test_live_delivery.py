"""Acceptance of live delivery: ``FOLLOWUP_DELIVERY=live followup run --once`` with Twilio's API
played by Prism (on Twilio's own spec) and a real local SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followup.config.loader import load_clinic
from followup.core.domain import Client, Consent, Session
from followup.engine.planning import replan_all
from followup.store.port import MessageQuery
from followup.store.sql import SqlStore
from tests.conftest import REPO
from tests.integration.conftest import Prism
from tests.integration.smtp_server import smtp_server
from tests.integration.test_concurrency import noon_zone


def seed(db_url: str) -> None:
    """Four clients where it is about noon: care and marketing messages due now, SMS and email."""
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    store = SqlStore.from_url(db_url)
    store.upgrade()
    now = datetime.now(UTC)
    tz = noon_zone(now)
    recent = now - timedelta(hours=2, minutes=5)  # post_session_care "thanks" due
    local = now.astimezone(__import__("zoneinfo").ZoneInfo(tz))
    old = (local - timedelta(days=14)).replace(hour=9, minute=0)  # rebook_nudge due today 11:00 local
    people = [("a1", "sms", recent), ("a2", "sms", old), ("b1", "email", recent), ("b2", "email", old)]
    for n, (cid, preferred, end) in enumerate(people):
        client_id, _ = store.upsert_client(
            Client(
                external_id=cid,
                first_name=cid.upper(),
                phone=f"+1305555020{n}",
                email=f"{cid}@example.com",
                timezone=tz,
                preferred_channel=preferred,  # type: ignore[arg-type]
                consent=Consent(sms_marketing=True),
            ),
            now,
        )
        store.upsert_session(
            Session(
                external_id=f"s-{cid}",
                client_external_id=cid,
                start=end - timedelta(hours=1),
                end=end,
                service="Neuromuscular therapy, 60 min",
                status="completed",
            ),
            client_id,
            now,
        )
    replan_all(store, clinic, now)
    store.close()


def test_run_once_live_sends_everything_due(prism: Prism, sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url)
    with smtp_server() as box:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")} | {
            "FOLLOWUP_DATABASE_URL": sqlite_url,
            "FOLLOWUP_DELIVERY": "live",
            "FOLLOWUP_WEB_PORT": "0",
            "FOLLOWUP_DIGEST_ENABLED": "false",  # what the seed made due, not the owner's Monday digest
            "FOLLOWUP_PUBLIC_BASE_URL": "https://followup.shoreline-nmt.example",
            "FOLLOWUP_SECRET_KEY": "a-long-random-test-key",
            "FOLLOWUP_TWILIO_ACCOUNT_SID": "AC" + "c3" * 16,
            "FOLLOWUP_TWILIO_AUTH_TOKEN": "test-auth-token",
            "FOLLOWUP_TWILIO_FROM": "+13055550100",
            "FOLLOWUP_TWILIO_API_URL": prism.url,
            "FOLLOWUP_TWILIO_MESSAGES_PER_SECOND": "20",
            "FOLLOWUP_SMTP_HOST": "127.0.0.1",
            "FOLLOWUP_SMTP_PORT": str(box.port),
            "FOLLOWUP_SMTP_TLS": "none",
            "FOLLOWUP_SMTP_FROM": "Shoreline NMT <hello@shoreline-nmt.example>",
        }
        result = subprocess.run(
            [sys.executable, "-m", "followup", "run", "--once", "--config", str(REPO / "config")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test-auth-token" not in result.stderr  # secrets never logged
    store = SqlStore.from_url(sqlite_url)
    rows = store.messages(MessageQuery(statuses=("sent",)))
    due_now = {(r.client_external_id, r.campaign) for r in rows}
    assert {
        ("a1", "post_session_care"),
        ("b1", "post_session_care"),
        ("a2", "rebook_nudge"),
        ("b2", "rebook_nudge"),
    } <= due_now, result.stderr[-3000:]
    assert not store.messages(MessageQuery(statuses=("failed", "unknown", "unconfirmed")))
    sms = [r for r in rows if r.sent_channel == "sms"]
    assert sms and all(r.provider_id and r.provider_id.startswith("SM") for r in sms)
    log = prism.violations()
    assert 'with "201"' in log and 'with "422"' not in log  # Prism: every request matched Twilio's spec
    # Every email arrived as text + HTML; marketing mail carries the one-click unsubscribe headers.
    emails = {m["To"]: m for m in box.received}
    assert set(emails) == {"b1@example.com", "b2@example.com"}
    for mail in emails.values():
        assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
        assert "1234 Collins Ave" in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    nudge, thanks = emails["b2@example.com"], emails["b1@example.com"]
    assert nudge["List-Unsubscribe"].startswith("<https://followup.shoreline-nmt.example/u/")
    assert "mailto:" in nudge["List-Unsubscribe"] and nudge["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert thanks["List-Unsubscribe"] is None
    store.close()
