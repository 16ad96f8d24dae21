"""The variables a template sees (documented in README, "Template variables").

An appointment happens at the clinic, so its day and time are shown in the clinic's
time zone (``default_timezone``), in the client's language; when the client's own zone
reads that moment differently, the time names the zone (``3:00 PM ET``), so a client in
Los Angeles is not told 12:00 PM for a 3 pm session in Miami.  The template never does
time-zone arithmetic itself.  (Send windows and "1d at 10:00" offsets stay in the
client's own zone: that is :mod:`followup.core.rules` and the planner.)
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from babel import Locale, localedata
from babel.dates import format_date, format_skeleton, format_time, get_timezone_name, match_skeleton

from followup.config.settings import Settings
from followup.core.campaigns import Campaign
from followup.core.domain import Client, Session
from followup.core.tips import Tip, TipLibrary
from followup.rendering.templates import Namespace, Verbatim
from followup.timeutil import require_aware, zone


@functools.lru_cache(maxsize=64)
def babel_locale(language: str, region: str = "US") -> str:
    """The CLDR locale for ``language`` as the clinic's clients read it: the language in the
    clinic's region when CLDR has that variant (``es`` in ``US`` is ``es_US``: "3:30 p.m.",
    as Spanish is written in Miami, not Madrid's "15:30"), else the language alone."""
    candidate = f"{language}_{region}"
    return candidate if localedata.exists(candidate) else language


def _plain(text: str) -> str:
    # CLDR uses (narrow) no-break spaces; they would force SMS into UCS-2.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@functools.lru_cache(maxsize=32)
def _day_pattern(locale: str) -> str:
    """The locale's own pattern for weekday + day + month (CLDR skeleton ``MMMMEd``), with the
    weekday spelt out: CLDR's pattern abbreviates it ("Thu"), a message reads better whole."""
    skeletons = Locale.parse(locale).datetime_skeletons
    pattern = str(skeletons[match_skeleton("MMMMEd", skeletons) or "MMMMEd"].pattern)
    return re.sub(r"E{1,3}(?!E)", "EEEE", pattern)


@functools.lru_cache(maxsize=64)
def _locale(language: str, region: str) -> Locale:
    # Parsed once: Babel parses a locale given by name on every call (about 15 per message,
    # a tenth of the dispatcher's time per message in bench/).
    return Locale.parse(babel_locale(language, region))


def local_day(moment: datetime, language: str, region: str = "US") -> str:
    """``Thursday, December 10`` / ``jueves, 10 de diciembre`` (CLDR, no year)."""
    return _plain(format_date(moment, _day_pattern(babel_locale(language, region)), locale=_locale(language, region)))


def local_short_date(moment: datetime, language: str, region: str = "US") -> str:
    """``Dec 10`` / ``10 dic`` (CLDR skeleton ``MMMd``)."""
    return _plain(format_skeleton("MMMd", moment, locale=_locale(language, region)))


def local_time(moment: datetime, language: str, region: str = "US") -> str:
    """``3:30 PM`` / ``3:30 p.m.`` (CLDR's short time of the locale)."""
    return _plain(format_time(moment, "short", locale=_locale(language, region)))


_ABBREVIATION = re.compile(r"[A-Z]{2,5}")


def _utc_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(moment: datetime) -> str:
    """A short, GSM-7 name for the zone of aware ``moment`` at that moment: ``ET``, ``PT``,
    ``HST``, ``CET``/``CEST``, ``JST``, else ``UTC-5`` / ``UTC+5:45``.

    Why these: CLDR (through Babel's ``get_timezone_name(zone, width="short")``, the
    ``v`` pattern) has the generic short names US readers know -- ``ET``, ``CT``, ``MT``,
    ``PT``, ``AKT``, ``AT`` -- which are right in winter and summer alike, so they are
    preferred.  For most other zones CLDR has no short name and Babel falls back to a
    long location name ("Spain (Madrid) Time", in Spanish "hora de Estados Unidos (Nueva
    York)"), too long for an SMS and with letters outside GSM-7; then the tz database's
    abbreviation for that moment is used (``CET``, ``GMT``, ``JST``, ``HST``), and where
    the tz database has only a number (``-05``), ``UTC-5``.  The label is the same in
    every language: "3:00 PM ET" is what US media print in Spanish too.
    """
    tz = require_aware(moment, "moment").tzinfo
    generic = get_timezone_name(tz, width="short", locale=_locale("en", "US"))
    if _ABBREVIATION.fullmatch(generic):
        return generic
    abbreviation = moment.strftime("%Z")
    if _ABBREVIATION.fullmatch(abbreviation):
        return abbreviation
    offset = moment.utcoffset()
    assert offset is not None  # aware, checked above
    return _utc_offset(offset)


def clinic_time(moment: datetime, client_tz: str, language: str, region: str = "US") -> str:
    """``moment`` (in the clinic's zone) as the client reads it: ``3:00 PM`` when the
    client's zone shows the same wall time, else ``3:00 PM ET``."""
    shown = local_time(moment, language, region)
    if moment.utcoffset() != moment.astimezone(zone(client_tz)).utcoffset():
        shown = f"{shown} {zone_label(moment)}"
    return shown


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


def session_namespace(
    session: Session, client: Client, library: TipLibrary | None, clinic_timezone: str, region: str = "US"
) -> Namespace:
    """``session`` as templates see it: day, date and times in the clinic's zone
    ``clinic_timezone`` (IANA), the times naming the zone when the client's reads differently;
    focus labels and dates in the client's language (``client.language``, already one the
    clinic writes in), dates in that language as written in ``region`` (the clinic's)."""
    tz = zone(clinic_timezone)
    start = require_aware(session.start, "session start").astimezone(tz)
    end = require_aware(session.end, "session end").astimezone(tz)
    lang = client.language
    labels = [Verbatim(library.focus_label(f, lang)) if library else f for f in session.focus_areas]
    return Namespace(
        "session",
        {
            "service": session.service,
            "therapist": session.therapist,
            "focus_areas": labels,
            "focus": Verbatim(", ".join(labels)) if library else ", ".join(labels),
            "start": start,
            "end": end,
            "duration_minutes": int((end - start).total_seconds() // 60),
            "status": session.status,
        },
        # The clinic's words (CLDR's, in the client's language), not client data: they keep
        # or lose accents with the template ([sms] accents), see templates.Verbatim.  Made
        # only when the template reads them (Namespace ``lazy``): Babel formatting was about
        # a sixth of the dispatcher's time per message for texts that show no date (bench/).
        lazy={
            "day": lambda: Verbatim(local_day(start, lang, region)),
            "date": lambda: Verbatim(local_short_date(start, lang, region)),
            "time": lambda: Verbatim(clinic_time(start, client.timezone, lang, region)),
            "end_time": lambda: Verbatim(clinic_time(end, client.timezone, lang, region)),
        },
    )


def tip_namespace(tip: Tip, library: TipLibrary, language: str = "") -> Namespace:
    """``tip`` in ``language`` (its ``config/tips.<language>.yaml`` version; the library's own
    text when there is none, which ``followup check`` reports)."""
    shown = library.localized(tip, language)
    return Namespace(
        "tip",
        {
            "id": tip.id,
            "title": Verbatim(shown.title),
            "category": tip.category,
            "category_label": Verbatim(library.category_label(tip.category, language)),
            "sms": Verbatim(shown.sms.strip()),
            "email": Verbatim(shown.email_text),
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
    """Everything a template may use; names missing here fail loudly (StrictUndefined).

    Dates and times are written in the language the text is written in: the client's when
    it is one of ``settings.languages``, else the default (never Spanish dates in English text).
    """
    if client.language not in settings.languages:
        client = replace(client, language=settings.default_language)
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
        context["session"] = session_namespace(
            session, client, library, settings.default_timezone, settings.default_region
        )
    if tip is not None and library is not None:
        context["tip"] = tip_namespace(tip, library, client.language)
    return context
