"""``followup init``: a starter config and template set for a new clinic to edit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from followup.cli.common import EXIT_INVALID, err, out
from followup.config.paths import starter_root


def command(
    directory: Annotated[Path, typer.Argument(help="Where to create config/ and templates/.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing config/ and templates/.")] = False,
) -> None:
    """Copy the starter config/ and templates/ into DIRECTORY.

    Edit config/followup.toml (your clinic's name, address, phone, booking link), then
    run `followup check --config DIRECTORY/config`.

    Example: followup init ~/my-clinic
    """
    source = starter_root()
    targets = [directory / "config", directory / "templates"]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        err.print(f"{', '.join(map(str, existing))} already exist(s); use --force to overwrite", markup=False)
        raise typer.Exit(EXIT_INVALID)
    directory.mkdir(parents=True, exist_ok=True)
    for target in targets:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source / target.name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "sample"))
    out.print(f"Created {targets[0]} and {targets[1]}.", markup=False)
    out.print(
        f"Next: edit {targets[0] / 'followup.toml'}, then run: followup check --config {targets[0]}", markup=False
    )


def register(app: typer.Typer) -> None:
    app.command("init")(command)
