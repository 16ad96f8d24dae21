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


class TipLibrary(_Strict):
    focus_areas: dict[str, str]
    categories: dict[str, str]
    tips: list[Tip] = Field(default_factory=list)

    def by_id(self, tip_id: str) -> Tip | None:
        return next((t for t in self.tips if t.id == tip_id), None)

    def in_categories(self, categories: list[str]) -> list[Tip]:
        return [t for t in self.tips if t.category in categories]
