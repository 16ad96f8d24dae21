"""Real databases for integration tests: a fresh SQLite file, and a fresh PostgreSQL database.

PostgreSQL is the machine's server at 127.0.0.1:5432 (user postgres, trust auth).  When
it is not reachable the PostgreSQL cases are skipped locally, but fail under CI=true:
CI must prove both databases.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from followup.store.sql import SqlStore

PG_ADMIN = os.environ.get("FOLLOWUP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable at {PG_ADMIN}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    _pg_or_skip()
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'followup.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once per database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


REPO = Path(__file__).resolve().parents[2]
TWILIO_SPEC = REPO.parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"
PRISM = REPO / "tools" / "prism" / "node_modules" / ".bin" / "prism"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true (make test installs it)")
    pytest.skip(f"{what} not available")


@dataclass
class Prism:
    url: str
    log: Path

    def violations(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    """Prism mocking Twilio's official OpenAPI spec, with --errors: invalid requests get 422."""
    if not TWILIO_SPEC.exists():
        _missing(f"Twilio's OpenAPI spec ({TWILIO_SPEC})")
    if not PRISM.exists():
        _missing(f"Prism ({PRISM})")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [str(PRISM), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port), str(TWILIO_SPEC)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"Prism exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        else:
            pytest.fail("Prism did not start within 90 s")
        yield Prism(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    """A fresh store on each database, upgraded to the newest schema."""
    made = SqlStore.from_url(db_url)
    made.upgrade()
    try:
        yield made
    finally:
        made.close()
