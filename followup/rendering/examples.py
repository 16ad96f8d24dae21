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
        client = TypeAdapter(Client).validate_python(data.client)
        zone(client.timezone)
        session = None
        if data.session is not None:
            session = TypeAdapter(Session).validate_python(
                {"client_external_id": client.external_id, "external_id": "preview", **data.session}
            )
    except (OSError, json.JSONDecodeError, ValidationError, ValueError) as exc:
        raise ConfigError([ConfigIssue(path, getattr(exc, "lineno", None), "", str(exc))]) from None
    return client, session, data.visit_count
