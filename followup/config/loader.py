"""Load ``config/`` and ``templates/`` into one validated :class:`ClinicConfig`.

Every problem found is collected (not just the first) as a :class:`ConfigIssue` that
names file, line and key path and says what is allowed; if there is any, loading
raises :class:`ConfigError` with all of them.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from followup.config.paths import shown_path
from followup.config.settings import Settings, load_settings
from followup.config.template_files import LAYOUT_DIR, LAYOUT_FILES, PART_FILES, Part, TemplateFiles
from followup.config.yamlfile import KeyPath, YamlDocument, format_key_path, load_yaml
from followup.core.campaigns import NAME_RE, RESERVED_NAMES, Campaign
from followup.core.tips import TipLibrary, TipTranslation
from followup.exceptions import ConfigError, ConfigIssue

CAMPAIGNS_FILE = "campaigns.yaml"
CAMPAIGNS_DIR = "campaigns"
TIPS_FILE = "tips.yaml"
TIPS_TRANSLATION_GLOB = "tips.*.yaml"  # tips.es.yaml: the library in Spanish, by tip id


def tips_translation_file(config_dir: Path, language: str) -> Path:
    return config_dir / f"tips.{language}.yaml"


_CHANNEL_PARTS: dict[str, tuple[Part, ...]] = {
    "sms": ("sms",),
    "email": ("subject", "text"),
    "both": ("sms", "subject", "text"),
    "preferred": ("sms", "subject", "text"),
}


@dataclass(frozen=True)
class CampaignSource:
    """Where a campaign was defined, so later checks can point at its lines."""

    doc: YamlDocument

    def locate(self, loc: KeyPath) -> tuple[str, int | None]:
        path, line = self.doc.locate(loc)
        return format_key_path(path), line


@dataclass
class ClinicConfig:
    config_dir: Path
    settings: Settings
    campaigns: dict[str, Campaign]
    tips: TipLibrary
    templates: TemplateFiles
    sources: dict[str, CampaignSource] = field(default_factory=dict)

    def campaign(self, name: str) -> Campaign:
        try:
            return self.campaigns[name]
        except KeyError:
            raise ConfigError(
                [
                    ConfigIssue(
                        self.config_dir,
                        None,
                        name,
                        f"no such campaign (available: {', '.join(sorted(self.campaigns))})",
                    )
                ]
            ) from None


# --- pydantic errors -> issues ---------------------------------------------------


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            non_none = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = non_none[0] if len(non_none) == 1 else tp
            if len(non_none) != 1:
                return tp
        else:
            return tp


def allowed_keys(root: Any, loc: KeyPath) -> list[str]:
    """The keys a model at ``loc`` (below ``root``) accepts, for 'unknown key' errors."""
    tp = root
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def validation_issues(doc: YamlDocument, exc: ValidationError, root: Any, prefix: KeyPath = ()) -> list[ConfigIssue]:
    """``prefix`` is where in the file the validated value stands (``root`` is its type)."""
    out = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        path, line = doc.locate(loc)
        kind = error["type"]
        given = error.get("input")
        if kind == "extra_forbidden":
            keys = allowed_keys(root, loc[len(prefix) : -1])
            message = "unknown key" + (f" (allowed: {', '.join(keys)})" if keys else "")
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "literal_error":
            message = f"{given!r} is not allowed (allowed: {error.get('ctx', {}).get('expected', '')})"
        elif kind in ("value_error", "assertion_error"):
            message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        elif kind in ("model_type", "dict_type"):
            message = f"expected a mapping of keys, got {given!r}"
        else:
            message = f"{error['msg']} (got {given!r})"
        out.append(ConfigIssue(doc.path, line, format_key_path(path), message))
    return out


# --- loading ------------------------------------------------------------------


def _campaign_files(config_dir: Path) -> list[Path]:
    files = []
    single = config_dir / CAMPAIGNS_FILE
    if single.is_file():
        files.append(single)
    folder = config_dir / CAMPAIGNS_DIR
    if folder.is_dir():
        files.extend(sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]))
    return files


def load_campaigns(
    config_dir: Path, issues: list[ConfigIssue]
) -> tuple[dict[str, Campaign], dict[str, CampaignSource]]:
    campaigns: dict[str, Campaign] = {}
    sources: dict[str, CampaignSource] = {}
    files = _campaign_files(config_dir)
    if not files:
        issues.append(
            ConfigIssue(
                shown_path(config_dir), None, "", f"no campaigns: expected {CAMPAIGNS_FILE} or {CAMPAIGNS_DIR}/*.yaml"
            )
        )
    for path in files:
        doc = load_yaml(path, shown_path(path))
        issues.extend(doc.issues)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            issues.append(ConfigIssue(doc.path, 1, "", "expected a mapping of campaign name to campaign"))
            continue
        for name in doc.data:
            if not isinstance(name, str) or not NAME_RE.match(name):
                issues.append(
                    ConfigIssue(
                        doc.path,
                        doc.line_of((name,)),
                        str(name),
                        "not a campaign name (lowercase letters, digits and _)",
                    )
                )
            elif name in RESERVED_NAMES:
                issues.append(
                    ConfigIssue(
                        doc.path,
                        doc.line_of((name,)),
                        name,
                        f"{name!r} is reserved for followup's own messages to the clinic; choose another name",
                    )
                )
            elif name in campaigns:
                first = sources[name].doc
                issues.append(
                    ConfigIssue(
                        doc.path,
                        doc.line_of((name,)),
                        name,
                        f"campaign defined twice (first in {first.path}:{first.line_of((name,))})",
                    )
                )
        # One campaign at a time: a mistake in one must not hide the others' problems.
        for name, raw in doc.data.items():
            try:
                campaign = Campaign.model_validate(raw)
            except ValidationError as exc:
                issues.extend(validation_issues(doc, exc, Campaign, prefix=(name,)))
                continue
            if isinstance(name, str) and name not in campaigns:
                campaigns[name] = campaign
                sources[name] = CampaignSource(doc)
    return campaigns, sources


def load_tips(config_dir: Path, issues: list[ConfigIssue]) -> TipLibrary | None:
    path = config_dir / TIPS_FILE
    if not path.is_file():
        issues.append(ConfigIssue(shown_path(path), None, "", "tip library not found"))
        return None
    doc = load_yaml(path, shown_path(path))
    issues.extend(doc.issues)
    if doc.data is None:
        return None
    if isinstance(doc.data, dict) and "translations" in doc.data:
        issues.append(
            ConfigIssue(
                doc.path,
                doc.line_of(("translations",)),
                "translations",
                "unknown key (translations go in tips.<language>.yaml beside tips.yaml, e.g. tips.es.yaml)",
            )
        )
        return None
    try:
        library = TipLibrary.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(validation_issues(doc, exc, TipLibrary))
        return None
    seen: dict[str, int] = {}
    for index, tip in enumerate(library.tips):
        where = ("tips", index)
        if tip.id in seen:
            issues.append(
                ConfigIssue(
                    doc.path,
                    doc.line_of((*where, "id")),
                    f"tips[{index}].id",
                    f"tip id {tip.id!r} is used twice (also tips[{seen[tip.id]}])",
                )
            )
        seen.setdefault(tip.id, index)
        if tip.category not in library.categories:
            issues.append(
                ConfigIssue(
                    doc.path,
                    doc.line_of((*where, "category")),
                    f"tips[{index}].category",
                    f"{tip.category!r} is not a category (allowed: {', '.join(library.categories)})",
                )
            )
        for position, area in enumerate(tip.focus):
            if area not in library.focus_areas:
                issues.append(
                    ConfigIssue(
                        doc.path,
                        doc.line_of((*where, "focus", position)),
                        f"tips[{index}].focus[{position}]",
                        f"{area!r} is not a focus area (allowed: {', '.join(library.focus_areas)})",
                    )
                )
    translations = {}
    for translated in sorted(config_dir.glob(TIPS_TRANSLATION_GLOB)):
        language = translated.name.split(".")[1]
        found = _load_tip_translation(translated, library, issues)
        if found is not None:
            translations[language] = found
    return library.model_copy(update={"translations": translations})


def _load_tip_translation(path: Path, library: TipLibrary, issues: list[ConfigIssue]) -> TipTranslation | None:
    """``tips.<lang>.yaml``: validated, and every id in it one of ``tips.yaml``'s (a
    misspelt id would leave the real tip untranslated).  What it lacks is for ``check``."""
    doc = load_yaml(path, shown_path(path))
    issues.extend(doc.issues)
    if doc.data is None:
        return None
    try:
        translation = TipTranslation.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(validation_issues(doc, exc, TipTranslation))
        return None
    known = {
        "focus_areas": set(library.focus_areas),
        "categories": set(library.categories),
        "tips": {t.id for t in library.tips},
    }
    given: dict[str, list[str]] = {
        "focus_areas": list(translation.focus_areas),
        "categories": list(translation.categories),
        "tips": list(translation.tips),
    }
    for section, entries in given.items():
        for key in entries:
            if key not in known[section]:
                issues.append(
                    ConfigIssue(
                        doc.path,
                        doc.line_of((section, key)),
                        f"{section}.{key}",
                        f"{key!r} is not in tips.yaml's {section} (a misspelt id?)",
                    )
                )
    return translation


def campaign_problems(
    name: str, campaign: Campaign, templates: TemplateFiles, tips: TipLibrary | None
) -> Iterator[tuple[KeyPath, str]]:
    """Checks that need more than the campaign itself, as (key path, message)."""
    available = templates.names()
    if campaign.holdout and campaign.purpose != "marketing":
        yield (
            (name, "holdout"),
            "only marketing campaigns may have a holdout (care messages are never withheld)",
        )
    step_names: dict[str, int] = {}
    trigger = campaign.trigger.type
    for index, step in enumerate(campaign.steps):
        here: KeyPath = (name, "steps", index)
        step_name = campaign.step_name(index)
        if step_name in step_names:
            yield (*here, "name"), f"step name {step_name!r} is already used by steps[{step_names[step_name]}]"
        step_names.setdefault(step_name, index)
        if trigger == "session_booked" and not step.offset.is_negative:
            yield (
                (*here, "offset"),
                (
                    f"{step.offset.text!r}: session_booked steps go before the session, "
                    "so the offset must be negative (e.g. -24h, -1d at 18:00)"
                ),
            )
        if trigger != "session_booked" and step.offset.is_negative:
            yield (
                (*here, "offset"),
                (
                    f"{step.offset.text!r}: a {trigger} step goes after its trigger, "
                    "so the offset must not be negative (e.g. 2h, 1d, 3d at 10:00)"
                ),
            )
        if step.template not in available:
            yield (
                (*here, "template"),
                (
                    f"{step.template!r} is not a template in {templates.root} "
                    f"(available: {', '.join(available) or 'none'})"
                ),
            )
        else:
            missing = [PART_FILES[p] for p in _CHANNEL_PARTS[step.channel] if not templates.has(step.template, p)]
            if missing:
                yield (
                    (*here, "template"),
                    (f"template {step.template!r} has no {', '.join(missing)} (needed for channel {step.channel})"),
                )
        if step.fallback_to_email and step.channel == "email":
            yield (*here, "fallback_to_email"), "only sms or preferred steps can fall back to email"
        if step.fallback_to_email and step.template in available and not templates.has(step.template, "subject"):
            yield (*here, "fallback_to_email"), f"template {step.template!r} has no email version to fall back to"
        if step.tip is not None and tips is not None:
            for position, category in enumerate(step.tip.categories):
                if category not in tips.categories:
                    yield (
                        (*here, "tip", "categories", position),
                        (f"{category!r} is not a tip category (allowed: {', '.join(tips.categories)})"),
                    )
        if step.when is not None and tips is not None:
            for position, area in enumerate(step.when.focus_areas):
                if area not in tips.focus_areas:
                    yield (
                        (*here, "when", "focus_areas", position),
                        (f"{area!r} is not a focus area (allowed: {', '.join(tips.focus_areas)})"),
                    )


def translation_issues(
    languages: Sequence[str], templates: TemplateFiles, config_dir: Path, tips: TipLibrary
) -> list[ConfigIssue]:
    """Every configured language but the first (the one ``templates/<name>/*`` and
    ``tips.yaml`` are written in) needs its own version of every template file, layout and
    tip: ``templates/<name>/<lang>/<file>`` and ``config/tips.<lang>.yaml``.  One issue per
    missing file or tip, naming it; a client would otherwise get the first language's text.
    ``check`` reports them; :func:`load_clinic` adds them to the other errors when it fails, so
    every error is listed at once."""
    issues: list[ConfigIssue] = []
    root = templates.root
    folders = [(LAYOUT_DIR, list(LAYOUT_FILES.values()))]
    folders += [(name, list(PART_FILES.values())) for name in templates.names()]
    for language in languages[1:]:
        why = f"language {language!r} is in languages (followup.toml) but this has no {language} version"
        for folder, filenames in folders:
            for filename in filenames:
                if (root / folder / filename).is_file() and not (root / folder / language / filename).is_file():
                    issues.append(
                        ConfigIssue(
                            shown_path(root / folder / language / filename),
                            None,
                            "",
                            f"missing: {why} of {folder}/{filename}",
                        )
                    )
        path = tips_translation_file(config_dir, language)
        if not path.is_file():
            issues.append(ConfigIssue(shown_path(path), None, "", f"missing: {why} of tips.yaml"))
            continue
        for key in tips.untranslated(language):
            issues.append(ConfigIssue(shown_path(path), None, key, f"missing: {why} of tips.yaml's {key}"))
    return issues


def load_clinic(
    config_dir: Path, templates_dir: Path, settings: Settings | None = None, env_file: Path | None = Path(".env")
) -> ClinicConfig:
    issues: list[ConfigIssue] = []
    if not config_dir.is_dir():
        raise ConfigError([ConfigIssue(config_dir, None, "", "config directory not found")])
    if settings is None:
        try:
            settings = load_settings(config_dir, env_file)
        except ConfigError as exc:
            issues.extend(exc.issues)
    campaigns, sources = load_campaigns(config_dir, issues)
    tips = load_tips(config_dir, issues)
    if not templates_dir.is_dir():
        issues.append(ConfigIssue(shown_path(templates_dir), None, "", "templates directory not found"))
    templates = TemplateFiles(templates_dir, smart_encoding=settings.sms_smart_encoding if settings else True)
    for name, campaign in campaigns.items():
        source = sources[name]
        for loc, message in campaign_problems(name, campaign, templates, tips):
            key, line = source.locate(loc)
            issues.append(ConfigIssue(source.doc.path, line, key, message))
    if issues and settings is not None and tips is not None and templates_dir.is_dir():
        issues.extend(translation_issues(settings.languages, templates, config_dir, tips))
    if issues or settings is None or tips is None:
        raise ConfigError(issues)
    return ClinicConfig(
        config_dir=config_dir, settings=settings, campaigns=campaigns, tips=tips, templates=templates, sources=sources
    )
