"""Deterministic, realistic benchmark data: Miami clients (Spanish and English names, 305/786
phones, emails) and their sessions, as dicts or as CSV files the importer reads.

Everything depends only on ``seed``: the same arguments give the same rows.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

FIRST_NAMES = (
    "María", "José", "Juan", "Ana", "Luis", "Carmen", "Carlos", "Rosa", "Jorge", "Isabel", "Miguel",
    "Lucía", "Alejandro", "Sofía", "Daniel", "Valentina", "Andrés", "Camila", "Javier", "Gabriela",
    "Ricardo", "Mariana", "Fernando", "Paola", "Raúl", "Daniela", "Yolanda", "Ernesto", "Marisol",
    "Osvaldo", "Yanelis", "Alberto", "Niurka", "Rafael", "Elena", "Héctor", "Beatriz", "Pedro",
    "Adriana", "Ramón", "James", "Emily", "Michael", "Jessica", "David", "Ashley", "Chris", "Sarah",
)  # fmt: skip
LAST_NAMES = (
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez",
    "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes", "Gutiérrez",
    "Ortiz", "Castillo", "Fernández", "Álvarez", "Ruiz", "Jiménez", "Vargas", "Castro", "Suárez",
    "Mendoza", "Rojas", "Medina", "Aguilar", "Delgado", "Cabrera", "Fuentes", "Quintero", "Valdés",
    "Smith", "Johnson", "Brown", "Miller", "Carter",
)  # fmt: skip
SERVICES = (
    "Neuromuscular therapy, 60 min",
    "Neuromuscular therapy, 90 min",
    "Deep tissue 60",
    "Swedish 60",
    "Sports massage 45",
    "Prenatal massage 60",
)
THERAPISTS = ("Daniel", "Yesenia", "Marcos", "Lourdes", "Kevin")
FOCUS = ("neck_shoulders", "upper_back", "lower_back", "hips_glutes", "legs_feet", "arms_hands", "jaw_head")
MIAMI = "America/New_York"
CLIENT_COLUMNS = (
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "timezone",
    "language",
    "preferred_channel",
    "sms_marketing",
    "email_marketing",
)
SESSION_COLUMNS = ("external_id", "client", "start", "end", "service", "therapist", "status", "focus")

_ASCII = str.maketrans("áéíóúÁÉÍÓÚñÑü", "aeiouAEIOUnNu")


@dataclass(frozen=True)
class ClientRow:
    external_id: str
    first_name: str
    last_name: str
    phone: str  # E.164
    email: str
    timezone: str
    language: str
    preferred_channel: str
    sms_marketing: bool
    email_marketing: bool

    def csv_row(self, n: int) -> list[str]:
        """As a booking system exports it: US phone formats, yes/no consent."""
        digits = self.phone[2:]
        shown = (
            f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if n % 3 == 0 else f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
        )
        return [
            self.external_id,
            self.first_name,
            self.last_name,
            shown,
            self.email,
            self.timezone,
            self.language,
            self.preferred_channel,
            "yes" if self.sms_marketing else "no",
            "yes" if self.email_marketing else "no",
        ]


def clients(
    count: int, seed: int = 12, *, timezone: str = MIAMI, prefix: str = "c", languages: tuple[str, ...] = ("en", "es")
) -> Iterator[ClientRow]:
    """``count`` distinct Miami clients; ids ``<prefix>0000001``...; unique phones and emails;
    Spanish speakers get ``es`` when ``languages`` has it (else the clinic's default, ``en``)."""
    spanish = "es" if "es" in languages else languages[0]
    rng = random.Random(seed)
    for n in range(1, count + 1):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        area = "305" if rng.random() < 0.6 else "786"
        # unique at any size up to 8M: exchange 200-999 (valid NANP), line from n
        phone = f"+1{area}{200 + (n // 10_000) % 800}{n % 10_000:04d}"
        email = f"{first}.{last}.{n}@example.com".lower().translate(_ASCII)
        yield ClientRow(
            external_id=f"{prefix}{n:07d}",
            first_name=first,
            last_name=last,
            phone=phone,
            email=email,
            timezone=timezone,
            language=spanish if rng.random() < 0.55 else "en",
            preferred_channel="sms" if rng.random() < 0.8 else "email",
            sms_marketing=rng.random() < 0.7,
            email_marketing=rng.random() < 0.85,
        )


@dataclass(frozen=True)
class SessionRow:
    external_id: str
    client: str
    start: datetime
    end: datetime
    service: str
    therapist: str
    status: str
    focus: tuple[str, ...]


def sessions(
    client_ids: list[str], count: int, seed: int, *, first: datetime, last: datetime, now: datetime
) -> Iterator[SessionRow]:
    """``count`` sessions over ``client_ids`` (every client gets at least one when count allows),
    starting between ``first`` and ``last`` on the hour in clinic hours; those ended by ``now``
    are completed (5% no-show), later ones booked (8% cancelled)."""
    rng = random.Random(seed + 1)
    span_hours = max(int((last - first).total_seconds() // 3600), 1)
    for n in range(count):
        client = client_ids[n] if n < len(client_ids) else rng.choice(client_ids)
        start = first + timedelta(hours=rng.randrange(span_hours))
        start = start.replace(minute=0, second=0, microsecond=0)
        minutes = rng.choice((45, 60, 60, 90))
        end = start + timedelta(minutes=minutes)
        if end <= now:
            status = "no_show" if rng.random() < 0.05 else "completed"
        else:
            status = "cancelled" if rng.random() < 0.08 else "booked"
        yield SessionRow(
            external_id=f"s{n + 1:07d}",
            client=client,
            start=start,
            end=end,
            service=rng.choice(SERVICES),
            therapist=rng.choice(THERAPISTS),
            status=status,
            focus=tuple(sorted(rng.sample(FOCUS, rng.choice((0, 1, 1, 2))))),
        )


def write_clients_csv(path: Path, count: int, seed: int = 12, languages: tuple[str, ...] = ("en", "es")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CLIENT_COLUMNS)
        for n, row in enumerate(clients(count, seed, languages=languages)):
            out.writerow(row.csv_row(n))
    return path


def write_sessions_csv(path: Path, rows: Iterator[SessionRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(SESSION_COLUMNS)
        for s in rows:
            out.writerow(
                [
                    *(s.external_id, s.client, s.start.isoformat(), s.end.isoformat()),
                    *(s.service, s.therapist, s.status, ";".join(s.focus)),
                ]
            )
    return path
