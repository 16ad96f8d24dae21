"""Import presets: which column of a booking system's export holds which field.

Shipped presets live in ``presets.yaml`` beside this module (Square, Mindbody, Vagaro,
Acuity, MassageBook, Jane; each cites where its columns came from, see
``PRESETS_SOURCES.md``); an owner's own live in ``config/mappings.yaml`` in the same shape::

    my_system:
      clients:  {external_id: Client No, first_name: Given, phone: Cell}
      sessions: {external_id: Booking, client: Client No, start: When, service: What}
      status_values:  {Showed: completed}          # optional
      consent_values: {Opted-in: true}             # optional

With neither ``--map`` nor ``--mapping``, :func:`detect` picks the preset whose columns
the header holds (all of them; the one with most columns wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from followup.intake.mapping import CLIENT_FIELDS, SESSION_FIELDS, loose
from followup.intake.results import MappingError

Kind = Literal["clients", "sessions"]
SHIPPED_FILE = "presets.yaml"
_STATUSES = ("booked", "completed", "cancelled", "no_show")


@dataclass(frozen=True)
class Preset:
    """One system's columns for each kind of export, and the words it uses for status and consent."""

    name: str
    system: str = ""
    columns: Mapping[Kind, Mapping[str, str]] = field(default_factory=dict)  # kind -> field -> header
    status_values: Mapping[str, str] = field(default_factory=dict)  # export's word -> booked|completed|...
    consent_values: Mapping[str, bool] = field(default_factory=dict)
    source: str = ""

    def mapping(self, kind: Kind) -> dict[str, str]:
        return dict(self.columns.get(kind, {}))

    @property
    def label(self) -> str:
        return f"{self.name} ({self.system})" if self.system else self.name


def parse_presets(data: Any, where: str) -> dict[str, Preset]:
    """Presets from a loaded YAML document; a malformed one raises MappingError naming ``where``."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping of preset name to preset")
    out: dict[str, Preset] = {}
    for name, raw in data.items():
        if not isinstance(raw, dict):
            raise MappingError(f"{where}: {name}: expected clients: and/or sessions: column maps")
        columns: dict[Kind, Mapping[str, str]] = {}
        for kind, fields in (("clients", CLIENT_FIELDS), ("sessions", SESSION_FIELDS)):
            section = raw.get(kind) or {}
            if not isinstance(section, dict):
                raise MappingError(f"{where}: {name}.{kind}: expected field: Column pairs")
            unknown = [f for f in section if f not in fields]
            if unknown:
                raise MappingError(f"{where}: {name}.{kind}.{unknown[0]}: unknown field (allowed: {', '.join(fields)})")
            if section:
                columns[kind] = {str(k): str(v) for k, v in section.items()}  # type: ignore[index]
        statuses = {str(k): str(v) for k, v in (raw.get("status_values") or {}).items()}
        bad = [v for v in statuses.values() if v not in _STATUSES]
        if bad:
            raise MappingError(f"{where}: {name}.status_values: {bad[0]!r} (allowed: {', '.join(_STATUSES)})")
        consent = {str(k): bool(v) for k, v in (raw.get("consent_values") or {}).items()}
        out[str(name)] = Preset(
            name=str(name),
            system=str(raw.get("system", "")),
            columns=columns,
            status_values=statuses,
            consent_values=consent,
            source=str(raw.get("source", "")),
        )
    return out


def shipped_presets() -> dict[str, Preset]:
    """The presets that come with followup (``followup/intake/presets.yaml``)."""
    text = resources.files("followup.intake").joinpath(SHIPPED_FILE).read_text(encoding="utf-8")
    return parse_presets(yaml.safe_load(text), f"followup/intake/{SHIPPED_FILE}")


OWNER_FILE = "mappings.yaml"


def owner_presets(config_dir: Path) -> dict[str, Preset]:
    """The owner's presets from ``config/mappings.yaml`` (none when the file is absent).

    Raises MappingError naming the file (and the line, for a YAML syntax error).
    """
    path = config_dir / OWNER_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise MappingError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return parse_presets(data, str(path))


def detect(header: Sequence[str], kind: Kind, presets: Sequence[Preset]) -> Preset | None:
    """The preset all of whose ``kind`` columns are in ``header``; the most specific (most columns)
    wins, so a preset never matches on two shared columns alone (it needs at least three).

    Two systems whose exports have the same columns (Vagaro's and MassageBook's client
    lists) read the same way: the result names both and knows both status vocabularies.
    """
    present = {loose(h) for h in header if h}
    scored: list[tuple[int, Preset]] = []
    for preset in presets:
        wanted = {loose(column) for column in preset.columns.get(kind, {}).values()}
        if len(wanted) >= 3 and wanted <= present:
            scored.append((len(wanted), preset))
    if not scored:
        return None
    top = max(score for score, _ in scored)
    tied = [preset for score, preset in scored if score == top]
    if len(tied) == 1:
        return tied[0]
    first = tied[0]
    return Preset(
        name=" or ".join(p.name for p in tied),
        columns={kind: first.mapping(kind)},
        status_values={k: v for p in reversed(tied) for k, v in p.status_values.items()},
        consent_values={k: v for p in reversed(tied) for k, v in p.consent_values.items()},
    )
