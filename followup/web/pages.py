"""The words of the unsubscribe and preference pages, per language, and which language a
visitor reads.

The pages answer a link from an email, so they speak the client's language; a client whose
language is not set (the clinic's default, which is what an import gives when the file says
nothing) and a link that is no longer valid (no client known) read the browser's
``Accept-Language`` instead.  Spanish is written with usted, like every message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Every page string by language; languages without an entry read English.  HTML is allowed
# (the strings are ours, not the client's); {address} is never put in here.
PAGE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "invalid_title": "Link not valid",
        "invalid": (
            "<p>This link is not valid or has expired. Reply to any of our emails and we will take you "
            "off the list.</p>"
        ),
        "title_unsubscribe": "Unsubscribe",
        "title_preferences": "Email preferences",
        "offer_marketing": (
            "<p>Stop tips and offers by email? Appointment reminders and aftercare notes will still reach you.</p>"
        ),
        "button_marketing": "Unsubscribe from tips and offers",
        "off_marketing": "<p>You are unsubscribed from tips and offers by email.</p>",
        "offer_all": (
            "<p>Or stop <strong>all</strong> emails from us, including appointment reminders and aftercare notes.</p>"
        ),
        "button_all": "Stop all emails",
        "off_all": "<p>You are unsubscribed from all our emails.</p>",
        "title_already": "Already unsubscribed",
        "already_all": "<p>You were already unsubscribed from all our emails.</p>",
        "already_marketing": "<p>You were already unsubscribed from tips and offers by email.</p>",
        "title_done": "Unsubscribed",
        "done_all": "<p>Done: you will not receive any more emails from us.</p>",
        "done_marketing": (
            "<p>Done: you will get no more tips or offers by email. Appointment reminders and "
            "aftercare notes still come by email.</p>"
        ),
    },
    "es": {
        "invalid_title": "Enlace no válido",
        "invalid": (
            "<p>Este enlace no es válido o ya venció. Responda a cualquiera de nuestros correos y "
            "le daremos de baja de la lista.</p>"
        ),
        "title_unsubscribe": "Darse de baja",
        "title_preferences": "Preferencias de correo",
        "offer_marketing": (
            "<p>¿Desea dejar de recibir consejos y ofertas por correo? Los recordatorios de sus citas "
            "y las recomendaciones para después de cada sesión le seguirán llegando.</p>"
        ),
        "button_marketing": "Dejar de recibir consejos y ofertas",
        "off_marketing": "<p>Ya no le enviamos consejos ni ofertas por correo.</p>",
        "offer_all": (
            "<p>O deje de recibir <strong>todos</strong> nuestros correos, incluidos los recordatorios "
            "de citas y las recomendaciones para después de cada sesión.</p>"
        ),
        "button_all": "No recibir ningún correo",
        "off_all": "<p>Ya no le enviamos ninguno de nuestros correos.</p>",
        "title_already": "Baja ya registrada",
        "already_all": "<p>Su baja de todos nuestros correos ya estaba registrada.</p>",
        "already_marketing": "<p>Su baja de los consejos y ofertas por correo ya estaba registrada.</p>",
        "title_done": "Listo",
        "done_all": "<p>Listo: no le enviaremos más correos.</p>",
        "done_marketing": (
            "<p>Listo: no le enviaremos más consejos ni ofertas por correo. Los recordatorios de sus "
            "citas y las recomendaciones para después de cada sesión le seguirán llegando por correo.</p>"
        ),
    },
}


def page_text(language: str, key: str) -> str:
    """The page string ``key`` in ``language`` (English when there is no such language);
    raises KeyError for an unknown ``key``."""
    return PAGE_TEXT.get(language, PAGE_TEXT["en"])[key]


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def accepted_languages(header: str) -> list[str]:
    """The primary language codes of an ``Accept-Language`` header (RFC 9110 12.5.4), best
    first: ``"es-US,es;q=0.9,en;q=0.8"`` -> ``["es", "en"]``.  Malformed entries, ``*`` and
    ``q=0`` are skipped; equal weights keep the header's order."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        match = _RANGE.match(part)
        if match is None or match.group(1) == "*":
            continue
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if weight > 0:
            weighted.append((-weight, position, match.group(1).split("-")[0].lower()))
    seen: list[str] = []
    for _, _, code in sorted(weighted):
        if code not in seen:
            seen.append(code)
    return seen


def page_language(
    client_language: str | None, accept_language: str, languages: Sequence[str], default_language: str
) -> str:
    """The language a page is shown in: the client's when it is set (one of ``languages``
    other than the default), else the browser's first of ``languages``, else the client's
    (the default)."""
    if client_language and client_language in languages and client_language != default_language:
        return client_language
    for code in accepted_languages(accept_language):
        if code in languages:
            return code
    return client_language if client_language and client_language in languages else default_language
