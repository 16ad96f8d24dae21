"""``followup check``: validate config and templates, and show what each SMS costs."""

from __future__ import annotations

import typer
from rich.table import Table

from followup.checker import CheckReport, run_check
from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.core.sms_encoding import describe_char
from followup.exceptions import issues_text


def sms_table(report: CheckReport, limit: int) -> Table:
    table = Table(title=f"SMS templates (limit {limit} segments)", title_justify="left")
    for column in ("template", "lang", "chars", "encoding", "segments", "forces UCS-2", "campaigns"):
        table.add_column(column, justify="right" if column in ("chars", "segments") else "left")
    for (template, language), row in sorted(report.sms.items()):
        worst = row.worst
        if worst is None:
            continue
        low, high = min(row.lengths), max(row.lengths)
        chars = str(high) if low == high else f"{low}-{high}"
        table.add_row(
            template,
            language,
            chars,
            worst.encoding,
            str(worst.segments),
            " ".join(describe_char(c) for c in worst.ucs2_chars) or "-",
            ", ".join(row.campaigns),
        )
    return table


def command(config: ConfigOpt = None, templates: TemplatesOpt = None) -> None:
    """Check every config file and template; print the SMS segment table.

    Exits 0 when everything is valid; otherwise prints every error (file:line: key: what
    is wrong and what is allowed) and exits 1.

    Example: followup check --config config --templates templates
    """
    clinic = load(config, templates)
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
