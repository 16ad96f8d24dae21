"""Import benchmark helpers: a realistic clients export, and the Core-insert baseline.

Run by hand from the repository root (not a test; nothing here asserts a speed)::

    .venv/bin/python bench/import_baseline.py generate 1000000 /tmp/clients_1m.csv
    .venv/bin/python bench/import_baseline.py baseline /tmp/clients_1m.csv --db sqlite:////tmp/base.db
    /usr/bin/time -v .venv/bin/followup import clients /tmp/clients_1m.csv   # FOLLOWUP_DATABASE_URL=...

``generate`` writes N clients as a Miami clinic's booking system exports them: Spanish and
English names with accents, phones in mixed formats (some blank), emails in mixed case (some
blank), consent words and languages in several spellings, a few time zones; seeded, so the
same N gives the same file.

``baseline`` is the speed an import is compared with: the same rows already turned into
column dicts (no reading, checking or matching, prepared before the clock starts), inserted
with ``insert(clients)`` executemany in batches of ``--batch`` into a freshly migrated
database, in one transaction.  It prints rows, seconds and rows/s.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from followup.store.schema import clients
from followup.store.sql import SqlStore

FIRST = (
    "María", "José", "Lucía", "Álvaro", "Sofía", "Andrés", "Valentina", "Martín", "Camila", "Sebastián",
    "Isabel", "Raúl", "Ximena", "Nicolás", "Inés", "Joaquín", "Mónica", "Ángel", "Daniela", "Julián",
    "Emily", "Michael", "Jessica", "David", "Ashley", "Chris", "Zoë", "François", "Renée", "Noël",
)  # fmt: skip
LAST = (
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Núñez", "Peña", "Ibáñez", "Fernández-Núñez", "de la Cruz", "Castillo", "Díaz", "Suárez", "Smith",
    "Johnson", "O'Brien", "Miller", "Brown", "Nguyen", "Cohen",
)  # fmt: skip
AREAS = ("305", "786", "954", "561", "407", "813")
HEADER = [
    "Client ID", "First Name", "Last Name", "Mobile Phone", "Email", "Preferred Language", "Time Zone",
    "SMS Marketing", "Email Marketing",
]  # fmt: skip


def _phone(rng: random.Random) -> str:
    area, exchange, line = rng.choice(AREAS), rng.randint(201, 989), rng.randint(0, 9999)
    shape = rng.randrange(6)
    if shape == 0:
        return f"({area}) {exchange}-{line:04d}"
    if shape == 1:
        return f"{area}-{exchange}-{line:04d}"
    if shape == 2:
        return f"{area}.{exchange}.{line:04d}"
    if shape == 3:
        return f"+1 {area} {exchange} {line:04d}"
    if shape == 4:
        return f"{area}{exchange}{line:04d}"
    return f"1-{area}-{exchange}-{line:04d}"


def _ascii(name: str) -> str:
    table = str.maketrans("áéíóúñüÁÉÍÓÚÑëçË", "aeiounuAEIOUNecE")
    return "".join(c for c in name.translate(table).lower() if c.isalnum())


def generate(rows: int, path: Path, seed: int = 12) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            phone = "" if rng.random() < 0.06 else _phone(rng)
            email = ""
            if not phone or rng.random() > 0.12:
                user = f"{_ascii(first)}.{_ascii(last)}{i}"
                domain = rng.choice(("gmail.com", "yahoo.com", "hotmail.com", "icloud.com", "bellsouth.net"))
                email = f"{user.title() if rng.random() < 0.2 else user}@{domain}"
            language = rng.choice(("", "", "", "en", "es", "Spanish", "Español", "es-US", "English"))
            tz = rng.choice(("", "", "", "", "America/New_York", "Eastern Time (US & Canada)", "America/Chicago"))
            sms = rng.choice(("", "yes", "no", "Y", "N", "subscribed", "unsubscribed"))
            mail = rng.choice(("", "yes", "no", "true", "false", "opted in"))
            out.writerow([f"C{100000 + i}", first, last, phone, email, language, tz, sms, mail])


def baseline(path: Path, url: str, batch: int) -> None:
    now = datetime.now(UTC)
    prepared = []
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        for cells in reader:
            prepared.append(
                {
                    "external_id": cells[0],
                    "first_name": cells[1],
                    "last_name": cells[2],
                    "phone": cells[3] or None,
                    "email": cells[4] or None,
                    "timezone": "America/New_York",
                    "language": "en",
                    "preferred_channel": "sms",
                    "consent_sms_care": True,
                    "consent_sms_marketing": cells[7] == "yes",
                    "consent_email_care": True,
                    "consent_email_marketing": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    store = SqlStore.from_url(url)
    store.upgrade()
    started, cpu = time.perf_counter(), time.process_time()
    with store.engine.begin() as conn:
        for start in range(0, len(prepared), batch):
            conn.execute(insert(clients), prepared[start : start + batch])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    print(
        f"baseline: {len(prepared)} rows in {seconds:.1f} s = {len(prepared) / seconds:,.0f} rows/s "
        f"(this process's CPU: {cpu:.1f} s; {url})"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a realistic clients export")
    gen.add_argument("rows", type=int)
    gen.add_argument("path", type=Path)
    base = sub.add_parser("baseline", help="time insert(clients) executemany of the file's rows")
    base.add_argument("path", type=Path)
    base.add_argument("--db", required=True, help="an empty database's URL (it is migrated first)")
    base.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.rows, args.path)
    else:
        baseline(args.path, args.db, args.batch)


if __name__ == "__main__":
    main(sys.argv[1:])
