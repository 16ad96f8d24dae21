"""``followup admin set-password`` as the owner runs it: the hash lands in the database, the
password nowhere; a short password is refused; asked twice when typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from followup.store.sql import SqlStore
from followup.web.passwords import verify_password
from tests.acceptance.test_cli_engine import env_for, followup
from tests.conftest import REPO

GOOD = "sea grape mangrove pelican"


def stored(tmp: Path) -> str | None:
    store = SqlStore.from_url(f"sqlite:///{tmp / 'followup.db'}")
    store.upgrade()
    try:
        return store.admin_password_hash()
    finally:
        store.close()


def run_with_input(tmp: Path, text: str, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "followup", "admin", "set-password", *args, "--config", str(REPO / "config")],
        cwd=tmp,
        env=env_for(tmp, FOLLOWUP_SECRET_KEY="a key for the dashboard"),
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_password_from_stdin_is_stored_as_a_scrypt_hash_only(tmp_path: Path) -> None:
    code, out, err = run_with_input(tmp_path, GOOD + "\n", "--password-stdin")
    assert code == 0, err
    assert "Dashboard password set. Sign in at http://127.0.0.1:8080/admin" in out
    hashed = stored(tmp_path)
    assert hashed is not None and hashed.startswith("scrypt$131072$8$1$")
    assert GOOD not in hashed and verify_password(GOOD, hashed)
    assert GOOD.encode() not in (tmp_path / "followup.db").read_bytes()


def test_a_short_password_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    code, _, err = run_with_input(tmp_path, "short\n", "--password-stdin")
    assert code == 1 and "at least 15 characters" in err
    assert stored(tmp_path) is None


def test_typed_twice_and_a_mismatch_asks_again(tmp_path: Path) -> None:
    typed = f"{GOOD}\n{GOOD} typo\n{GOOD}\n{GOOD}\n"
    code, out, err = run_with_input(tmp_path, typed)
    assert code == 0, err
    assert "do not match" in out + err
    hashed = stored(tmp_path)
    assert hashed is not None and verify_password(GOOD, hashed)


def test_help_has_an_example(tmp_path: Path) -> None:
    result = followup(tmp_path, "admin", "set-password", "--help")
    assert result.returncode == 0 and "Example: followup admin set-password" in result.stdout
