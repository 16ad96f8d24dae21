"""``followup clients show|optout|optin|set-language``: a client's data, consent and language, for the owner."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal

import typer

from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, load, out
from followup.cli.schedule import shown_time
from followup.engine.lookup import find_client
from followup.engine.worker import SystemClock
from followup.intake.values import configured_language
from followup.store.port import MessageQuery, Store
from followup.timeutil import zone
from followup.wiring import open_store

clients_app = typer.Typer(
    help="Look up a client; record an opt-out or opt-in by hand; set their language.", no_args_is_help=True
)
Channel = Literal["sms", "email"]
Purpose = Literal["all", "care", "marketing"]


def _find(store: Store, ref: str, region: str = "US") -> int:
    found = find_client(store, ref, region)
    if found.client_id is None:
        err.print(found.problem, markup=False)
        raise typer.Exit(EXIT_INVALID)
    return found.client_id


@clients_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="External id, phone or email.")],
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """A client's details, consent (with its history), sessions and messages.

    Example: followup clients show c-1001
    """
    clinic = load(config, templates)
    store = open_store(clinic)
    client_id = _find(store, ref, clinic.settings.default_region)
    state = store.client_state(client_id)
    c = state.client
    tz = zone(clinic.settings.default_timezone)

    def when(moment: datetime) -> str:  # every time in the clinic's zone, named
        return shown_time(moment.astimezone(tz))

    out.print(
        f"{c.full_name} ({c.external_id}) phone {c.phone or '-'} email {c.email or '-'} "
        f"zone {c.timezone} language {c.language}{f' ({c.language_source})' if c.language_source else ''} "
        f"prefers {c.preferred_channel}",
        markup=False,
    )
    addresses = {"sms": c.phone, "email": c.email}

    def said(flag: str, value: bool) -> str:  # a channel without an address reaches nobody, whatever the flag
        if not addresses[flag.split("_", maxsplit=1)[0]]:
            return "no address"
        return "yes" if value else "no"

    out.print(
        "consent: " + ", ".join(f"{k.replace('_', ' ')} {said(k, v)}" for k, v in c.consent.__dict__.items()),
        markup=False,
    )
    for event in store.consent_history(client_id):
        out.print(
            f"  {when(event['at'])} {event['action']} {event['channel']} {event['purpose']} "
            f"({event['source']}) {event['wording']!r}",
            markup=False,
        )
    for s in state.sessions:
        out.print(f"session {s.external_id} {when(s.start)} {s.status} {s.service}", markup=False)
    for m in store.messages(MessageQuery(client_external_id=c.external_id)):
        out.print(
            f"message {m.id} {m.campaign}/{m.step} {m.status} due {when(m.due_at)}"
            + (f" ({m.status_reason})" if m.status_reason else ""),
            markup=False,
        )


def _change(
    ref: str, channel: Channel, purpose: Purpose, action: str, note: str, config: ConfigOpt, templates: TemplatesOpt
) -> None:
    store = open_store(load(config, templates))
    client_id = _find(store, ref)
    store.record_consent(client_id, channel, purpose, action, SystemClock().now(), source="owner", wording=note)
    out.print(f"recorded: {action} {channel} {purpose} for {ref}", markup=False)


@clients_app.command("optout")
def optout(
    ref: Annotated[str, typer.Argument()],
    channel: Annotated[Channel, typer.Option("--channel")] = "sms",
    purpose: Annotated[Purpose, typer.Option("--purpose")] = "all",
    note: Annotated[str, typer.Option("--note", help="What the client said, for the ledger.")] = "",
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Record an opt-out the client asked for by phone or in person.

    Example: followup clients optout c-1001 --channel sms --purpose marketing --note "asked at the desk"
    """
    _change(ref, channel, purpose, "opt_out", note, config, templates)


@clients_app.command("optin")
def optin(
    ref: Annotated[str, typer.Argument()],
    channel: Annotated[Channel, typer.Option("--channel")] = "sms",
    purpose: Annotated[Purpose, typer.Option("--purpose")] = "all",
    note: Annotated[str, typer.Option("--note", help="The consent wording the client agreed to.")] = "",
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Record consent the client gave (marketing SMS needs it).

    Example: followup clients optin c-1001 --channel sms --purpose marketing --note "signed intake form 2026-12-01"
    """
    _change(ref, channel, purpose, "opt_in", note, config, templates)


@clients_app.command("set-language")
def set_language(
    ref: Annotated[str, typer.Argument(help="External id, phone or email.")],
    language: Annotated[str, typer.Argument(help="A code or name: es, es-US, Spanish, Español, en.")],
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Set the language a client's messages, keyword replies and pages are written in.

    It must be one of `languages` in followup.toml.  (An import whose file has a language
    column sets it too; a Spanish keyword such as PARAR or AYUDA from a client whose
    language nobody chose sets Spanish, an English one English; never one set here.)

    Example: followup clients set-language c-1001 es
    """
    clinic = load(config, templates)
    languages = clinic.settings.languages
    try:
        code = configured_language(language, languages)
    except ValueError as exc:
        err.print(f"{exc}; the client would get the default language", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    if code is None:
        err.print(f"a language is required: one of {', '.join(languages)} (e.g. es, Spanish, Español)", markup=False)
        raise typer.Exit(EXIT_INVALID)
    store = open_store(clinic)
    client_id = _find(store, ref, clinic.settings.default_region)
    client = store.client_state(client_id).client
    # recorded as the owner's choice even when unchanged: a keyword never overrides it
    store.upsert_client(replace(client, language=code, language_source="owner"), SystemClock().now())
    if client.language == code:
        out.print(f"{client.full_name} ({client.external_id}): language already {code}", markup=False)
        return
    out.print(f"{client.full_name} ({client.external_id}): language {client.language} -> {code}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(clients_app, name="clients")
