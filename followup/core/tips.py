"""The self-care tip library (``config/tips.yaml``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tip(_Strict):
    id: str
    category: str
    focus: list[str] = Field(default_factory=list)
    title: str = Field(min_length=1, max_length=60)
    sms: str = Field(min_length=1)
    email: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_RE.match(value):
            raise ValueError(f"{value!r} is not a tip id (lowercase letters, digits and dashes)")
        return value

    @property
    def email_text(self) -> str:
        return (self.email or self.sms).strip()


class TipText(_Strict):
    """One tip in another language (``config/tips.<lang>.yaml``): the words only; id,
    category and focus areas are the library's."""

    title: str = Field(min_length=1, max_length=60)
    sms: str = Field(min_length=1)
    email: str | None = None


class TipTranslation(_Strict):
    """``config/tips.<lang>.yaml``: labels and tip texts in one language, by id."""

    focus_areas: dict[str, str] = Field(default_factory=dict)
    categories: dict[str, str] = Field(default_factory=dict)
    tips: dict[str, TipText] = Field(default_factory=dict)


class TipLibrary(_Strict):
    """``config/tips.yaml`` and its translations by language code (set by the loader from
    ``tips.<lang>.yaml``, never written in ``tips.yaml`` itself)."""

    focus_areas: dict[str, str]
    categories: dict[str, str]
    tips: list[Tip] = Field(default_factory=list)
    translations: dict[str, TipTranslation] = Field(default_factory=dict, exclude=True)

    def localized(self, tip: Tip, language: str) -> Tip:
        """``tip`` with its words in ``language`` when translated, else as written."""
        text = self.translations.get(language, TipTranslation()).tips.get(tip.id)
        if text is None:
            return tip
        return tip.model_copy(update={"title": text.title, "sms": text.sms, "email": text.email})

    def focus_names(self) -> dict[str, str]:
        """Every label of every focus area, in ``tips.yaml`` and each ``tips.<lang>.yaml``, to
        its id ("Cuello y hombros" and "Neck & shoulders" -> neck_shoulders): what an export
        may write in a focus column."""
        names = {label: area for area, label in self.focus_areas.items()}
        for translation in self.translations.values():
            for area, label in translation.focus_areas.items():
                if area in self.focus_areas:
                    names.setdefault(label, area)
        return names

    def focus_label(self, area: str, language: str) -> str:
        """A focus area's label in ``language`` (else the library's; else the id)."""
        shown = self.translations.get(language, TipTranslation()).focus_areas.get(area)
        return shown or self.focus_areas.get(area, area)

    def category_label(self, category: str, language: str) -> str:
        shown = self.translations.get(language, TipTranslation()).categories.get(category)
        return shown or self.categories.get(category, category)

    def untranslated(self, language: str) -> list[str]:
        """What ``tips.<language>.yaml`` lacks, as key paths (``tips.<id>``, ``focus_areas.<id>``,
        ``categories.<id>``).  (Not asked for the language ``tips.yaml`` is written in.)"""
        found = self.translations.get(language, TipTranslation())
        missing = [f"focus_areas.{a}" for a in self.focus_areas if a not in found.focus_areas]
        missing += [f"categories.{c}" for c in self.categories if c not in found.categories]
        missing += [f"tips.{t.id}" for t in self.tips if t.id not in found.tips]
        return missing

    def by_id(self, tip_id: str) -> Tip | None:
        return next((t for t in self.tips if t.id == tip_id), None)

    def in_categories(self, categories: list[str]) -> list[Tip]:
        return [t for t in self.tips if t.category in categories]
