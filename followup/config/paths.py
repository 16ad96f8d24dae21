"""Where the owner's files are: flags, then environment, then the working directory,
then the starter set bundled with the package (so followup runs out of the box)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # followup/


def starter_root() -> Path:
    """The shipped config/ and templates/: inside the wheel, or the source checkout."""
    bundled = PACKAGE_DIR / "_starter"
    if (bundled / "config").is_dir():
        return bundled
    return PACKAGE_DIR.parent


def resolve_dirs(config: Path | None, templates: Path | None) -> tuple[Path, Path]:
    if config is None:
        env = os.environ.get("FOLLOWUP_CONFIG_DIR")
        if env:
            config = Path(env)
        elif Path("config").is_dir():
            config = Path("config")
        else:
            config = starter_root() / "config"
    if templates is None:
        env = os.environ.get("FOLLOWUP_TEMPLATES_DIR")
        if env:
            templates = Path(env)
        elif (config.parent / "templates").is_dir():
            templates = config.parent / "templates"
        elif Path("templates").is_dir():
            templates = Path("templates")
        else:
            templates = starter_root() / "templates"
    return config, templates


def shown_path(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter errors)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path
