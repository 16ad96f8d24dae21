"""The dry run's record is its files, not memory: a worker that runs for months holds no
list of what it wrote, and a message written before a crash is still found (lookup)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followup.channels.base import Outgoing
from followup.channels.dryrun import DryRunChannel

NOW = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)


def text(n: int) -> Outgoing:
    return Outgoing(
        message_id=n,
        key=f"k{n}",
        channel="sms",
        to="+13055550101",
        purpose="care",
        expires_at=NOW + timedelta(hours=1),
        client_external_id="c",
        campaign="aftercare",
        step="thanks",
        at=NOW,
        sms=f"Hola {n}",
        paced=True,
    )


def test_a_dry_run_keeps_no_sent_messages_in_memory_and_finds_them_in_its_files(tmp_path: Path) -> None:
    channel = DryRunChannel("sms", tmp_path)
    channel.open()
    try:
        for n in range(1, 201):
            channel.send(text(n))
    finally:
        channel.close()
    assert channel.sent == []  # nothing kept: the files are the record
    lines = (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["key"] for line in lines] == [f"k{n}" for n in range(1, 201)]
    restarted = DryRunChannel("sms", tmp_path)  # a new process after a crash
    found = restarted.lookup(text(137))
    assert found is not None and found.provider_id == "dryrun-sms-137"
    assert restarted.lookup(text(999)) is None
