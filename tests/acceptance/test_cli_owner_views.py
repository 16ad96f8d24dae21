"""``schedule`` and ``simulate`` as the owner reads them: overdue rows marked and counted, EDT
told from EST on the night the clocks go back, times inside reasons in words (ISO in JSON)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import REPO

CLIENTS = (
    "external_id,first_name,last_name,phone,email,timezone,language,preferred_channel,sms_marketing,email_marketing\n"
    "ny-1,Maria,Lopez,+1 305 555 0131,maria.ny1@example.com,America/New_York,en,sms,yes,yes\n"
    "ny-2,James,Carter,+1 305 555 0132,james.ny2@example.com,America/New_York,en,sms,yes,yes\n"
)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def followup(tmp: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env |= {
        "FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp / 'followup.db'}",
        "FOLLOWUP_OUTBOX_DIR": str(tmp / "outbox"),
        "FOLLOWUP_WEB_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "followup", *map(str, args), "--config", str(REPO / "config")],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_schedule_marks_overdue_messages_and_counts_them(tmp_path: Path) -> None:
    """A session that ended 5 hours ago: its thanks text was due 3 hours ago and no worker ran."""
    (tmp_path / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    assert followup(tmp_path, "import", "clients", tmp_path / "clients.csv").returncode == 0
    start = (datetime.now(UTC) - timedelta(hours=6, minutes=10)).replace(microsecond=0)
    added = followup(
        tmp_path, "sessions", "add", "s-1", "--client", "ny-1", "--start", start.isoformat(), "--service", "Swedish 60"
    )
    assert added.returncode == 0, added.stderr
    assert followup(tmp_path, "sessions", "complete", "s-1").returncode == 0

    table = followup(tmp_path, "schedule", "--days", "3")
    assert table.returncode == 0, table.stderr
    title = table.stdout.splitlines()[0]
    assert re.fullmatch(r"Scheduled in the next 3 days \(\d+, 1 overdue\)", title), title
    (thanks,) = [line for line in table.stdout.splitlines() if " thanks " in line]
    assert re.search(r"OVERDUE 3 h( \d+ min)?", thanks), thanks
    assert "1 overdue: due in the past and not sent yet" in table.stdout
    assert "followup run" in table.stdout
    later = [line for line in table.stdout.splitlines() if "next_day_check_in" in line]
    assert later and "OVERDUE" not in later[0]
    # The JSON is unchanged: ISO times, no words.
    entries = json.loads(followup(tmp_path, "schedule", "--days", "3", "--json").stdout)
    assert all(datetime.fromisoformat(e["due_at"]).tzinfo for e in entries)
    # Nothing overdue, nothing said.
    quiet = followup(tmp_path, "schedule", "--days", "3", "--client", "ny-2")
    assert quiet.returncode == 0 and "overdue" not in quiet.stdout.casefold(), quiet.stdout


def test_simulate_tells_the_two_130s_apart_and_writes_reasons_in_words(tmp_path: Path) -> None:
    """Two thanks texts due 2 h after sessions that ended at 23:30 EDT and 00:30 EDT: both at
    1:30 on the night the clocks go back, an hour apart (EDT, then EST); both expire before
    the send window opens."""
    (tmp_path / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    (tmp_path / "sessions.csv").write_text(
        "external_id,client,start,end,service,therapist,status\n"
        "late-1,ny-1,2026-10-31T22:30:00-04:00,2026-10-31T23:30:00-04:00,Swedish 60,Ana,completed\n"
        "late-2,ny-2,2026-10-31T23:30:00-04:00,2026-11-01T00:30:00-04:00,Swedish 60,Ana,completed\n",
        encoding="utf-8",
    )
    files: list[str | Path] = ["--clients", tmp_path / "clients.csv", "--sessions", tmp_path / "sessions.csv"]
    args: list[str | Path] = ["simulate", "--start", "2026-10-31T20:00", "--days", "2", *files]

    data = json.loads(followup(tmp_path, *args, "--json").stdout)
    thanks = {m["client"]: m for m in data if m["step"] == "thanks"}
    assert thanks["ny-1"]["send_at"] == "2026-11-01T01:30:00-04:00"
    assert thanks["ny-2"]["send_at"] == "2026-11-01T01:30:00-05:00"
    assert thanks["ny-2"]["status"] == "expired"
    assert thanks["ny-2"]["reason"] == "not sent by 2026-11-01T07:30:00-05:00"  # JSON: ISO, for programs

    table = followup(tmp_path, *args)
    assert table.returncode == 0, table.stderr
    rows = {c: next(line for line in table.stdout.splitlines() if c in line and " thanks " in line) for c in thanks}
    assert "2026-11-01 01:30 EDT" in rows["ny-1"], rows
    assert "2026-11-01 01:30 EST" in rows["ny-2"], rows
    assert "not sent by Sun Nov 1, " in rows["ny-1"], rows
    assert "not sent by Sun Nov 1, 7:30 AM EST" in rows["ny-2"], rows
    assert not ISO.search(table.stdout), [line for line in table.stdout.splitlines() if ISO.search(line)]
    assert "from 2026-10-31 20:00 EDT" in table.stdout
