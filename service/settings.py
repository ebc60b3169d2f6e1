"""Configuration from the environment. Bad values stop start-up with one clear line."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from db.engine import behind_transaction_pooler


class SettingsError(Exception):
    """A configuration problem, worded for the one line printed at start-up."""


SmsBackend = Literal["console", "twilio"]
# STARTTLS on an smtp:// connection: required (refuse a server without it), opportunistic
# (upgrade when offered), or off (a local relay on a trusted network). smtps:// is TLS from
# the first byte and ignores this.
SmtpStartTls = Literal["required", "opportunistic", "off"]
# Who must sign in with a TOTP code (HOMEWARD_REQUIRE_TOTP): admins and ward managers
# ("privileged", the default), everyone ("all"), or nobody ("off": local development and the
# test suite only; anyone may still enrol).
RequireTotp = Literal["privileged", "all", "off"]


# Spend guard defaults (see service.sms.outbox): texts to one patient per 24 h, and texts to
# anyone per hour. Settings, the channel and the outbox all default to these.
PATIENT_DAILY_SMS_CAP = 12
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")
HOURLY_SMS_CAP = 600


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".homeward")
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    jwt_secret: str = ""
    jwt_ttl_minutes: int = 480
    sms_backend: SmsBackend = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str | None = None
    twilio_timeout_seconds: float = 10.0
    sms_rate_per_second: float = 5.0
    # Spend guard: no bug or attacker can text one patient, or everyone, without limit.
    sms_patient_daily_cap: int = PATIENT_DAILY_SMS_CAP
    sms_hourly_cap: int = HOURLY_SMS_CAP
    jobs_interval_seconds: float = 30.0
    # `homeward worker` serves its Prometheus metrics on this port (None: not served).
    worker_metrics_port: int | None = None
    # Staff email, the second channel for staff alerts: off while SMTP_URL is unset.
    smtp_url: str | None = None
    smtp_from: str = "homeward@localhost"
    smtp_starttls: SmtpStartTls = "required"
    smtp_timeout_seconds: float = 10.0
    login_max_failures: int = 5
    login_window_minutes: int = 15
    require_totp: RequireTotp = "privileged"
    # A board session unused for this long ends (BOARD_IDLE_MINUTES); live-refresh polling is
    # not use, so a board left open on a wall signs itself out too.
    board_idle_minutes: int = 30
    log_level: str = "INFO"
    # Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES); none by default.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # The Swagger UI at /docs (HOMEWARD_DOCS); the document itself is public either way.
    docs_enabled: bool = True
    # The principal cache (HOMEWARD_PRINCIPAL_CACHE): who each token belongs to, kept between
    # requests and dropped the moment PostgreSQL says the user, session or token changed.
    principal_cache: bool = True
    # Where that news is heard (DATABASE_LISTEN_URL): LISTEN needs a connection of its own,
    # which a transaction pooler cannot give. Unset: DATABASE_URL itself, unless it names a
    # transaction pooler, in which case the cache stays off.
    database_listen_url: str | None = None
    # True when this process started the embedded PostgreSQL (set by the bootstrap).
    embedded_database: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def with_database(self, url: str) -> Settings:
        return replace(self, database_url=url)

    @property
    def listen_url(self) -> str | None:
        """The connection the principal cache listens on, or None: the cache is off."""
        if not self.principal_cache:
            return None
        if self.database_listen_url is not None:
            return self.database_listen_url
        if self.database_url is None or behind_transaction_pooler(self.database_url):
            return None
        return self.database_url


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", "8000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"PORT must be a number from 1 to 65535, got {raw!r}")
    return int(raw)


def _optional_port(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name) or ""
    if raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name} must be a number from 1 to 65535, got {raw!r}")
    return int(raw)


def _url(name: str, raw: str, schemes: set[str]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes or (not parts.netloc and "host=" not in parts.query):
        allowed = ", ".join(sorted(schemes))
        raise SettingsError(f"{name} must be a URL starting with one of {allowed}")
    return raw


def _networks(env: Mapping[str, str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    raw = env.get("TRUSTED_PROXIES") or ""
    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"TRUSTED_PROXIES must be comma-separated IP addresses or CIDR ranges, got {part!r}"
            ) from None
    return tuple(found)


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def load_jwt_secret(data_dir: Path) -> str:
    """Read the secret kept in the data folder, creating it (0600) on first use."""
    path = data_dir / "jwt_secret"
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) >= 32:
            return secret
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(env.get("HOMEWARD_DATA_DIR") or ".homeward")
    database_url = env.get("DATABASE_URL") or None
    if database_url is not None:
        database_url = _url(
            "DATABASE_URL", database_url, {"postgresql", "postgres", "postgresql+asyncpg"}
        )
        try:
            behind_transaction_pooler(database_url)
        except ValueError as exc:
            raise SettingsError(f"DATABASE_URL: {exc}") from None
    listen_url = env.get("DATABASE_LISTEN_URL") or None
    if listen_url is not None:
        listen_url = _url(
            "DATABASE_LISTEN_URL", listen_url, {"postgresql", "postgres", "postgresql+asyncpg"}
        )
        if behind_transaction_pooler(listen_url):
            raise SettingsError("DATABASE_LISTEN_URL must reach PostgreSQL directly, not a pooler")
    port = _port(env)
    host = env.get("HOST") or "127.0.0.1"
    public_base_url = env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}"
    _url("PUBLIC_BASE_URL", public_base_url, {"http", "https"})

    jwt_secret = env.get("JWT_SECRET") or ""
    if jwt_secret and len(jwt_secret) < 32:
        raise SettingsError("JWT_SECRET must be at least 32 characters")

    backend_raw = env.get("SMS_BACKEND") or "console"
    if backend_raw not in ("console", "twilio"):
        raise SettingsError(f"SMS_BACKEND must be 'console' or 'twilio', got {backend_raw!r}")
    backend: SmsBackend = "twilio" if backend_raw == "twilio" else "console"
    sid = env.get("TWILIO_ACCOUNT_SID") or None
    token = env.get("TWILIO_AUTH_TOKEN") or None
    from_number = env.get("TWILIO_FROM_NUMBER") or None
    api_base = env.get("TWILIO_API_BASE_URL") or None
    if api_base is not None:
        _url("TWILIO_API_BASE_URL", api_base, {"http", "https"})
    if backend == "twilio":
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", sid),
                ("TWILIO_AUTH_TOKEN", token),
                ("TWILIO_FROM_NUMBER", from_number),
            )
            if not value
        ]
        if missing:
            raise SettingsError(f"SMS_BACKEND=twilio needs {', '.join(missing)}")

    smtp_url = env.get("SMTP_URL") or None
    if smtp_url is not None:
        _url("SMTP_URL", smtp_url, {"smtp", "smtps"})
        if urlsplit(smtp_url).hostname is None:
            raise SettingsError("SMTP_URL must name a host, e.g. smtp://mail.example.org:587")
    smtp_from = (env.get("SMTP_FROM") or "homeward@localhost").strip()
    if not _EMAIL.fullmatch(smtp_from):
        raise SettingsError(f"SMTP_FROM must be an email address, got {smtp_from!r}")
    starttls_raw = env.get("SMTP_STARTTLS") or "required"
    if starttls_raw not in ("required", "opportunistic", "off"):
        raise SettingsError(
            f"SMTP_STARTTLS must be 'required', 'opportunistic' or 'off', got {starttls_raw!r}"
        )
    starttls: SmtpStartTls = starttls_raw  # type: ignore[assignment]

    jwt_ttl = int(_positive_float(env, "JWT_TTL_MINUTES", 480))
    if jwt_ttl > 12 * 60:
        raise SettingsError("JWT_TTL_MINUTES must be at most 720 (tokens live hours, not days)")

    require_totp_raw = (env.get("HOMEWARD_REQUIRE_TOTP") or "privileged").strip().lower()
    if require_totp_raw not in ("privileged", "all", "off"):
        raise SettingsError(
            f"HOMEWARD_REQUIRE_TOTP must be 'privileged', 'all' or 'off', got {require_totp_raw!r}"
        )
    require_totp: RequireTotp = require_totp_raw  # type: ignore[assignment]
    idle = int(_positive_float(env, "BOARD_IDLE_MINUTES", 30))
    if idle > jwt_ttl:
        raise SettingsError("BOARD_IDLE_MINUTES must not exceed JWT_TTL_MINUTES")

    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        host=host,
        port=port,
        public_base_url=public_base_url.rstrip("/"),
        jwt_secret=jwt_secret,
        jwt_ttl_minutes=jwt_ttl,
        sms_backend=backend,
        twilio_account_sid=sid,
        twilio_auth_token=token,
        twilio_from_number=from_number,
        twilio_api_base_url=api_base.rstrip("/") if api_base else None,
        sms_rate_per_second=_positive_float(env, "SMS_RATE_PER_SECOND", 5.0),
        sms_patient_daily_cap=int(
            _positive_float(env, "SMS_PATIENT_DAILY_CAP", PATIENT_DAILY_SMS_CAP)
        ),
        sms_hourly_cap=int(_positive_float(env, "SMS_HOURLY_CAP", HOURLY_SMS_CAP)),
        jobs_interval_seconds=_positive_float(env, "JOBS_INTERVAL_SECONDS", 30.0),
        worker_metrics_port=_optional_port(env, "WORKER_METRICS_PORT"),
        smtp_url=smtp_url,
        smtp_from=smtp_from,
        smtp_starttls=starttls,
        smtp_timeout_seconds=_positive_float(env, "SMTP_TIMEOUT_SECONDS", 10.0),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        trusted_proxies=_networks(env),
        require_totp=require_totp,
        board_idle_minutes=idle,
        docs_enabled=_switch(env, "HOMEWARD_DOCS", True),
        principal_cache=_switch(env, "HOMEWARD_PRINCIPAL_CACHE", True),
        database_listen_url=listen_url,
    )
