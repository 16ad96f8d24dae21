"""``followup check``: validate config and templates, and show what each SMS costs."""

from __future__ import annotations

import typer
from rich.table import Table

from followup.checker import CheckReport, SmsRow, run_check
from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, fail, load, out
from followup.core.sms_encoding import describe_char
from followup.exceptions import ConfigError, issues_text


def sms_table(report: CheckReport, limit: int) -> Table:
    """Per SMS template and language: the sample client's length range and segments, the
    worst case (segments and characters with worst-case data), the encoding of the costliest
    rendering, what forced UCS-2, and the same with the other ``[sms] accents`` choice."""
    table = Table(
        title=f"SMS templates (limit {limit} segments; worst case: long accented names, longest service and therapist)",
        title_justify="left",
    )
    right = ("chars", "segments", "worst case")
    columns = ("template", "lang", "chars", "encoding", "segments", "worst case", "forces UCS-2", "other accents")
    for column in (*columns, "campaigns"):
        table.add_column(column, justify="right" if column in right else "left")
    for (template, language), row in sorted(report.sms.items()):
        worst, typical = row.worst, row.typical
        if worst is None or typical is None:
            continue
        low, high = min(row.lengths), max(row.lengths)
        chars = str(high) if low == high else f"{low}-{high}"
        extreme = row.worst_case
        worst_case = f"{extreme.segments} ({extreme.length} chars)" if extreme else "-"
        table.add_row(
            template,
            language,
            chars,
            worst.encoding,
            str(typical.segments),
            worst_case,
            " ".join(describe_char(c) for c in worst.ucs2_chars) or "-",
            other_accents(row),
            ", ".join(row.campaigns),
        )
    return table


def other_accents(row: SmsRow) -> str:
    """What the text would cost with the other ``[sms] accents`` choice: ``keep: UCS-2 2 (3)``
    (encoding, the sample's segments, the worst case's); ``-`` for the first language."""
    typical, worst = row.other_typical, row.other_worst
    if row.other_strip is None or typical is None or worst is None:
        return "-"
    return f"{'strip' if row.other_strip else 'keep'}: {worst.encoding} {typical.segments} ({worst.segments})"


def command(config: ConfigOpt = None, templates: TemplatesOpt = None) -> None:
    """Check every config file and template; print the SMS segment table.

    Exits 0 when everything is valid; otherwise prints every error (file:line: key: what
    is wrong and what is allowed) and exits 1.

    Example: followup check --config config --templates templates
    """
    clinic = load(config, templates)
    live = clinic.settings.live_problems()
    if live:  # every missing setting by its variable, not the first one's traceback
        fail(ConfigError(live), "Live delivery (FOLLOWUP_DELIVERY=live) is missing settings")
    report = run_check(clinic)
    out.print(sms_table(report, clinic.settings.sms_max_segments))
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False)
    if not report.ok:
        err.print(f"[bold red]Check failed[/] ({len(report.issues)}):", markup=True)
        err.print(issues_text(report.issues), markup=False)
        raise typer.Exit(EXIT_INVALID)
    out.print(
        f"OK: {len(clinic.campaigns)} campaigns, {len(clinic.tips.tips)} tips, "
        f"{report.rendered} renderings checked ({clinic.config_dir}, {clinic.templates.root})"
    )


def register(app: typer.Typer) -> None:
    app.command("check")(command)
