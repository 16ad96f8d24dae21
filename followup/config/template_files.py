"""Where the owner's message templates are on disk, and which exist (no rendering here).

Layout, one folder per template::

    templates/<name>/sms.j2             SMS body
    templates/<name>/subject.j2         email subject (one line)
    templates/<name>/email.txt.j2       email plain-text body
    templates/<name>/email.html.j2      email HTML body (optional: made from the text)
    templates/<name>/<lang>/<file>      a language variant of any of those (e.g. es/sms.j2)
    templates/_layouts/...              what wraps every message (footer, address, unsubscribe)

:class:`followup.rendering.templates.TemplateSet` renders them; this module only answers
"is it there?" so that loading the configuration needs no template engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Part = Literal["sms", "subject", "text", "html"]
PART_FILES: dict[Part, str] = {
    "sms": "sms.j2",
    "subject": "subject.j2",
    "text": "email.txt.j2",
    "html": "email.html.j2",
}
LAYOUT_DIR = "_layouts"
LAYOUT_FILES: dict[str, str] = {"sms": "sms.j2", "text": "email.txt.j2", "html": "email.html.j2"}
REQUIRED_PARTS: dict[str, tuple[Part, ...]] = {"sms": ("sms",), "email": ("subject", "text")}


@dataclass(frozen=True)
class TemplateFiles:
    """The templates folder; ``smart_encoding`` says whether SMS text is made GSM-7 where it can be."""

    root: Path
    smart_encoding: bool = True

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(("_", ".")) and any((p / f).exists() for f in PART_FILES.values())
        )

    def has(self, name: str, part: Part) -> bool:
        return (self.root / name / PART_FILES[part]).is_file()

    def missing_parts(self, name: str, channel: str) -> list[str]:
        return [PART_FILES[p] for p in REQUIRED_PARTS[channel] if not self.has(name, p)]

    def pick(self, folder: str, filename: str, language: str) -> str:
        """The language variant when there is one, else the default file (a loader-relative name)."""
        localized = f"{folder}/{language}/{filename}"
        if (self.root / localized).is_file():
            return localized
        return f"{folder}/{filename}"

    def path_of(self, name: str, part: Part, language: str = "") -> Path:
        return self.root / self.pick(name, PART_FILES[part], language)
