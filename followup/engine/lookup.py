"""Finding a client from what an owner types: an id, a phone in any format, an email in any case."""

from __future__ import annotations

from dataclasses import dataclass

from followup.intake.values import email_address, phone_e164
from followup.store.port import ClientMatch, IntakeStore


@dataclass(frozen=True)
class Lookup:
    """The client found, or why none was: ``client_id`` is None when ``problem`` says why."""

    client_id: int | None
    problem: str = ""


def find_client(store: IntakeStore, ref: str, region: str = "US") -> Lookup:
    """``c-1001``, ``(305) 555-0142``, ``+1 305 555 0142`` or ``Ana@Example.COM`` -> the client.

    An id is matched as written; a phone or email that two clients share (a family) is
    reported with their ids, never guessed.
    """
    text = ref.strip()
    found = store.find_client_id(external_id=text)
    if found is not None:
        return Lookup(found)
    matches: list[ClientMatch] = []
    try:
        phone = phone_e164(text, region)
    except ValueError:
        phone = None
    if phone:
        matches = store.clients_with(phone=phone)
    elif "@" in text:
        try:
            email = email_address(text)
        except ValueError:
            email = text
        matches = store.clients_with(email=email or text)
    if len(matches) == 1:
        return Lookup(matches[0].id)
    if len(matches) > 1:
        names = ", ".join(f"{m.external_id} ({m.first_name})" for m in matches)
        return Lookup(None, f"{ref!r} belongs to {len(matches)} clients: {names}; use the client's id")
    return Lookup(None, f"no client with external id, phone or email {ref!r}")
