from __future__ import annotations

import logging
from pathlib import Path

import pytest

from followup.cli.logs import RedactSecrets
from followup.config.settings import load_settings
from followup.exceptions import SettingsError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "nowhere", env_file=None)
    assert settings.delivery == "dryrun"
    assert settings.default_timezone == "America/New_York"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.twilio_api_url == "https://api.twilio.com"


def test_precedence_env_over_dotenv_over_toml_over_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    write(config / "followup.toml", '[business]\nname = "From TOML"\nphone = "toml-phone"\naddress = "toml-addr"\n')
    env_file = write(tmp_path / ".env", "FOLLOWUP_BUSINESS_NAME=From dotenv\nFOLLOWUP_BUSINESS_PHONE=dotenv-phone\n")
    monkeypatch.setenv("FOLLOWUP_BUSINESS_NAME", "From env")
    settings = load_settings(config, env_file=env_file)
    assert settings.business_name == "From env"
    assert settings.business_phone == "dotenv-phone"
    assert settings.business_address == "toml-addr"
    assert settings.business_email == "hello@shoreline-nmt.example"  # default


def test_toml_tables_flatten_to_env_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    write(
        config / "followup.toml",
        '[smtp]\nhost = "mail.toml"\nport = 2525\ntls = "ssl"\n[send_window]\nstart = "08:30"\n',
    )
    monkeypatch.setenv("FOLLOWUP_SMTP_PORT", "465")
    settings = load_settings(config, env_file=None)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("mail.toml", 465, "ssl")
    assert settings.send_window_start.hour == 8 and settings.send_window_start.minute == 30


def test_secrets_refused_in_toml_with_line_and_variable(tmp_path: Path) -> None:
    config = tmp_path / "config"
    write(config / "followup.toml", 'delivery = "dryrun"\n\n[smtp]\nhost = "x"\npassword = "hunter2"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env_file=None)
    (issue,) = caught.value.issues
    assert str(issue) == (
        "config/followup.toml:5: smtp.password: secrets may not be kept under config/; "
        "set FOLLOWUP_SMTP_PASSWORD in the environment or in .env"
    )


def test_unknown_and_invalid_toml_keys_named_with_lines(tmp_path: Path) -> None:
    config = tmp_path / "config"
    write(config / "followup.toml", '[smtp]\nhots = "x"\nport = "not a port"\ntls = "tls"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env_file=None)
    text = [str(i) for i in caught.value.issues]
    assert any(":2: smtp.hots: unknown setting (allowed: " in t and "smtp.host" in t for t in text), text
    assert any(":3: smtp.port: " in t for t in text), text
    assert any(":4: smtp.tls: " in t and "'none', 'starttls' or 'ssl'" in t for t in text), text


def test_bad_values_from_env_and_dotenv_name_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write(tmp_path / ".env", "# comment\nFOLLOWUP_DELIVERY=sometimes\n")
    monkeypatch.setenv("FOLLOWUP_DEFAULT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "config", env_file=env_file)
    text = sorted(str(i) for i in caught.value.issues)
    assert text[0].startswith(f"{env_file}:2: FOLLOWUP_DELIVERY: ")
    assert text[1].startswith("environment variable FOLLOWUP_DEFAULT_TIMEZONE: 'Mars/Olympus' is not an IANA time zone")


def test_live_requirements_named_by_exact_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_DELIVERY", "live")
    monkeypatch.setenv("FOLLOWUP_TWILIO_ACCOUNT_SID", "AC123")
    settings = load_settings(tmp_path, env_file=None)
    names = {str(p.file) for p in settings.live_problems()}
    assert names == {
        "FOLLOWUP_TWILIO_AUTH_TOKEN",
        "FOLLOWUP_SMTP_HOST",
        "FOLLOWUP_SMTP_FROM",
        "FOLLOWUP_SECRET_KEY",
        "FOLLOWUP_TWILIO_FROM",
        "FOLLOWUP_PUBLIC_BASE_URL",
    }
    with pytest.raises(SettingsError, match="FOLLOWUP_SECRET_KEY: not set"):
        settings.signing_key()


def test_secrets_masked_in_repr_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FOLLOWUP_TWILIO_AUTH_TOKEN", "tok-very-secret-123")
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "signing-key-456")
    settings = load_settings(tmp_path, env_file=None)
    assert "tok-very-secret-123" not in repr(settings) and "signing-key-456" not in str(settings)
    logger = logging.getLogger("followup.test")
    logger.addFilter(RedactSecrets(settings.secret_values()))
    with caplog.at_level(logging.INFO, logger="followup.test"):
        logger.info("calling with token %s and key %s", "tok-very-secret-123", "signing-key-456")
    assert caplog.records[0].getMessage() == "calling with token *** and key ***"


def test_send_window_must_be_ordered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_SEND_WINDOW_START", "21:00")
    with pytest.raises(SettingsError, match="send window start 21:00 must be before its end 20:00"):
        load_settings(tmp_path, env_file=None)
