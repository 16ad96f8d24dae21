"""Render one step of one campaign for one client: the text that would be sent.

Preview, check, simulate and the dispatcher all call :func:`compose`, so what the
owner previews is exactly what clients get.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from followup.config.loader import ClinicConfig
from followup.core.domain import ChannelName, Client, Session
from followup.core.tips import Tip
from followup.core.tokens import Scope, sign
from followup.rendering.context import Links, message_context
from followup.rendering.templates import RenderedEmail, renderer


@dataclass(frozen=True)
class Composed:
    channel: ChannelName
    template: str
    language: str
    sms: str | None = None
    email: RenderedEmail | None = None
    unsubscribe_url: str | None = None

    @property
    def body(self) -> str:
        if self.sms is not None:
            return self.sms
        assert self.email is not None
        return self.email.text


def unsubscribe_url(clinic: ClinicConfig, client: Client, issued: datetime, scope: Scope = "marketing") -> str:
    """The email's link to ``/u/TOKEN``.  ``scope`` "marketing" (a marketing email: its footer
    and its RFC 8058 / RFC 2369 ``List-Unsubscribe`` header stop marketing email only) or
    "preferences" (a care email: a page to choose from, never a blanket unsubscribe)."""
    token = sign(
        clinic.settings.signing_key(),
        purpose="unsubscribe",
        client=client.external_id,
        channel="email",
        issued=issued,
        scope=scope,
    )
    return f"{clinic.settings.public_base_url}/u/{token}"


def templates_pinned(clinic: ClinicConfig) -> AbstractContextManager[None]:
    """A block in which :func:`compose` finds and checks each of the clinic's template files
    once (this thread): see :meth:`followup.rendering.templates.TemplateSet.pinned`."""
    return renderer(clinic.templates, clinic.settings.sms_transliterate).pinned()


def compose(
    clinic: ClinicConfig,
    *,
    client: Client,
    session: Session | None,
    visit_count: int,
    campaign_name: str,
    step_index: int,
    channel: ChannelName,
    now: datetime,
    tip: Tip | None = None,
    strip_accents: bool | None = None,
) -> Composed:
    """One step for one client, in the client's language when the clinic writes in it (else
    the default).  ``strip_accents`` overrides ``[sms] accents`` for that language (``check``
    prices Spanish SMS both ways); None: as configured."""
    campaign = clinic.campaigns[campaign_name]
    step = campaign.steps[step_index]
    language = client.language if client.language in clinic.settings.languages else clinic.settings.default_language
    scope: Scope = "marketing" if campaign.purpose == "marketing" else "preferences"
    unsubscribe = unsubscribe_url(clinic, client, now, scope) if channel == "email" else None
    context = message_context(
        settings=clinic.settings,
        client=client,
        session=session,
        visit_count=visit_count,
        campaign_name=campaign_name,
        campaign=campaign,
        step_name=campaign.step_name(step_index),
        channel=channel,
        links=Links(rebook=clinic.settings.booking_url, unsubscribe=unsubscribe),
        tip=tip,
        library=clinic.tips,
    )
    templates = renderer(clinic.templates, clinic.settings.sms_transliterate)
    if channel == "sms":
        return Composed(
            channel="sms",
            template=step.template,
            language=language,
            sms=templates.render_sms(
                step.template,
                language,
                context,
                strip=clinic.settings.strip_accents(language) if strip_accents is None else strip_accents,
            ),
        )
    return Composed(
        channel="email",
        template=step.template,
        language=language,
        email=templates.render_email(step.template, language, context),
        unsubscribe_url=unsubscribe,
    )
