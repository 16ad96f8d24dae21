"""The variables a template sees (documented in README, "Template variables").

Times are shown in the client's own time zone and language; the template never does
time-zone arithmetic itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_date, format_time

from followup.config.settings import Settings
from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session
from followup.core.tips import Tip, TipLibrary
from followup.rendering.templates import Namespace
from followup.timeutil import require_aware, zone

_DAY_FORMAT = {"en": "EEEE, MMMM d", "es": "EEEE d 'de' MMMM"}
_SHORT_DATE_FORMAT = {"en": "MMM d", "es": "d 'de' MMM"}
_TIME_FORMAT = {"en": "h:mm a", "es": "H:mm"}


def _plain(text: str) -> str:
    # CLDR uses (narrow) no-break spaces; they would force SMS into UCS-2.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def local_day(moment: datetime, language: str) -> str:
    return _plain(format_date(moment, _DAY_FORMAT.get(language, _DAY_FORMAT["en"]), locale=language))


def local_short_date(moment: datetime, language: str) -> str:
    return _plain(format_date(moment, _SHORT_DATE_FORMAT.get(language, _SHORT_DATE_FORMAT["en"]), locale=language))


def local_time(moment: datetime, language: str) -> str:
    return _plain(format_time(moment, _TIME_FORMAT.get(language, _TIME_FORMAT["en"]), locale=language))


@dataclass(frozen=True)
class Links:
    rebook: str
    unsubscribe: str | None = None  # email only: SMS clients reply STOP


def business_namespace(settings: Settings) -> Namespace:
    return Namespace(
        "business",
        {
            "name": settings.business_name,
            "short_name": settings.business_short_name,
            "address": settings.business_address,
            "phone": settings.business_phone,
            "email": settings.business_email,
            "website": settings.business_website,
            "booking_url": settings.booking_url,
        },
    )


def client_namespace(client: Client, visit_count: int) -> Namespace:
    return Namespace(
        "client",
        {
            "first_name": client.first_name,
            "last_name": client.last_name,
            "name": client.full_name,
            "phone": client.phone or "",
            "email": client.email or "",
            "language": client.language,
            "timezone": client.timezone,
            "visit_count": visit_count,
        },
    )


def session_namespace(session: Session, client: Client, library: TipLibrary | None) -> Namespace:
    tz = zone(client.timezone)
    start = require_aware(session.start, "session start").astimezone(tz)
    end = require_aware(session.end, "session end").astimezone(tz)
    labels = [library.focus_areas.get(f, f) if library else f for f in session.focus_areas]
    lang = client.language
    return Namespace(
        "session",
        {
            "service": session.service,
            "therapist": session.therapist,
            "focus_areas": labels,
            "focus": ", ".join(labels),
            "start": start,
            "end": end,
            "day": local_day(start, lang),
            "date": local_short_date(start, lang),
            "time": local_time(start, lang),
            "end_time": local_time(end, lang),
            "duration_minutes": int((end - start).total_seconds() // 60),
            "status": session.status,
        },
    )


def tip_namespace(tip: Tip, library: TipLibrary) -> Namespace:
    return Namespace(
        "tip",
        {
            "id": tip.id,
            "title": tip.title,
            "category": tip.category,
            "category_label": library.categories.get(tip.category, tip.category),
            "sms": tip.sms.strip(),
            "email": tip.email_text,
        },
    )


def message_context(
    *,
    settings: Settings,
    client: Client,
    session: Session | None,
    visit_count: int,
    campaign_name: str,
    campaign: Campaign,
    step_name: str,
    channel: str,
    links: Links,
    tip: Tip | None = None,
    library: TipLibrary | None = None,
) -> dict[str, Any]:
    """Everything a template may use; names missing here fail loudly (StrictUndefined)."""
    context: dict[str, Any] = {
        "client": client_namespace(client, visit_count),
        "business": business_namespace(settings),
        "campaign": Namespace(
            "campaign",
            {
                "name": campaign_name,
                "purpose": campaign.purpose,
                "description": campaign.description,
            },
        ),
        "step": Namespace("step", {"name": step_name, "channel": channel}),
        "links": Namespace(
            "links", {"rebook": links.rebook, **({"unsubscribe": links.unsubscribe} if links.unsubscribe else {})}
        ),
    }
    if session is not None:
        context["session"] = session_namespace(session, client, library)
    if tip is not None and library is not None:
        context["tip"] = tip_namespace(tip, library)
    return context
