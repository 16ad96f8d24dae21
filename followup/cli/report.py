"""``followup report``: what happened to each campaign step over a period, and did it work.

Counts per campaign and step (planned, sent, delivered, failed, expired, suppressed and
cancelled with their reasons, opt-outs within 7 days, replies), SMS segments and their
estimated cost, email bounces, bookings credited by last-touch attribution, the conversion
rate, and the holdout comparison with its 95 % confidence interval.  Every time is in the
clinic's zone and says which.  The logic is :mod:`followup.core.report`; this module reads the
store, prints and writes files.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.schedule import shown_time
from followup.core.report import (
    Comparison,
    StepReport,
)
from followup.engine import report
from followup.engine.worker import SystemClock
from followup.intake.dates import parse_date
from followup.store.port import ReportStore
from followup.timeutil import zone
from followup.wiring import open_store

DEFAULT_DAYS = 30
LEGEND = (
    "opt-outs: opted out within 7 days after; rebooked: bookings credited by last-touch attribution; "
    "conv.: conversion rate; held out: clients of the holdout group the campaign could have reached; "
    "bounces: email bounces"
)


@dataclass(frozen=True)
class Period:
    """[start, end) in the clinic's zone, and that zone's IANA name."""

    start: datetime
    end: datetime
    timezone: str

    def label(self) -> str:
        return f"{shown_time(self.start)} to {shown_time(self.end)} ({self.timezone})"


def _day(text: str, tz_name: str, option: str) -> datetime:
    """Midnight (clinic time) of a date written as the importer reads dates; a readable
    error (exit 1) otherwise."""
    try:
        day = parse_date(text)
    except ValueError as exc:
        err.print(f"{option}: {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    return datetime.combine(day, time(0), zone(tz_name))


def period(start: str | None, end: str | None, tz_name: str, now: datetime) -> Period:
    """``--from`` (midnight of that day) to ``--to`` (the end of that day: it is included);
    by default the last 30 days up to now."""
    tz = zone(tz_name)
    until = _day(end, tz_name, "--to") + timedelta(days=1) if end else now.astimezone(tz)
    since = _day(start, tz_name, "--from") if start else until - timedelta(days=DEFAULT_DAYS)
    if start and not end:
        until = max(until, since + timedelta(days=1))  # "--from today": today so far, not an error
    if since >= until:
        err.print(f"--from must come before --to ({shown_time(since)} is not before {shown_time(until)})")
        raise typer.Exit(EXIT_INVALID)
    return Period(since.astimezone(tz), until.astimezone(tz), tz_name)


def gather(
    store: ReportStore, when: Period, window: timedelta, price: float
) -> tuple[list[StepReport], dict[str, Comparison]]:
    """The report's rows and the per-campaign holdout comparisons over ``when``."""
    return report.gather(store, when.start, when.end, window, price)


def _flat(step: StepReport, when: Period) -> dict[str, object]:
    row = step.as_json()
    flat: dict[str, object] = {
        "from": when.start.isoformat(),
        "to": when.end.isoformat(),
        "timezone": when.timezone,
    }
    for key, value in row.items():
        if isinstance(value, dict):
            for reason, count in value.items():
                flat[f"{key.removesuffix('_by_reason')}: {reason}"] = count
        else:
            flat[key] = value
    return flat


def write_csv(directory: Path, steps: list[StepReport], campaigns: dict[str, Comparison], when: Period) -> list[Path]:
    """``steps.csv`` (one row per campaign step, reasons as columns) and ``campaigns.csv`` (the
    holdout comparison per marketing campaign) in ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [_flat(s, when) for s in steps]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    steps_path = directory / "steps.csv"
    with steps_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns or ["campaign", "step"])
        writer.writeheader()
        writer.writerows(rows)
    campaigns_path = directory / "campaigns.csv"
    with campaigns_path.open("w", newline="", encoding="utf-8") as f:
        plain = csv.writer(f)
        plain.writerow(
            [
                "campaign",
                "from",
                "to",
                "timezone",
                "reached_clients",
                "reached_rebooked",
                "holdout_clients",
                "holdout_rebooked",
                "difference",
                "ci_low",
                "ci_high",
                "conclusion",
            ]
        )
        for name, c in campaigns.items():
            plain.writerow(
                [
                    name,
                    when.start.isoformat(),
                    when.end.isoformat(),
                    when.timezone,
                    c.reached,
                    c.reached_rebooked,
                    c.held_out,
                    c.held_out_rebooked,
                    "" if c.difference is None else round(c.difference, 4),
                    "" if c.low is None else round(c.low, 4),
                    "" if c.high is None else round(c.high, 4),
                    c.sentence(),
                ]
            )
    return [steps_path, campaigns_path]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def _cells(s: StepReport) -> list[str]:
    """One step's row, in the column order of the table and the HTML page."""
    counts = (
        s.planned,
        s.sent,
        s.delivered,
        s.failed,
        s.expired,
        s.suppressed,
        s.cancelled,
        s.opted_out_after,
        s.replied,
        s.rebooked_attributed,
    )
    return [
        s.campaign,
        s.step,
        *map(str, counts),
        _rate(s.conversion_rate),
        str(s.comparison.held_out),
        str(s.sms_segments),
        f"{s.sms_cost:.2f}",
        str(s.email_bounces),
    ]


def print_table(steps: list[StepReport], campaigns: dict[str, Comparison], when: Period) -> None:
    table = Table(title=f"Report {when.label()}", title_justify="left", caption=LEGEND, caption_justify="left")
    table.add_column("campaign", no_wrap=True)
    table.add_column("step", no_wrap=True)
    for column in (
        "planned",
        "sent",
        "deliv.",
        "failed",
        "expired",
        "suppr.",
        "cancel.",
        "opt-outs",
        "replies",
        "rebooked",
        "conv.",
        "held out",
        "segments",
        "SMS cost",
        "bounces",
    ):
        table.add_column(column, justify="right")
    for s in steps:
        table.add_row(*_cells(s))
    out.print(table)
    if not steps:
        out.print("Nothing was planned or sent in this period.", markup=False)
    for s in steps:
        details = [
            f"failed: {_reasons(s.failed_by_reason)}" if s.failed else "",
            f"suppressed: {_reasons(s.suppressed_by_reason)}" if s.suppressed else "",
            f"cancelled: {_reasons(s.cancelled_by_reason)}" if s.cancelled else "",
        ]
        if any(details):
            out.print(f"{s.campaign}/{s.step}: " + "; ".join(d for d in details if d), markup=False)
    for name, c in campaigns.items():
        out.print(f"{name}: {c.sentence()}", markup=False)


def _svg(steps: list[StepReport]) -> str:
    """A horizontal bar chart, drawn here (no script, no CDN): per step, messages sent and
    bookings attributed."""
    bar_h, gap, label_w, width = 14, 10, 260, 720
    scale_max = max((s.sent for s in steps), default=0) or 1
    rows = []
    for i, s in enumerate(steps):
        y = 20 + i * (2 * bar_h + gap)
        sent_w = (width - label_w - 60) * s.sent / scale_max
        booked_w = (width - label_w - 60) * s.rebooked_attributed / scale_max
        name = html.escape(f"{s.campaign} / {s.step}")
        rows.append(
            f'<text x="0" y="{y + bar_h}" font-size="12">{name}</text>'
            f'<rect x="{label_w}" y="{y}" width="{sent_w:.1f}" height="{bar_h}" fill="#4a7fb5"/>'
            f'<text x="{label_w + sent_w + 4:.1f}" y="{y + bar_h - 2}" font-size="11">{s.sent} sent</text>'
            f'<rect x="{label_w}" y="{y + bar_h}" width="{booked_w:.1f}" height="{bar_h}" fill="#e08a3c"/>'
            f'<text x="{label_w + booked_w + 4:.1f}" y="{y + 2 * bar_h - 2}" font-size="11">'
            f"{s.rebooked_attributed} rebooked</text>"
        )
    height = 30 + len(steps) * (2 * bar_h + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Messages sent and bookings attributed per campaign step">{"".join(rows)}</svg>'
    )


def write_html(path: Path, steps: list[StepReport], campaigns: dict[str, Comparison], when: Period) -> None:
    """One self-contained HTML file: the table, the holdout sentences and an SVG chart."""
    head = [
        "campaign",
        "step",
        "planned",
        "sent",
        "delivered",
        "failed",
        "expired",
        "suppressed",
        "cancelled",
        "opted out (7d)",
        "replied",
        "rebooked (attributed)",
        "conversion",
        "held out",
        "SMS segments",
        "SMS cost",
        "email bounces",
    ]
    body_rows = []
    for s in steps:
        cells = _cells(s)
        body_rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    sentences = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(c.sentence())}</li>" for n, c in campaigns.items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>followup report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:nth-child(-n+2),th{{text-align:left}}</style>
</head><body>
<h1>What happened, and did it work</h1>
<p>{html.escape(when.label())}</p>
<table><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}</tr>{"".join(body_rows)}</table>
<h2>Holdout groups</h2><ul>{sentences or "<li>No marketing campaign sent anything in this period.</li>"}</ul>
<h2>Sent and rebooked</h2>{_svg(steps)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def command(
    start: Annotated[
        str | None, typer.Option("--from", help="First day (clinic's time), e.g. 2026-11-01; default 30 days ago.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included (clinic's time); default now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, one object per campaign step.")] = False,
    csv_dir: Annotated[
        Path | None, typer.Option("--csv", help="Also write steps.csv and campaigns.csv into this directory.")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write one self-contained HTML page with a chart.")
    ] = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Per campaign and step: planned, sent, delivered, failed, expired, suppressed, cancelled,
    opt-outs, replies, SMS cost, bookings attributed (last touch) and the holdout comparison.

    Example: followup report --from 2026-11-01 --to 2026-11-30 --csv reports/
    """
    clinic = load(config, templates)
    settings = clinic.settings
    when = period(start, end, settings.default_timezone, SystemClock().now())
    store = open_store(clinic)
    steps, campaigns = gather(store, when, settings.report_attribution_window, settings.sms_price_per_segment)
    try:
        if csv_dir is not None:
            for written in write_csv(csv_dir, steps, campaigns, when):
                err.print(f"wrote {written}", markup=False)
        if html_file is not None:
            write_html(html_file, steps, campaigns, when)
            err.print(f"wrote {html_file}", markup=False)
    except OSError as exc:
        err.print(f"cannot write {exc.filename or csv_dir or html_file}: {exc.strerror}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        rows = [
            {**s.as_json(), "from": when.start.isoformat(), "to": when.end.isoformat(), "timezone": when.timezone}
            for s in steps
        ]
        out.print_json(json.dumps(rows))
        return
    print_table(steps, campaigns, when)


def register(app: typer.Typer) -> None:
    app.command("report")(command)
