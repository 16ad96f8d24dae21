"""The dashboard's chart, drawn on the server as SVG: no script, nothing loaded from the web.

Pure functions: counts in, markup out (every label escaped).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# Stacking order (bottom first) and colours; colour is never the only cue: every bar has a
# <title> naming day, status and count, and the page has the same numbers as a table.
STATUS_COLOURS: dict[str, str] = {
    "sent": "#2e7d32",
    "scheduled": "#4a7fb5",
    "failed": "#c62828",
    "expired": "#8d6e63",
    "suppressed": "#f9a825",
    "cancelled": "#9e9e9e",
    "other": "#6a1b9a",  # sending, unknown, unconfirmed: in flight or unsure
}


def status_group(status: str) -> str:
    """The chart's series for an outbox status (``sending``/``unknown``/``unconfirmed`` -> other)."""
    return status if status in STATUS_COLOURS else "other"


def per_day(
    moments: Iterable[tuple[datetime, str]], first: date, days: int, tz: ZoneInfo
) -> tuple[list[date], dict[str, list[int]]]:
    """Counts per day (in ``tz``) from ``first`` for ``days`` days, per series of
    :data:`STATUS_COLOURS`: ``(days, {series: [count per day]})``; moments outside are left out."""
    axis = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(axis)}
    counts = {name: [0] * days for name in STATUS_COLOURS}
    for at, status in moments:
        i = index.get(at.astimezone(tz).date())
        if i is not None:
            counts[status_group(status)][i] += 1
    return axis, counts


def stacked_bars(axis: Sequence[date], counts: dict[str, list[int]], *, title: str) -> str:
    """An SVG stacked bar chart, one bar per day, 760x260 user units, scaled to its container."""
    width, height, left, bottom, top = 760, 260, 40, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    totals = [sum(series[i] for series in counts.values()) for i in range(len(axis))]
    peak = max(totals, default=0) or 1
    slot = plot_w / max(len(axis), 1)
    bar_w = max(slot * 0.75, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" class="chart" preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart-title">{html.escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#444"/>',
        f'<text x="{left - 6}" y="{top + 12}" font-size="13" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="13" text-anchor="end">0</text>',
    ]
    for i, day in enumerate(axis):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = top + plot_h
        for name, series in counts.items():
            value = series[i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            label = html.escape(f"{day.isoformat()}: {value} {name}")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{STATUS_COLOURS[name]}" data-status="{name}" data-count="{value}"><title>{label}</title></rect>'
            )
        last = len(axis) - 1
        # A date a week apart, counted back from the last day (today), so labels never collide.
        if (last - i) % 7 == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 18}" font-size="13" text-anchor="middle">'
                f"{day:%b %d}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
