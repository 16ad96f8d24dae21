"""``POST /api/clients`` and ``POST /api/sessions``: JSON ingest for booking systems.

Idempotent by external id; validated by pydantic (clear 422 errors); documented in the
published OpenAPI schema (``/openapi.json``, ``/docs``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from followup.core.domain import Client, Consent, Session
from followup.engine.ingest import reachable, record_consent_changes
from followup.engine.planning import replan_client
from followup.intake.dates import start_at
from followup.intake.values import configured_language, phone_e164
from followup.timeutil import zone
from followup.web.context import WebContext


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=128)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field("", max_length=100)
    phone: str | None = Field(None, description="Any format; stored as E.164", max_length=40)
    email: str | None = Field(None, max_length=254)
    timezone: str | None = Field(None, description="IANA zone; default the clinic's")
    language: str | None = Field(
        None,
        max_length=64,
        description="A code or name as imports read it: es, ES, es-US, es_US, spa, Spanish, Español, "
        "castellano; it must be one of the clinic's `languages` (followup.toml), else 422. Omitted, "
        "null or empty: a stored client keeps their language (set by the owner, a keyword or an "
        "earlier call); a new client gets the clinic's default_language.",
        examples=["es-US"],
    )
    preferred_channel: Literal["sms", "email"] | None = None
    sms_marketing: bool = False
    email_marketing: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value:
            try:
                return str(validate_email(value, check_deliverability=False).normalized)
            except EmailNotValidError as exc:
                raise ValueError(str(exc)) from None
        return None


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=128)
    client: str = Field(min_length=1, description="The client's external id")
    start: str = Field(
        min_length=1,
        max_length=64,
        description="ISO 8601 (2026-12-03T15:00:00-05:00; without an offset: the clinic's time), "
        "or as exports write it: 12/03/2026 3:00 PM, December 3, 2026 3:00 pm",
        examples=["2026-12-03T15:00:00-05:00"],
    )
    end: str | None = Field(None, max_length=64, description="Same forms as start; default: start + 60 minutes")
    service: str = Field(min_length=1, max_length=200)
    therapist: str = Field("", max_length=100)
    status: Literal["booked", "completed", "cancelled", "no_show"] = "booked"
    focus_areas: list[str] = Field(default_factory=list, max_length=10)


class Stored(BaseModel):
    external_id: str
    outcome: Literal["created", "updated", "unchanged"]
    planned: int = 0


_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _when(text: str, field: str, tz: ZoneInfo) -> datetime:
    """A start or end as the importer reads it; a bad or absurd date is a 422 naming the value."""
    try:
        value = start_at(text, tz)
        if not _EARLIEST <= value <= _LATEST:
            raise ValueError(f"{text!r} is outside 1990-2100")
    except (ValueError, OverflowError) as exc:
        raise HTTPException(422, [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]) from None
    return value


def api_router(context: WebContext) -> APIRouter:
    router = APIRouter(tags=["ingest"])
    settings = context.clinic.settings

    @router.post("/clients", response_model=Stored, summary="Create or update a client by external id")
    def post_client(body: ClientIn) -> Stored:
        try:
            phone = phone_e164(body.phone or "", settings.default_region)  # the importer's own normaliser
        except ValueError as exc:
            raise HTTPException(422, [{"loc": ["body", "phone"], "msg": str(exc), "type": "value_error"}]) from None
        if not phone and not body.email:
            raise HTTPException(
                422, [{"loc": ["body"], "msg": "a phone or an email is required", "type": "value_error"}]
            )
        try:
            language = configured_language(body.language or "", settings.languages)
        except ValueError as exc:
            raise HTTPException(422, [{"loc": ["body", "language"], "msg": str(exc), "type": "value_error"}]) from None
        store, now = context.store, context.now()
        found = store.find_client_id(external_id=body.external_id)
        stored = store.client_state(found).client if found is not None else None
        if language is not None:
            language_source: str | None = "api"
        elif stored is not None:  # the call said nothing: what the owner or a keyword set stays
            language, language_source = stored.language, stored.language_source
        else:
            language, language_source = settings.default_language, "default"
        client = Client(
            external_id=body.external_id,
            first_name=body.first_name,
            last_name=body.last_name,
            phone=phone,
            email=body.email,
            timezone=body.timezone or settings.default_timezone,
            language=language,
            language_source=language_source,
            preferred_channel=body.preferred_channel or ("sms" if phone else "email"),
            consent=Consent(sms_marketing=body.sms_marketing, email_marketing=body.email_marketing),
        )
        said = body.model_fields_set
        sources = {flag: ("api" if flag in said else "default") for flag in ("sms_marketing", "email_marketing")}
        before = stored.consent if stored is not None else None
        if found is not None and before is not None:
            locked = store.opted_out_by_client(found)
            values = {
                # what the call did not say stays as recorded; care has no field here
                flag: (
                    getattr(before, flag)
                    if flag.endswith("_care") or sources.get(flag) == "default"
                    else getattr(client.consent, flag)
                )
                and flag not in locked
                for flag in ("sms_care", "sms_marketing", "email_care", "email_marketing")
            }
            client = Client(**{**client.__dict__, "consent": Consent(**values)})
        with store.transaction():  # the client row and its ledger rows together, or neither
            client_id, outcome = store.upsert_client(client, now)
            # every grant or withdrawal in the consent ledger, as an import records it
            record_consent_changes(
                store,
                client_id,
                before,
                client.consent,
                now,
                sources,
                via="api",
                channels=reachable(client),
                had=reachable(stored),
            )
            store.enforce_suppressions(client_id, now)  # an opted-out number stays out, whatever the API says
        return Stored(external_id=body.external_id, outcome=outcome)

    @router.post("/sessions", response_model=Stored, summary="Create or update a session by external id")
    def post_session(body: SessionIn) -> Stored:
        store, now = context.store, context.now()
        client_id = store.find_client_id(external_id=body.client)
        if client_id is None:
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", "client"],
                        "msg": f"no client {body.client!r}; POST /api/clients first",
                        "type": "value_error",
                    }
                ],
            )
        unknown = [f for f in body.focus_areas if f not in context.clinic.tips.focus_areas]
        if unknown:
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", "focus_areas"],
                        "msg": f"unknown {unknown}; allowed: {sorted(context.clinic.tips.focus_areas)}",
                        "type": "value_error",
                    }
                ],
            )
        tz = zone(settings.default_timezone)
        start = _when(body.start, "start", tz)  # the importer's own parser: one parser for every way in
        end = _when(body.end, "end", tz) if body.end else start + timedelta(minutes=60)
        if end < start:
            raise HTTPException(422, [{"loc": ["body", "end"], "msg": "end is before start", "type": "value_error"}])
        session = Session(
            external_id=body.external_id,
            client_external_id=body.client,
            start=start,
            end=end,
            service=body.service,
            therapist=body.therapist,
            focus_areas=tuple(body.focus_areas),
            status=body.status,
        )
        _, outcome = store.upsert_session(session, client_id, now)
        store.record_booking_refresh(now, "api")
        planned = replan_client(store, context.clinic, client_id, now).created if outcome != "unchanged" else 0
        return Stored(external_id=body.external_id, outcome=outcome, planned=planned)

    return router
