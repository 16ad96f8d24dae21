"""Options and error handling shared by the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from followup.config.loader import ClinicConfig, load_clinic
from followup.config.paths import resolve_dirs
from followup.exceptions import ConfigError, issues_text

# emoji=False: rich reads ":100:" in "clients.csv:100: Phone: ..." as an emoji code (💯), and data too.
# Wide when piped (rich would assume 80 columns and truncate the tables).
out = Console(highlight=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config directory (default: $FOLLOWUP_CONFIG_DIR, else ./config)."),
]
TemplatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--templates",
        "-t",
        help="Templates directory (default: $FOLLOWUP_TEMPLATES_DIR, templates/ beside the config, ./templates).",
    ),
]

EXIT_INVALID = 1


def fail(error: ConfigError, headline: str = "Configuration has errors") -> NoReturn:
    err.print(f"[bold red]{headline}[/] ({len(error.issues)}):", markup=True)
    err.print(issues_text(error.issues), markup=False)
    raise typer.Exit(EXIT_INVALID)


def load(config: Path | None, templates: Path | None, *, allow_starter: bool = False) -> ClinicConfig:
    try:
        config_dir, templates_dir = resolve_dirs(config, templates, allow_starter=allow_starter)
        return load_clinic(config_dir, templates_dir)
    except ConfigError as exc:
        fail(exc)
