"""One typed settings object, read from explicit arguments first, then HAVEN_* variables."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"
SUPPORTED_LANGUAGES = ("en", "fr", "es", "pt", "sw")

# Secrets a production deployment must set explicitly (dev generates throwaway ones under var/).
# HAVEN_ACTION_SECRET: the shared secret Rasa sends to the action/NLG server (header
# ACTION_SECRET_HEADER, set in endpoints.yml); with several machines :5055 is not loopback.
PRODUCTION_REQUIRED = (
    "HAVEN_MASTER_KEY", "HAVEN_PSEUDONYM_KEY", "HAVEN_DATABASE_URL", "HAVEN_PUBLIC_URL", "HAVEN_ACTION_SECRET",
)
ACTION_SECRET_HEADER = "X-Haven-Action-Secret"


class SettingsError(RuntimeError):
    """Configuration is missing or invalid; the message names the variable, never its value."""


def _b64key(name: str, value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a config error
        raise SettingsError(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise SettingsError(f"{name} must decode to 32 bytes (got {len(raw)})")
    return raw


def new_key_b64() -> str:
    """A fresh random 32-byte key, urlsafe-base64 encoded (for `.env` files)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _dev_secret(name: str) -> str:
    """A per-checkout development key kept in var/dev-secrets/, created on first use."""
    folder = VAR_DIR / "dev-secrets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key_b64())
    return path.read_text().strip()


def _proxies(value: Optional[str]) -> tuple[str, ...]:
    """HAVEN_TRUSTED_PROXIES: comma-separated addresses or networks (CIDR) of reverse proxies."""
    items = tuple(item.strip() for item in (value or "").split(",") if item.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SettingsError("HAVEN_TRUSTED_PROXIES must list IP addresses or networks") from exc
    return items


@dataclass(frozen=True)
class Settings:
    """Haven's configuration. Every field maps to one HAVEN_* variable (see .env.example)."""

    env: str = "dev"
    database_url: str = ""
    redis_url: Optional[str] = None
    public_url: str = "http://localhost:5005"
    master_key: bytes = field(default=b"", repr=False)
    master_key_id: str = "k1"
    old_master_keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    pseudonym_key: bytes = field(default=b"", repr=False)
    twilio_account_sid: Optional[str] = None
    twilio_auth_token: Optional[str] = field(default=None, repr=False)
    twilio_sms_from: Optional[str] = None
    twilio_whatsapp_from: Optional[str] = None
    twilio_whatsapp_template_sid: Optional[str] = None
    twilio_api_base: str = "https://api.twilio.com"
    telegram_token: Optional[str] = field(default=None, repr=False)
    telegram_secret: Optional[str] = field(default=None, repr=False)
    telegram_api_base: str = "https://api.telegram.org"
    sms_max_segments: int = 4
    retention_days: int = 30
    receipt_days: int = 366
    # A pending turn whose owner stopped heart-beating this long is re-run by another replica.
    pending_lease_seconds: int = 15
    cover_text: Optional[str] = None
    # Per-language quick-exit cover text (HAVEN_COVER_TEXT_FR, ...); "" sends nothing in that language.
    cover_texts: Mapping[str, str] = field(default_factory=dict)
    default_country: str = "KE"
    # The countries this deployment serves (HAVEN_COUNTRIES). Only a single-country deployment
    # answers with its country's numbers before a conversation's country is known.
    countries: tuple[str, ...] = ("KE",)
    rasa_url: str = "http://127.0.0.1:5005"
    action_url: str = "http://127.0.0.1:5055"
    action_secret: str = field(default="", repr=False)
    console_port: int = 8080
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    trusted_proxies: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def sms_enabled(self) -> bool:
        return self.twilio_enabled and bool(self.twilio_sms_from)

    @property
    def whatsapp_enabled(self) -> bool:
        return self.twilio_enabled and bool(self.twilio_whatsapp_from)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token and self.telegram_secret)

    def with_overrides(self, **kwargs: object) -> "Settings":
        """A copy with some fields replaced (tests)."""
        return replace(self, **kwargs)  # type: ignore[arg-type]


def _country_list(raw: Optional[str], default: str) -> tuple[str, ...]:
    """HAVEN_COUNTRIES 'KE, TZ,ug' -> ('KE', 'TZ', 'UG'); unset: the default country alone."""
    if not raw:
        return (default,)
    codes = tuple(dict.fromkeys(c.strip().upper() for c in raw.split(",") if c.strip()))
    bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
    if bad or not codes:
        raise SettingsError("HAVEN_COUNTRIES must be comma-separated ISO 3166-1 alpha-2 codes")
    return codes


def load_settings(environ: Optional[Mapping[str, str]] = None, **overrides: object) -> Settings:
    """Build Settings from explicit overrides, then `environ` (default: os.environ)."""
    env = dict(os.environ if environ is None else environ)

    def get(name: str) -> Optional[str]:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    mode = (get("HAVEN_ENV") or "dev").lower()
    if mode not in ("dev", "production"):
        raise SettingsError("HAVEN_ENV must be 'dev' or 'production'")
    if mode == "production":
        missing = [name for name in PRODUCTION_REQUIRED if not get(name)]
        if get("HAVEN_TWILIO_ACCOUNT_SID") and not get("HAVEN_TWILIO_AUTH_TOKEN"):
            missing.append("HAVEN_TWILIO_AUTH_TOKEN")
        if get("HAVEN_TELEGRAM_TOKEN") and not get("HAVEN_TELEGRAM_SECRET"):
            missing.append("HAVEN_TELEGRAM_SECRET")
        if missing:
            raise SettingsError("production start refused; missing secret(s): " + ", ".join(missing))

    master = get("HAVEN_MASTER_KEY") or _dev_secret("master_key")
    pseudo = get("HAVEN_PSEUDONYM_KEY") or _dev_secret("pseudonym_key")
    old_keys: dict[str, bytes] = {}
    for item in (get("HAVEN_OLD_MASTER_KEYS") or "").split(","):
        if item.strip():
            kid, _, value = item.strip().partition(":")
            old_keys[kid] = _b64key("HAVEN_OLD_MASTER_KEYS", value)

    def integer(name: str, default: int) -> int:
        raw = get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be an integer") from exc

    values: dict[str, object] = dict(
        env=mode,
        database_url=get("HAVEN_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'haven.db'}",
        redis_url=get("HAVEN_REDIS_URL"),
        public_url=(get("HAVEN_PUBLIC_URL") or "http://localhost:5005").rstrip("/"),
        master_key=_b64key("HAVEN_MASTER_KEY", master),
        master_key_id=get("HAVEN_MASTER_KEY_ID") or "k1",
        old_master_keys=old_keys,
        pseudonym_key=_b64key("HAVEN_PSEUDONYM_KEY", pseudo),
        twilio_account_sid=get("HAVEN_TWILIO_ACCOUNT_SID"),
        twilio_auth_token=get("HAVEN_TWILIO_AUTH_TOKEN"),
        twilio_sms_from=get("HAVEN_TWILIO_SMS_FROM"),
        twilio_whatsapp_from=get("HAVEN_TWILIO_WHATSAPP_FROM"),
        twilio_whatsapp_template_sid=get("HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID"),
        twilio_api_base=(get("HAVEN_TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
        telegram_token=get("HAVEN_TELEGRAM_TOKEN"),
        telegram_secret=get("HAVEN_TELEGRAM_SECRET"),
        telegram_api_base=(get("HAVEN_TELEGRAM_API_BASE") or "https://api.telegram.org").rstrip("/"),
        sms_max_segments=integer("HAVEN_SMS_MAX_SEGMENTS", 4),
        retention_days=integer("HAVEN_RETENTION_DAYS", 30),
        receipt_days=integer("HAVEN_RECEIPT_DAYS", 366),
        pending_lease_seconds=max(3, integer("HAVEN_PENDING_LEASE_SECONDS", 15)),
        cover_text=env.get("HAVEN_COVER_TEXT"),
        cover_texts={lang: env[f"HAVEN_COVER_TEXT_{lang.upper()}"] for lang in SUPPORTED_LANGUAGES
                     if f"HAVEN_COVER_TEXT_{lang.upper()}" in env},
        default_country=(get("HAVEN_DEFAULT_COUNTRY") or "KE").upper(),
        countries=_country_list(get("HAVEN_COUNTRIES"), (get("HAVEN_DEFAULT_COUNTRY") or "KE").upper()),
        rasa_url=(get("HAVEN_RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
        action_url=(get("HAVEN_ACTION_URL") or "http://127.0.0.1:5055").rstrip("/"),
        action_secret=get("HAVEN_ACTION_SECRET") or _dev_secret("action_secret"),
        console_port=integer("HAVEN_CONSOLE_PORT", 8080),
        log_level=(get("HAVEN_LOG_LEVEL") or "INFO").upper(),
        max_body_bytes=integer("HAVEN_MAX_BODY_BYTES", 64 * 1024),
        trusted_proxies=_proxies(get("HAVEN_TRUSTED_PROXIES")),
    )
    known = {f.name for f in fields(Settings)}
    for key, override in overrides.items():
        if key not in known:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = override
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return load_settings()
