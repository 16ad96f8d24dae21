"""Sample client and session for ``followup check`` and ``followup preview``.

Fixed dates, not "now": a preview renders the same today and next month.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from followup.core.domain import Client, Session
from followup.exceptions import ConfigError, ConfigIssue
from followup.timeutil import zone

SAMPLE_TZ = "America/New_York"
SAMPLE_NOW = datetime(2026, 12, 3, 18, 0, tzinfo=zone(SAMPLE_TZ))

_CLIENTS = {
    "en": Client(
        external_id="sample-1",
        first_name="Maria",
        last_name="Lopez",
        phone="+13055550101",
        email="maria.lopez@example.com",
        timezone=SAMPLE_TZ,
        language="en",
    ),
    "es": Client(
        external_id="sample-2",
        first_name="Carmen",
        last_name="Rodriguez",
        phone="+13055550102",
        email="carmen.rodriguez@example.com",
        timezone=SAMPLE_TZ,
        language="es",
    ),
}


def sample_client(language: str = "en") -> Client:
    base = _CLIENTS.get(language, _CLIENTS["en"])
    return base if base.language == language else Client(**{**base.__dict__, "language": language})


def sample_session(client: Client, day: date = date(2026, 12, 3), at: time = time(15, 0)) -> Session:
    tz = zone(client.timezone)
    start = datetime.combine(day, at, tzinfo=tz)
    return Session(
        external_id="sample-session-1",
        client_external_id=client.external_id,
        start=start,
        end=start + timedelta(hours=1),
        service="Neuromuscular therapy, 60 min",
        therapist="Daniel",
        focus_areas=("neck_shoulders", "upper_back"),
        status="completed",
    )


# Worst-case data for ``followup check``: what a real client list can put into a text.
# Long first and last names with accents GSM-7 lacks (transliterated, they must not change
# the encoding); the longest service and therapist names of the shipped samples
# (config/sample/sessions.csv; tests/unit/test_rendering.py checks they stay the longest).
WORST_FIRST_NAME = "Marie-Noëlle"
WORST_LAST_NAME = "Fernández-Núñez Østergård"
WORST_SERVICE = "Neuromuscular therapy, 60 min"
WORST_THERAPIST = "Daniel"
# Zones tried for the worst-case client: the first whose clock differs from the clinic's
# on every sample date, so every time names the clinic's zone (the longer text).
_OTHER_ZONES = ("America/Los_Angeles", "America/New_York", "Asia/Tokyo")


def worst_case_client(language: str, clinic_timezone: str) -> Client:
    """A client whose data makes texts as long as real data can (see ``WORST_*``), in a zone
    whose clock differs from the clinic's (``clinic_timezone``, IANA), so times carry a zone."""
    clinic = zone(clinic_timezone)
    days = sample_dates()

    def differs(name: str) -> bool:
        other = zone(name)
        return all(
            datetime.combine(d, time(12), tzinfo=clinic).utcoffset()
            != datetime.combine(d, time(12), tzinfo=clinic).astimezone(other).utcoffset()
            for d in days
        )

    timezone = next((z for z in _OTHER_ZONES if differs(z)), _OTHER_ZONES[0])
    return Client(
        external_id="worst-case",
        first_name=WORST_FIRST_NAME,
        last_name=WORST_LAST_NAME,
        phone="+13055550199",
        email="marie-noelle.fernandez-nunez@example.com",
        timezone=timezone,
        language=language,
    )


def worst_case_session(
    client: Client, clinic_timezone: str, focus_areas: tuple[str, ...], day: date, at: time = time(10, 30)
) -> Session:
    """A session at ``at`` on ``day`` in the clinic's zone, with the longest sample service
    and therapist and the given focus areas (ids)."""
    start = datetime.combine(day, at, tzinfo=zone(clinic_timezone))
    return Session(
        external_id="worst-case-session",
        client_external_id=client.external_id,
        start=start,
        end=start + timedelta(hours=1),
        service=WORST_SERVICE,
        therapist=WORST_THERAPIST,
        focus_areas=focus_areas,
        status="completed",
    )


def sample_dates() -> list[date]:
    """One date in each month of a year, on every weekday in turn: day and month names of
    every length, so ``check`` measures the longest SMS a real date can produce."""
    out = []
    for month in range(1, 13):
        first = date(2027, month, 1)
        out.append(first + timedelta(days=(month % 7 - first.weekday()) % 7))
    return out


class _PreviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client: dict[str, Any]
    session: dict[str, Any] | None = None
    visit_count: int = Field(1, ge=0)


def load_preview_input(path: Path) -> tuple[Client, Session | None, int]:
    """``--client-json``: {"client": {...}, "session": {...}, "visit_count": 3}."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        data = _PreviewInput.model_validate(raw)
        # no "language": "" (the caller gives the clinic's default), not Client's "en"
        client = TypeAdapter(Client).validate_python({"language": "", **data.client})
        zone(client.timezone)
        session = None
        if data.session is not None:
            session = TypeAdapter(Session).validate_python(
                {"client_external_id": client.external_id, "external_id": "preview", **data.session}
            )
    except (OSError, json.JSONDecodeError, ValidationError, ValueError) as exc:
        raise ConfigError([ConfigIssue(path, getattr(exc, "lineno", None), "", str(exc))]) from None
    return client, session, data.visit_count
