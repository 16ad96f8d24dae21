"""``followup check``: render every template against sample data and measure every SMS.

Loading (see :mod:`followup.config.loader`) finds what is wrong with the files
themselves; rendering finds what only shows when a template meets data (an undefined
variable, a filter misuse) and what an SMS will cost.  Every SMS step is also rendered
with worst-case data (:func:`followup.rendering.examples.worst_case_client`: long
accented names, the longest sample service and therapist, a client in another zone so
times name the clinic's zone, the two longest focus areas), and the maximum segment
count per template is what must stay within ``[sms] max_segments``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import time

from followup.config.loader import ClinicConfig, translation_issues
from followup.core.campaigns import Campaign
from followup.core.domain import ChannelName, Client, Session
from followup.core.sms_encoding import SmsInfo, analyse, strip_accents
from followup.core.tips import Tip
from followup.exceptions import ConfigIssue, TemplateRenderError
from followup.rendering.compose import compose
from followup.rendering.examples import (
    SAMPLE_NOW,
    sample_client,
    sample_dates,
    sample_session,
    worst_case_client,
    worst_case_session,
)


def _costlier(info: SmsInfo, than: SmsInfo | None) -> bool:
    return than is None or (info.segments, info.units) > (than.segments, than.units)


@dataclass
class SmsRow:
    """One SMS template in one language: the costliest rendering with the sample client
    (``typical``, lengths in ``lengths``), with worst-case data (``worst_case``), and of
    all (``worst``: what ``[sms] max_segments`` is checked against)."""

    template: str
    language: str
    campaigns: list[str]
    lengths: list[int] = field(default_factory=list)
    worst: SmsInfo | None = None
    typical: SmsInfo | None = None
    worst_case: SmsInfo | None = None
    # The same texts with the other ``[sms] accents`` choice (``strip`` then means "as if
    # stripped"): what keeping or stripping accents would cost, shown beside, never checked.
    other_strip: bool | None = None
    other_typical: SmsInfo | None = None
    other_worst: SmsInfo | None = None

    def add_other(self, info: SmsInfo, *, worst_case: bool = False) -> None:
        if not worst_case and _costlier(info, self.other_typical):
            self.other_typical = info
        if _costlier(info, self.other_worst):
            self.other_worst = info

    def add(self, info: SmsInfo, *, worst_case: bool = False) -> None:
        if worst_case:
            if _costlier(info, self.worst_case):
                self.worst_case = info
        else:
            self.lengths.append(info.length)
            if _costlier(info, self.typical):
                self.typical = info
        if _costlier(info, self.worst):
            self.worst = info

    @property
    def max_segments(self) -> int:
        return self.worst.segments if self.worst else 0


@dataclass
class CheckReport:
    issues: list[ConfigIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sms: dict[tuple[str, str], SmsRow] = field(default_factory=dict)
    rendered: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues


def step_channels(campaign: Campaign, index: int) -> list[ChannelName]:
    step = campaign.steps[index]
    if step.channel == "sms":
        return ["sms", "email"] if step.fallback_to_email else ["sms"]
    if step.channel == "email":
        return ["email"]
    return ["sms", "email"]


def _tips_for(clinic: ClinicConfig, campaign: Campaign, index: int) -> list[Tip | None]:
    step = campaign.steps[index]
    if step.tip is None:
        return [None]
    return list(clinic.tips.in_categories(step.tip.categories)) or [None]


def _longest_focus(clinic: ClinicConfig, count: int = 2) -> tuple[str, ...]:
    """The ``count`` focus areas with the longest labels (sample sessions have up to two)."""
    areas = sorted(clinic.tips.focus_areas.items(), key=lambda item: (-len(item[1]), item[0]))
    return tuple(area for area, _ in areas[:count])


def _samples(
    clinic: ClinicConfig, campaign: Campaign, index: int
) -> Iterator[tuple[str, ChannelName, Tip | None, Client, Session, bool]]:
    """What to render a step with: every configured language (its clients see its dates even
    without a template variant), every channel, every tip the step may pick, and session
    dates on every weekday and month (day and month names differ in length); then, for SMS,
    the same with the worst-case client and session."""
    tips = _tips_for(clinic, campaign, index)
    dates = sample_dates()
    clinic_tz = clinic.settings.default_timezone
    focus = _longest_focus(clinic)
    for language in clinic.settings.languages:
        client = sample_client(language)
        worst = worst_case_client(language, clinic_tz)
        for channel in step_channels(campaign, index):
            for i in range(max(len(tips), len(dates))):
                tip, day = tips[i % len(tips)], dates[i % len(dates)]
                yield language, channel, tip, client, sample_session(client, day, time(10, 30)), False
                if channel == "sms":
                    yield language, channel, tip, worst, worst_case_session(worst, clinic_tz, focus, day), True


def run_check(clinic: ClinicConfig) -> CheckReport:
    report = CheckReport()
    seen_issues: set[str] = set()
    limit = clinic.settings.sms_max_segments

    def record(issue: ConfigIssue, key: str | None = None) -> None:
        # One template error shows in many renderings; report it once, with the first context.
        key = key or str(issue)
        if key not in seen_issues:
            seen_issues.add(key)
            report.issues.append(issue)

    for issue in clinic.settings.live_problems():
        record(issue)

    used: set[str] = set()
    for name, campaign in sorted(clinic.campaigns.items()):
        for index, step in enumerate(campaign.steps):
            used.add(step.template)
            for language, channel, tip, client, session, worst_case in _samples(clinic, campaign, index):
                try:
                    composed = compose(
                        clinic,
                        client=client,
                        session=session,
                        visit_count=3,
                        campaign_name=name,
                        step_index=index,
                        channel=channel,
                        now=SAMPLE_NOW,
                        tip=tip,
                    )
                except TemplateRenderError as exc:
                    where = f"rendering {name}.{campaign.step_name(index)} as {channel}, language {language}"
                    record(replace(exc.issue, message=f"{exc.issue.message} ({where})"), str(exc.issue))
                    continue
                report.rendered += 1
                if composed.sms is not None:
                    row = report.sms.setdefault((step.template, language), SmsRow(step.template, language, []))
                    if name not in row.campaigns:
                        row.campaigns.append(name)
                    row.add(analyse(composed.sms), worst_case=worst_case)
                    if language != clinic.settings.languages[0]:
                        # The price of the other [sms] accents choice, for the owner to weigh.
                        other = not clinic.settings.strip_accents(language)
                        again = compose(
                            clinic,
                            client=client,
                            session=session,
                            visit_count=3,
                            campaign_name=name,
                            step_index=index,
                            channel=channel,
                            now=SAMPLE_NOW,
                            tip=tip,
                            strip_accents=other,
                        )
                        assert again.sms is not None
                        row.other_strip = other
                        row.add_other(analyse(again.sms), worst_case=worst_case)

    by_cost = sorted(report.sms.values(), key=lambda r: -r.max_segments)
    for row in by_cost:
        template, language, worst = row.template, row.language, row.worst
        if worst is not None and worst.segments > limit:
            path = clinic.templates.path_of(template, "sms", language)
            data = " with worst-case data (long names, service and therapist)" if worst is row.worst_case else ""
            record(
                ConfigIssue(
                    path,
                    None,
                    "",
                    f"renders to {worst.segments} SMS segments ({worst.units} {worst.encoding} units){data}, "
                    f"over the limit of {limit} ([sms] max_segments in followup.toml)" + _accents_note(clinic, row),
                ),
                str(path),  # once per file: the worst language is shown first (sorted by segments below)
            )

    for issue in missing_translations(clinic):
        record(issue)
    for template in clinic.templates.names():
        if template not in used:
            report.warnings.append(f"template {template!r} is not used by any campaign")
    for language in clinic.settings.languages:
        for tip in clinic.tips.tips:
            text = clinic.tips.localized(tip, language).sms.strip()
            info = analyse(strip_accents(text) if clinic.settings.strip_accents(language) else text)
            if info.segments > 1 or info.encoding != "GSM-7":
                extra = f", forced by {', '.join(info.ucs2_chars)}" if info.ucs2_chars else ""
                report.warnings.append(
                    f"tip {tip.id!r} ({language}): SMS text is {info.segments} {info.encoding} segment(s){extra}"
                )
    return report


def _accents_note(clinic: ClinicConfig, row: SmsRow) -> str:
    """Why a Spanish (or other) SMS is over the limit when ``[sms] accents`` keeps accents: they
    make it UCS-2, and what ``strip`` would cost."""
    worst, other = row.worst, row.other_worst
    if worst is None or worst.encoding != "UCS-2" or clinic.settings.strip_accents(row.language):
        return ""
    forced = f" ({', '.join(worst.ucs2_chars)})" if worst.ucs2_chars else ""
    note = (
        f"; [sms] accents = keep for {row.language!r} keeps accented letters{forced}, which makes it "
        "UCS-2: 70 characters a segment (67 when split) instead of GSM-7's 160 (153)"
    )
    if row.other_strip and other is not None:
        note += f"; with accents = strip it would be {other.encoding}, {other.segments} segment(s)"
    return note


def missing_translations(clinic: ClinicConfig) -> list[ConfigIssue]:
    """Every configured language but the first needs its own version of every template file,
    layout and tip (see :func:`followup.config.loader.translation_issues`)."""
    return translation_issues(clinic.settings.languages, clinic.templates, clinic.config_dir, clinic.tips)
