"""Start-up imports only what a command uses (issue 12, item 5): ``--help`` loads no command
module, and neither ``--help`` nor ``run --once`` loads the web stack.  Measured by which
modules are imported, not by time (timing belongs to bench/)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("fastapi", "uvicorn", "starlette", "sqlalchemy", "alembic", "jinja2", "twilio", "psycopg", "babel")


def loaded_after(code: str) -> list[str]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_help_imports_no_command_module() -> None:
    code = "from followup.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    assert loaded_after(code) == []


def test_the_worker_command_does_not_import_the_web_stack() -> None:
    assert not set(loaded_after("import followup.cli.run")) & {"fastapi", "uvicorn", "starlette"}


def test_a_command_still_gets_its_own_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "followup", "import", "clients", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "--mapping" in result.stdout
