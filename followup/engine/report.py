"""The report's numbers over a period, read from the store: one place for ``followup report``,
the owner dashboard and the weekly digest."""

from __future__ import annotations

from datetime import datetime, timedelta

from followup.core.report import OPT_OUT_WINDOW, Comparison, StepReport, build_report, campaign_comparisons
from followup.store.port import ReportStore


def gather(
    store: ReportStore, start: datetime, end: datetime, window: timedelta, price: float = 0.0
) -> tuple[list[StepReport], dict[str, Comparison]]:
    """The rows per campaign step over [``start``, ``end``) and the holdout comparison per
    marketing campaign.  ``window`` is the attribution window; ``price`` the cost of one SMS
    segment (USD).  Messages up to ``window`` (at least the 7-day opt-out window) after ``end``
    are read too, so that a later message takes the credit for a booking or a reply."""
    follow = max(window, OPT_OUT_WINDOW)
    facts, bookings, opt_outs, replies = store.report_facts(start, end, follow)
    steps = build_report(facts, bookings, opt_outs, replies, start, end, window=window, price_per_segment=price)
    return steps, campaign_comparisons(facts, bookings, start, end, window)
