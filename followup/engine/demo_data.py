"""The shipped sample week (``config/sample/``), moved so that it happens around now."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from followup.config.loader import ClinicConfig
from followup.engine.ingest import ImportSummary, import_clients, import_sessions
from followup.intake import ParseResult, SessionRow, read_clients, read_sessions
from followup.store.port import Store
from followup.timeutil import require_aware, zone

# The moment the sample's session times were written around (Thursday noon in Miami).
SAMPLE_REFERENCE = datetime(2026, 1, 15, 12, 0, tzinfo=zone("America/New_York"))


def shifted(result: ParseResult[SessionRow], now: datetime) -> ParseResult[SessionRow]:
    delta = require_aware(now, "now") - SAMPLE_REFERENCE
    delta -= delta % timedelta(minutes=1)  # whole minutes keep the times readable
    rows = [
        replace(r, session=replace(r.session, start=r.session.start + delta, end=r.session.end + delta))
        for r in result.rows
    ]
    return replace(result, rows=rows)


def load_sample_data(store: Store, clinic: ClinicConfig, now: datetime) -> list[ImportSummary]:
    folder = clinic.config_dir / "sample"
    settings = clinic.settings
    clients = read_clients(
        folder / "clients.csv",
        default_region=settings.default_region,
        default_timezone=settings.default_timezone,
        default_language=settings.default_language,
        languages=settings.languages,
    )
    zones = {row.client.external_id: row.client.timezone for row in clients.rows}
    sessions = read_sessions(
        folder / "sessions.csv",
        default_region=settings.default_region,
        default_timezone=settings.default_timezone,
        focus_areas=clinic.tips.focus_areas,
        focus_names=clinic.tips.focus_names(),
        client_timezones=zones,
    )
    return [
        import_clients(store, clients, now),
        import_sessions(store, clinic, shifted(sessions, now), now),
    ]
