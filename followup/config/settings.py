"""Settings: environment > ``.env`` > ``config/followup.toml`` > defaults.

``followup.toml`` groups settings in tables (``[smtp] host = ...``); a table and key
flatten to one setting (``smtp_host``), whose environment variable is
``FOLLOWUP_SMTP_HOST``.  Secrets (tokens, passwords, the signing key) are refused in
the TOML file: files under ``config/`` are meant to be committed and shared.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from contextvars import ContextVar
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from followup.config.paths import shown_path
from followup.core.durations import parse_duration
from followup.core.keywords import KeywordTable, help_text
from followup.exceptions import ConfigIssue, SettingsError
from followup.timeutil import zone

ENV_PREFIX = "FOLLOWUP_"
SETTINGS_FILE = "followup.toml"
SECRET_FIELDS = frozenset({"twilio_auth_token", "smtp_password", "secret_key", "api_token"})

# Twilio's standard opt-out, opt-in and help words for long codes (the CTIA's), as listed in
# "Customize users' opt-in and opt-out experience with Advanced Opt-Out",
# https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out : STOP, UNSUBSCRIBE, END,
# QUIT, STOPALL, REVOKE, OPTOUT, CANCEL; START, YES, UNSTOP; HELP, INFO.  Matching ignores case,
# accents, punctuation and emoji around the word (followup.core.keywords.normalise), so
# "OPT OUT" also covers "opt-out" and "Opt out."; Spanish words follow each list.
DEFAULT_STOP = [
    "STOP",
    "STOP ALL",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPT OUT",
    "OPTOUT",
    "PARAR",
    "BAJA",
    "CANCELAR",
    "ALTO",
]
# Only ever undo an earlier STOP of the same number (followup.web.inbound); never new consent.
DEFAULT_START = ["START", "YES", "UNSTOP", "COMENZAR", "ALTA", "SI"]
DEFAULT_HELP = ["HELP", "INFO", "AYUDA"]
DEFAULT_STOP_MARKETING = ["STOP TIPS", "STOP PROMOS", "PARAR CONSEJOS"]
# Only for dry-run: links work locally, but nothing signed with it should leave the machine.
DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - public on purpose, dry-run only

_toml_values: ContextVar[dict[str, Any] | None] = ContextVar("_toml_values", default=None)


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


class _TomlSource(PydanticBaseSettingsSource):
    """Feeds the already-flattened ``followup.toml`` values (see :func:`load_settings`)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = _toml_values.get() or {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_values.get() or {})


class Settings(BaseSettings):
    """What the clinic decides once; every field documented in README's Settings table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    # The business, as clients see it.  CAN-SPAM requires the postal address in every email.
    business_name: str = "Shoreline Neuromuscular Therapy"
    business_short_name: str = "Shoreline NMT"
    business_address: str = "1234 Collins Ave, Suite 200, Miami Beach, FL 33139"
    business_phone: str = "+1 305 555 0142"
    business_email: str = "hello@shoreline-nmt.example"
    # Where the weekly digest goes (Monday 8:00, clinic time); the business email when unset.
    business_owner_email: str | None = None
    digest_enabled: bool = True
    business_website: str = "https://shoreline-nmt.example"
    booking_url: str = "https://shoreline-nmt.example/book"
    public_base_url: str = "http://127.0.0.1:8080"

    default_timezone: str = "America/New_York"
    default_region: str = "US"
    default_language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en", "es"])

    send_window_start: time = time(9, 0)
    send_window_end: time = time(20, 0)
    cap_any_per_day: int = Field(3, ge=1, le=20)
    cap_marketing_per_day: int = Field(1, ge=0, le=20)
    # SMS cost (see README, What an SMS costs): check fails above max_segments; at send time
    # a longer care text is sent with a warning, a longer marketing text is suppressed.
    sms_max_segments: int = Field(3, ge=1, le=10)
    sms_smart_encoding: bool = True
    sms_transliterate: bool = True  # values inserted into SMS spelt in GSM-7 (Zoë -> Zoe, emoji dropped)
    # Accents GSM-7 lacks (á í ó ú) in the whole SMS, the template's own words too: "strip"
    # (default: one GSM-7 segment holds 160 characters) or "keep" (UCS-2: 70).  One value for
    # every language (accents = "keep") or per language (accents = {es = "keep"}; "*" = others).
    # NoDecode: FOLLOWUP_SMS_ACCENTS=keep is a plain word, not JSON (JSON objects are read in _accents).
    sms_accents: Annotated[dict[str, Literal["keep", "strip"]], NoDecode] = Field(
        default_factory=lambda: dict[str, Literal["keep", "strip"]]({"*": "strip"})
    )
    # What one SMS segment costs, for the report's cost estimate (USD; Twilio's US list price
    # per outbound segment on a long code, before carrier fees, as of 2026).
    sms_price_per_segment: float = Field(0.0083, ge=0, le=10)

    # The dispatcher's last guard: never the same body to the same client twice within this
    # ("24h", "2d"; "0" turns the guard off).
    sends_duplicate_window: timedelta = timedelta(hours=24)
    # Rebook nudges and win-backs wait while booking data (the last import or API call) is older
    # than this: a client may have booked since ("36h"; "0" turns the hold off).
    intake_max_staleness: timedelta = timedelta(hours=36)
    # The report's last-touch attribution: a booking made within this after a marketing message
    # reached the client is credited to that message ("7d", "72h").
    report_attribution_window: timedelta = timedelta(days=7)

    database_url: str = "sqlite:///var/followup.db"
    delivery: Literal["dryrun", "live"] = "dryrun"
    outbox_dir: Path = Path("var/outbox")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    twilio_timeout_seconds: float = Field(10.0, gt=0, le=120)
    twilio_messages_per_second: float = Field(1.0, gt=0, le=100)

    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_from: str | None = None
    smtp_reply_to: str | None = None
    smtp_ca_file: Path | None = None  # trust this CA (a private relay's certificate) besides the system's
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=300)

    secret_key: SecretStr | None = None
    api_token: SecretStr | None = None  # bearer token for POST /api/clients and /api/sessions

    # The web app (webhooks, unsubscribe pages, ingest API).
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)  # 0: followup run does not serve it
    web_max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Inbound SMS keywords, matched on the whole message as keywords.normalise reads it.
    keywords_stop: list[str] = Field(default_factory=lambda: list(DEFAULT_STOP))
    keywords_start: list[str] = Field(default_factory=lambda: list(DEFAULT_START))
    keywords_help: list[str] = Field(default_factory=lambda: list(DEFAULT_HELP))
    keywords_stop_marketing: list[str] = Field(default_factory=lambda: list(DEFAULT_STOP_MARKETING))
    keywords_extra: dict[str, str] = Field(default_factory=lambda: {"BOOK": "Book your next session: {booking_url}"})

    # The worker: how often it looks at the outbox, re-plans, and how long a claim may last
    # before another worker may assume its owner died (keep it well above a batch's send time).
    worker_dispatch_seconds: float = Field(30, gt=0)
    worker_scan_seconds: float = Field(3600, gt=0)
    worker_lease_seconds: float = Field(900, gt=0)
    worker_batch_size: int = Field(20, ge=1, le=1000)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, _TomlSource(settings_cls))

    @field_validator("sms_accents", mode="before")
    @classmethod
    def _accents(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("{"):  # the environment's JSON object
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{value!r} is not a JSON object ({exc})") from None
        if isinstance(value, str):  # accents = "keep": every language
            return {"*": value.strip()}
        if isinstance(value, dict):
            for code in value:
                if code != "*" and not re.fullmatch(r"[a-z]{2}", str(code)):
                    raise ValueError(
                        f"{code!r} is not a two-letter language code (examples: es, en, or * for the rest)"
                    )
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("report_attribution_window", mode="before")
    @classmethod
    def _window(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value.strip())
        if isinstance(value, timedelta):
            return value
        raise ValueError(f"{value!r} is not a duration (examples: 7d, 72h)")

    @field_validator("report_attribution_window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the attribution window must be longer than 0 (examples: 7d, 72h)")
        return value

    @field_validator("sends_duplicate_window", "intake_max_staleness", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return timedelta(0) if text in ("0", "off") else parse_duration(text)
        if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
            return timedelta(0)
        if isinstance(value, timedelta):
            return value
        raise ValueError(f"{value!r} is not a duration (examples: 24h, 2d, 0 to turn the guard off)")

    @field_validator("public_base_url", "booking_url", "business_website", "twilio_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL (example: https://clinic.example)")
        return value.rstrip("/")

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not a two-letter language code (examples: en, es)")
        return value

    @model_validator(mode="after")
    def _window_and_language(self) -> Settings:
        if self.send_window_start >= self.send_window_end:
            raise ValueError(
                f"send window start {self.send_window_start:%H:%M} must be before its end {self.send_window_end:%H:%M}"
            )
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages {self.languages}")
        return self

    # --- derived ---------------------------------------------------------------

    def keyword_table(self) -> KeywordTable:
        """The inbound keywords as the pure classifier takes them."""
        return KeywordTable(
            stop_marketing=tuple(self.keywords_stop_marketing),
            stop=tuple(self.keywords_stop),
            start=tuple(self.keywords_start),
            help=tuple(self.keywords_help),
            extra=dict(self.keywords_extra),
        )

    def help_reply(self, language: str = "en") -> str:
        return help_text(self.business_name, self.business_phone, self.cap_any_per_day, language)

    def strip_accents(self, language: str) -> bool:
        """Whether SMS in ``language`` lose the accents GSM-7 lacks (``[sms] accents``)."""
        return self.sms_accents.get(language, self.sms_accents.get("*", "strip")) == "strip"

    def signing_key(self) -> str:
        """The key that signs links; the dev key only ever in dry-run."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.delivery == "live":
            raise SettingsError(
                [ConfigIssue(env_name("secret_key"), None, "", "not set (required when FOLLOWUP_DELIVERY=live)")]
            )
        return DEV_SECRET_KEY

    def secret_values(self) -> list[str]:
        """Every secret's value, for the log filter that masks them."""
        out = []
        for name in SECRET_FIELDS:
            value = getattr(self, name, None)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return out

    def live_problems(self) -> list[ConfigIssue]:
        """What live delivery still needs, each named by its environment variable."""
        if self.delivery != "live":
            return []
        needed = "required when FOLLOWUP_DELIVERY=live"
        problems: list[ConfigIssue] = []

        def missing(field: str, why: str = needed) -> None:
            problems.append(ConfigIssue(env_name(field), None, "", f"not set ({why})"))

        for field in ("twilio_account_sid", "twilio_auth_token", "smtp_host", "smtp_from", "secret_key"):
            if getattr(self, field) in (None, ""):
                missing(field)
        if not (self.twilio_from or self.twilio_messaging_service_sid):
            missing("twilio_from", f"set it or {env_name('twilio_messaging_service_sid')}; {needed}")
        if self.public_base_url.startswith("http://127.") or "localhost" in self.public_base_url:
            problems.append(
                ConfigIssue(
                    env_name("public_base_url"),
                    None,
                    "",
                    f"{self.public_base_url!r} is not reachable by clients or Twilio ({needed})",
                )
            )
        return problems


# --- loading -------------------------------------------------------------------


def _toml_line(lines: list[str], table: str | None, key: str) -> int | None:
    current: str | None = None
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        header = re.match(r"^\[([^\[\]]+)\]", text)
        if header:
            current = header.group(1).strip()
            continue
        if current == table and re.match(rf"^{re.escape(key)}\s*=", text):
            return number
    return None


TOML_TABLES = (
    "business",
    "send_window",
    "sms",
    "sends",
    "intake",
    "database",
    "twilio",
    "smtp",
    "worker",
    "cap",
    "web",
    "keywords",
)


def _toml_spelling(field: str) -> str:
    """How a setting is written in followup.toml: ``smtp_host`` -> ``smtp.host``."""
    for table in TOML_TABLES:
        if field.startswith(table + "_"):
            return f"{table}.{field[len(table) + 1 :]}"
    return field


def read_toml(path: Path, shown: str) -> tuple[dict[str, Any], dict[str, tuple[int | None, str]], list[ConfigIssue]]:
    """Flatten ``followup.toml``: (values by field, (line, key path) by field, issues)."""
    issues: list[ConfigIssue] = []
    if not path.exists():
        return {}, {}, issues
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        issues.append(ConfigIssue(shown, int(match.group(1)) if match else None, "", f"TOML syntax error: {exc}"))
        return {}, {}, issues
    lines = text.splitlines()
    values: dict[str, Any] = {}
    where: dict[str, tuple[int | None, str]] = {}
    known = set(Settings.model_fields)
    for top_key, top_value in data.items():
        entries = top_value.items() if isinstance(top_value, dict) else [(None, top_value)]
        for sub_key, value in entries:
            table = top_key if sub_key is not None else None
            key = sub_key if sub_key is not None else top_key
            field = f"{top_key}_{sub_key}" if sub_key is not None else top_key
            path_text = f"{top_key}.{sub_key}" if sub_key is not None else top_key
            line = _toml_line(lines, table, key)
            if field in SECRET_FIELDS:
                issues.append(
                    ConfigIssue(
                        shown,
                        line,
                        path_text,
                        f"secrets may not be kept under config/; set {env_name(field)} in the environment or in .env",
                    )
                )
            elif field not in known:
                allowed = ", ".join(sorted(_toml_spelling(f) for f in known - SECRET_FIELDS))
                issues.append(ConfigIssue(shown, line, path_text, f"unknown setting (allowed: {allowed})"))
            else:
                values[field] = value
                where[field] = (line, path_text)
    return values, where, issues


def _dotenv_lines(env_file: Path | None) -> dict[str, int]:
    if env_file is None or not env_file.exists():
        return {}
    out: dict[str, int] = {}
    for number, raw in enumerate(env_file.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", raw)
        if match:
            out[match.group(1).upper()] = number
    return out


def load_settings(config_dir: Path | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Build :class:`Settings`, turning every problem into a :class:`SettingsError` that
    names where the bad value came from (variable, ``.env`` line or TOML line)."""
    toml_path = (config_dir / SETTINGS_FILE) if config_dir is not None else None
    shown = str(shown_path(toml_path)) if toml_path is not None else SETTINGS_FILE
    values, where, issues = read_toml(toml_path, shown) if toml_path else ({}, {}, [])
    token = _toml_values.set(values)
    try:
        settings = Settings(_env_file=env_file)
    except ValidationError as exc:
        issues.extend(_attribute(exc, env_file, where, shown))
        raise SettingsError(issues) from None
    finally:
        _toml_values.reset(token)
    if issues:
        raise SettingsError(issues)
    return settings


def _attribute(
    exc: ValidationError, env_file: Path | None, where: dict[str, tuple[int | None, str]], shown: str
) -> list[ConfigIssue]:
    dotenv = _dotenv_lines(env_file)
    dotenv_keys = {k.upper() for k in (dotenv_values(env_file) if env_file and env_file.exists() else {})}
    out = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = _clean(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "unknown setting (see README, Settings)"
        var = env_name(field) if field else "settings"
        if field and var in os.environ:
            out.append(ConfigIssue(f"environment variable {var}", None, "", message))
        elif field and var in dotenv_keys:
            out.append(ConfigIssue(str(env_file), dotenv.get(var), var, message))
        elif field in where:
            line, path_text = where[field]
            out.append(ConfigIssue(shown, line, path_text, message))
        else:
            out.append(ConfigIssue(var, None, "", message))
    return out


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")
