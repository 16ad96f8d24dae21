"""Where the owner's files are: flags, then environment, then the working directory,
then the starter set bundled with the package (so followup runs out of the box)."""

from __future__ import annotations

import os
from pathlib import Path

from followup.exceptions import ConfigError, ConfigIssue

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # followup/


def starter_root() -> Path:
    """The shipped config/ and templates/: inside the wheel, or the source checkout."""
    bundled = PACKAGE_DIR / "_starter"
    if (bundled / "config").is_dir():
        return bundled
    return PACKAGE_DIR.parent


def resolve_dirs(config: Path | None, templates: Path | None, *, allow_starter: bool = False) -> tuple[Path, Path]:
    """Where the owner's config/ and templates/ are: the flag, then the environment variable,
    then the working directory (templates/ also beside config/).

    Finding none raises ConfigError saying where it looked: a command run from the wrong
    folder (a cron line without ``cd``) must not quietly use the starter set and a new
    empty database.  ``allow_starter`` (``run --sample-data``) falls back to the bundled
    starter set instead.
    """
    looked: list[str] = []
    if config is None:
        env = os.environ.get("FOLLOWUP_CONFIG_DIR")
        if env:
            config = Path(env)
        elif Path("config").is_dir():
            config = Path("config")
        elif allow_starter:
            config = starter_root() / "config"
        else:
            looked.append(f"--config, $FOLLOWUP_CONFIG_DIR (unset), {Path.cwd() / 'config'} (not found)")
    if templates is None and config is not None:
        env = os.environ.get("FOLLOWUP_TEMPLATES_DIR")
        if env:
            templates = Path(env)
        elif (config.parent / "templates").is_dir():
            templates = config.parent / "templates"
        elif Path("templates").is_dir():
            templates = Path("templates")
        elif allow_starter:
            templates = starter_root() / "templates"
        else:
            looked.append(
                f"--templates, $FOLLOWUP_TEMPLATES_DIR (unset), {config.parent / 'templates'}, "
                f"{Path.cwd() / 'templates'} (none found)"
            )
    if looked or config is None or templates is None:
        raise ConfigError(
            [
                ConfigIssue(
                    "config" if config is None else "templates",
                    None,
                    "",
                    "not found; looked at " + "; ".join(looked) + ". Run followup from the folder that holds "
                    "config/ and templates/ (cron: cd there first), pass --config, or create them with "
                    "`followup init DIR`",
                )
            ]
        )
    return config, templates


def shown_path(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter errors)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path
