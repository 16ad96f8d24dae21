"""Issue 14 as the owner runs it: ``followup report``, ``replies``, ``consent export``, and a
campaign's holdout seen through ``simulate`` (the CLI as a subprocess)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followup.store.sql import SqlStore
from followup.timeutil import zone
from tests.acceptance.test_cli_engine import env_for
from tests.conftest import REPO
from tests.report_history import PERIOD, T0, build

REPORT_KEYS = {
    "campaign",
    "step",
    "planned",
    "sent",
    "delivered",
    "failed",
    "expired",
    "suppressed",
    "cancelled",
    "opted_out_after",
    "replied",
    "rebooked_attributed",
    "conversion_rate",
    "holdout_clients",
    "holdout_rebooked",
}


def run(tmp: Path, *args: str | Path, config: Path = REPO / "config") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followup", *map(str, args), "--config", str(config)],
        cwd=tmp,
        env=env_for(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def history(tmp: Path, **sizes: int) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp / 'followup.db'}")
    store.upgrade()
    build(store, **sizes)
    store.close()


def report_json(tmp: Path) -> list[dict[str, object]]:
    result = run(tmp, "report", "--from", PERIOD[0], "--to", PERIOD[1], "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_report_json_keys_and_counts_on_a_constructed_history(tmp_path: Path) -> None:
    history(tmp_path, reached=4, reached_rebooked=2, held=2, held_rebooked=1)
    [row] = report_json(tmp_path)
    assert set(row) >= REPORT_KEYS
    assert (row["campaign"], row["step"]) == ("rebook_nudge", "first_nudge")
    assert (row["planned"], row["sent"], row["delivered"], row["failed"], row["expired"]) == (10, 5, 2, 1, 1)
    assert (row["suppressed"], row["cancelled"], row["opted_out_after"], row["replied"]) == (2, 1, 1, 1)
    assert (row["rebooked_attributed"], row["conversion_rate"]) == (2, 0.4)
    assert (row["holdout_clients"], row["holdout_rebooked"]) == (2, 1)
    assert row["timezone"] == "America/New_York"
    assert str(row["from"]).startswith("2026-11-01T00:00:00-04:00")  # the clinic's midnight, EDT
    assert str(row["to"]).startswith("2026-12-01T00:00:00-05:00")  # --to's day is included; EST by then
    assert row["sms_cost"] == round(5 * 0.0083, 4)  # the default [sms] price_per_segment


def test_report_table_csv_and_html(tmp_path: Path) -> None:
    history(tmp_path)
    out_dir, page = tmp_path / "csv", tmp_path / "report.html"
    result = run(tmp_path, "report", "--from", PERIOD[0], "--to", PERIOD[1], "--csv", out_dir, "--html", page)
    assert result.returncode == 0, result.stderr
    assert "2026-11-01 00:00 ET to 2026-12-01 00:00 ET (America/New_York)" in result.stdout
    assert "rebook_nudge" in result.stdout and "Too few clients to conclude" in result.stdout
    with (out_dir / "steps.csv").open() as f:
        [step] = list(csv.DictReader(f))
    assert step["campaign"] == "rebook_nudge" and step["sent"] == "5" and step["suppressed: consent"] == "1"
    assert step["timezone"] == "America/New_York"
    with (out_dir / "campaigns.csv").open() as f:
        [campaign] = list(csv.DictReader(f))
    assert campaign["campaign"] == "rebook_nudge" and campaign["holdout_clients"] == "2"
    text = page.read_text()
    assert "<svg" in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in text


def test_when_nudged_clients_rebook_more_the_report_says_so(tmp_path: Path) -> None:
    history(tmp_path, reached=150, reached_rebooked=60, held=150, held_rebooked=15)
    [row] = report_json(tmp_path)
    assert (row["holdout_clients"], row["holdout_rebooked"]) == (150, 15)
    # Reached: the 150 plus the history's client who replied and opted out (no booking).
    assert (row["reached_clients"], row["reached_rebooked"]) == (151, 60)
    assert row["difference"] == round(60 / 151 - 15 / 150, 4)
    assert isinstance(row["ci_low"], float) and isinstance(row["ci_high"], float)
    assert 0 < row["ci_low"] < 0.3 < row["ci_high"]
    assert str(row["conclusion"]).startswith("It works: 40% of reached clients rebooked, 10% of held-out ones")


def test_on_ten_clients_the_report_says_the_data_is_too_small(tmp_path: Path) -> None:
    history(tmp_path, reached=5, reached_rebooked=4, held=5, held_rebooked=0)
    [row] = report_json(tmp_path)
    assert str(row["conclusion"]).startswith("Too few clients to conclude")


def test_a_bad_date_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run(tmp_path, "report", "--from", "the first of never")
    assert result.returncode == 1
    assert "--from" in result.stderr and "Traceback" not in result.stderr


def test_from_today_without_to_reports_today_so_far(tmp_path: Path) -> None:
    today = datetime.now(UTC).astimezone(zone("America/New_York")).date()
    result = run(tmp_path, "report", "--from", today.isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)  # was: "--from must come before --to", exit 1


def test_replies_list_and_handle(tmp_path: Path) -> None:
    history(tmp_path)
    listed = run(tmp_path, "replies")
    assert listed.returncode == 0, listed.stderr
    assert "Ana3000 Diaz (x-stop)" in listed.stdout and "'Who is this?'" in listed.stdout
    assert "answering message" in listed.stdout and "rebook_nudge/first_nudge" in listed.stdout
    assert " ET " in listed.stdout  # times in the clinic's zone, labelled
    replies = json.loads(run(tmp_path, "replies", "--json").stdout)
    mine = next(r for r in replies if r["client"] == "x-stop")
    assert mine["answered"]["campaign"] == "rebook_nudge" and mine["timezone"] == "America/New_York"
    assert mine["received_at"] == (T0 + timedelta(hours=1)).isoformat()
    handled = run(tmp_path, "replies", "handle", str(mine["id"]))
    assert handled.returncode == 0 and "marked handled" in handled.stdout
    unhandled = json.loads(run(tmp_path, "replies", "--unhandled", "--json").stdout)
    assert [r["text"] for r in unhandled] == ["Wrong number"]
    missing = run(tmp_path, "replies", "handle", "9999")
    assert missing.returncode == 1 and "no reply #9999" in missing.stderr and "Traceback" not in missing.stderr


def test_consent_export_columns(tmp_path: Path) -> None:
    history(tmp_path)
    target = tmp_path / "consent.csv"
    result = run(tmp_path, "consent", "export", target)
    assert result.returncode == 0, result.stderr
    with target.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["client", "channel", "purpose", "action", "source", "wording", "time", "timezone"]
    stop = next(r for r in rows if r["client"] == "x-stop" and r["action"] == "opt_out")
    assert (stop["channel"], stop["purpose"], stop["source"], stop["wording"]) == ("sms", "all", "keyword", "STOP")
    assert stop["time"] == (T0 + timedelta(days=2)).isoformat()


def _clinic_with_holdout(tmp: Path, share: str) -> Path:
    config = tmp / "config"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", tmp / "templates")
    text = (config / "campaigns.yaml").read_text()
    marker = "self_care_tips:\n"
    assert marker in text
    text = text.replace(marker, f"{marker}  holdout: {share}\n", 1)
    (config / "campaigns.yaml").write_text(text)
    return config


def _clients_and_sessions(tmp: Path, n: int) -> tuple[Path, Path]:
    clients, sessions = tmp / "clients.csv", tmp / "sessions.csv"
    with clients.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "first_name", "phone", "timezone", "preferred_channel", "sms_marketing"])
        for i in range(n):
            w.writerow([f"c-{i:03d}", f"Ana{i}", f"+1305555{i:04d}", "America/New_York", "sms", "yes"])
    with sessions.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "client", "start", "end", "service", "status"])
        for i in range(n):
            w.writerow(
                [
                    f"s-{i:03d}",
                    f"c-{i:03d}",
                    "2026-11-02T10:00:00-05:00",
                    "2026-11-02T11:00:00-05:00",
                    "NMT 60",
                    "booked",
                ]
            )
    return clients, sessions


def test_holdout_of_half_the_clients_is_the_same_half_every_time(tmp_path: Path) -> None:
    config = _clinic_with_holdout(tmp_path, "50%")
    assert run(tmp_path, "check", config=config).returncode == 0
    clients, sessions = _clients_and_sessions(tmp_path, 80)
    args = ("simulate", "--json", "--start", "2026-11-01T12:00:00-05:00", "--days", "10")
    held_sets = []
    for _ in range(2):
        result = run(tmp_path, *args, "--clients", clients, "--sessions", sessions, config=config)
        assert result.returncode == 0, result.stderr
        messages = json.loads(result.stdout)
        tips = [m for m in messages if m["campaign"] == "self_care_tips"]
        held = {m["client"] for m in tips if m["status"] == "cancelled" and m["reason"] == "held out"}
        reached = {m["client"] for m in tips if m["status"] == "sent"}
        assert reached and not held & reached  # a held-out client gets nothing from the campaign
        assert 0.3 < len(held) / 80 < 0.7
        # ... and still gets care messages.
        care = {m["client"] for m in messages if m["campaign"] == "post_session_care" and m["status"] == "sent"}
        assert held <= care
        held_sets.append(held)
    assert held_sets[0] == held_sets[1]


def test_the_html_report_opens_in_a_real_browser_with_its_chart(tmp_path: Path) -> None:
    """``report --html`` in Debian's chromium (Playwright, the system executable), offline:
    the page is self-contained, so the chart draws with no network at all."""
    from tests.integration.test_admin import ARTIFACTS, CHROMIUM, _chromium_or_skip

    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    history(tmp_path, reached=40, reached_rebooked=12, held=40, held_rebooked=4)
    page_file = tmp_path / "report.html"
    result = run(tmp_path, "report", "--from", PERIOD[0], "--to", PERIOD[1], "--html", page_file)
    assert result.returncode == 0, result.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-html.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.goto(page_file.as_uri())
            chart = page.locator("svg[role=img]")
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 10
            assert page.locator("svg[role=img] rect").count() >= 2  # sent and rebooked bars
            assert "rebook_nudge" in page.inner_text("body")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 0


def test_replies_show_the_sms_answered_as_one_line(tmp_path: Path) -> None:
    from tests.integration.test_report import _email_after_the_sms

    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'followup.db'}")
    store.upgrade()
    built = build(store)
    _email_after_the_sms(store, built.client_ids["x-stop"])
    store.close()
    listed = run(tmp_path, "replies")
    assert listed.returncode == 0, listed.stderr
    [answering] = [line for line in listed.stdout.splitlines() if "answering message" in line]
    assert "rebook_nudge/first_nudge" in answering and "post_session_care" not in listed.stdout
    assert "'Hi Ana, it has been two weeks: book your next session at example.com/book. Repl…'" in answering
    assert "Drink water" not in listed.stdout
