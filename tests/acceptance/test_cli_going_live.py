"""Going live and running from cron (issue 11): missing live settings are listed by their
variables without a traceback; a command run where there is no config/ stops and says where
it looked instead of quietly using the starter set and a new empty database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.acceptance.test_cli_engine import env_for
from tests.conftest import REPO


def bare(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """followup run in ``tmp`` with no --config (as a cron line would)."""
    return subprocess.run(
        [sys.executable, "-m", "followup", *args],
        cwd=tmp,
        env=env_for(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_live_check_lists_every_missing_setting_by_its_variable(tmp_path: Path) -> None:
    result = bare(tmp_path, "check", "--config", str(REPO / "config"), FOLLOWUP_DELIVERY="live")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for variable in (
        "FOLLOWUP_SECRET_KEY",
        "FOLLOWUP_TWILIO_ACCOUNT_SID",
        "FOLLOWUP_TWILIO_AUTH_TOKEN",
        "FOLLOWUP_SMTP_HOST",
        "FOLLOWUP_SMTP_FROM",
        "FOLLOWUP_PUBLIC_BASE_URL",
    ):
        assert variable in result.stderr, variable


def test_a_command_run_where_there_is_no_config_says_where_it_looked(tmp_path: Path) -> None:
    for args in (("check",), ("schedule",), ("run", "--once"), ("import", "clients", "x.csv")):
        result = bare(tmp_path, *args)
        assert result.returncode == 1, args
        assert "Traceback" not in result.stderr
        assert f"{tmp_path / 'config'} (not found)" in result.stderr, result.stderr
        assert "FOLLOWUP_CONFIG_DIR" in result.stderr
    assert not (tmp_path / "followup.db").exists()  # no new empty database was made


def test_the_config_dir_variable_works_from_any_folder(tmp_path: Path) -> None:
    result = bare(tmp_path, "check", FOLLOWUP_CONFIG_DIR=str(REPO / "config"))
    assert result.returncode == 0, result.stderr
    assert "OK:" in result.stdout


def test_sample_data_may_use_the_starter_set(tmp_path: Path) -> None:
    result = bare(tmp_path, "run", "--once", "--sample-data")
    assert result.returncode == 0, result.stderr
    assert "12 rows" in result.stdout
