"""The claims component's configuration: read once from the environment, validated, frozen.

Every setting has its default next to where it is read. A wrong value does not crash the
first request: `load_config` collects one `ConfigError` per variable, the system checks
(`checks.py`) report them with an id and a hint, and `get_config` refuses to hand out a
config that failed validation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .singleton import process_singleton

REFRESH_BACKENDS = ("local", "file", "redis")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ConfigError:
    variable: str
    message: str


@dataclass(frozen=True)
class ClaimsConfig:
    issuer: str
    base_url: str | None
    client_id: str
    client_secret: str
    client_auth_method: str
    audience: str
    scopes: str
    jwks_file: Path | None
    jwks_inline: str | None
    orgs_claim: str
    projects_claim: str
    refresh_skew_seconds: int
    refresh_grace_seconds: int
    refresh_lock_wait_seconds: int
    refresh_backoff_seconds: int
    refresh_backend: str
    redis_url: str | None
    state_dir: Path
    cookie_secure: bool
    clock_leeway_seconds: int
    jwks_refetch_interval_seconds: int
    issuer_timeout_seconds: float
    max_token_bytes: int
    verified_cache_size: int
    verified_cache_bytes: int
    refresh_max_expired_age_seconds: int = 24 * 3600
    refresh_rate_limit_per_minute: int = 10
    errors: tuple[ConfigError, ...] = field(default=(), compare=False)

    @property
    def client_fingerprint(self) -> str:
        """Names the settings token calls depend on (never the secret itself)."""
        material = "\0".join(
            (self.issuer, self.client_id, self.client_secret, self.client_auth_method, self.scopes)
        )
        return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def issuer_is_loopback(self) -> bool:
        return urlsplit(self.issuer).hostname in LOOPBACK_HOSTS


def _url(env: Mapping[str, str], name: str, default: str | None, errors: list[ConfigError]) -> str | None:
    value = env.get(name, default)
    if value is None or value == "":
        return None if default is None else default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(ConfigError(name, f"{name}={value!r} is not an http(s) URL"))
        return default
    return value.rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int, errors: list[ConfigError], minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(ConfigError(name, f"{name}={raw!r} is not an integer"))
        return default
    if value < minimum:
        errors.append(ConfigError(name, f"{name}={value} must be at least {minimum}"))
        return default
    return value


def _bool(env: Mapping[str, str], name: str, default: bool, errors: list[ConfigError]) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    errors.append(ConfigError(name, f"{name}={raw!r} is not a boolean (use 1 or 0)"))
    return default


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], errors: list[ConfigError]) -> str:
    value = env.get(name) or default
    if value not in choices:
        errors.append(ConfigError(name, f"{name}={value!r} must be one of {', '.join(choices)}"))
        return default
    return value


def load_config(env: Mapping[str, str] | None = None) -> ClaimsConfig:
    """Build the config from `env` (default: the process environment); errors are collected."""
    env = os.environ if env is None else env
    errors: list[ConfigError] = []
    client_id = env.get("OSAPP_CLIENT_ID") or "osapp"
    state_dir = Path(env.get("OSAPP_STATE_DIR") or "var").resolve()
    jwks_file_raw = env.get("OSAPP_JWKS_FILE")
    jwks_inline = env.get("OSAPP_JWKS") or None
    if jwks_file_raw:
        jwks_file: Path | None = Path(jwks_file_raw).resolve()
    else:
        # Default location written by `manage.py bake_jwks`; unused when OSAPP_JWKS is inline.
        jwks_file = None if jwks_inline else state_dir / "jwks.json"
    redis_url = env.get("OSAPP_REDIS_URL") or None
    issuer_timeout = _int(env, "OSAPP_ISSUER_TIMEOUT", 10, errors, minimum=1)
    lock_wait = _int(env, "OSAPP_REFRESH_LOCK_WAIT", 15, errors, minimum=1)
    if lock_wait <= issuer_timeout:
        # DESIGN §6: issuer request < lock wait < worker timeout, or waiters give up on winners.
        errors.append(
            ConfigError(
                "OSAPP_REFRESH_LOCK_WAIT",
                f"OSAPP_REFRESH_LOCK_WAIT={lock_wait} must exceed OSAPP_ISSUER_TIMEOUT={issuer_timeout}",
            )
        )
    client_secret = env.get("OSAPP_CLIENT_SECRET", "osapp-dev-secret")
    if not client_secret:
        errors.append(ConfigError("OSAPP_CLIENT_SECRET", "OSAPP_CLIENT_SECRET must not be empty"))
    refresh_backend = _choice(env, "OSAPP_REFRESH_BACKEND", "file", REFRESH_BACKENDS, errors)
    if refresh_backend == "redis" and not redis_url:
        errors.append(ConfigError("OSAPP_REDIS_URL", "OSAPP_REFRESH_BACKEND=redis needs OSAPP_REDIS_URL"))
    return ClaimsConfig(
        issuer=_url(env, "OSAPP_ISSUER", "http://127.0.0.1:8001", errors) or "",
        base_url=_url(env, "OSAPP_BASE_URL", None, errors),
        client_id=client_id,
        client_secret=client_secret,
        client_auth_method=_choice(
            env, "OSAPP_CLIENT_AUTH_METHOD", "client_secret_basic", CLIENT_AUTH_METHODS, errors
        ),
        # RFC 9068 §3: `aud` names the resource server, which may differ from the client id.
        audience=env.get("OSAPP_AUDIENCE") or client_id,
        scopes=env.get("OSAPP_SCOPES") or "openid profile email offline_access",
        jwks_file=jwks_file,
        jwks_inline=jwks_inline,
        orgs_claim=env.get("OSAPP_ORGS_CLAIM") or "orgs",
        projects_claim=env.get("OSAPP_PROJECTS_CLAIM") or "projects",
        refresh_skew_seconds=_int(env, "OSAPP_REFRESH_SKEW", 60, errors),
        refresh_grace_seconds=_int(env, "OSAPP_REFRESH_GRACE", 120, errors, minimum=1),
        refresh_lock_wait_seconds=lock_wait,
        refresh_backoff_seconds=_int(env, "OSAPP_REFRESH_BACKOFF", 10, errors, minimum=1),
        refresh_backend=refresh_backend,
        redis_url=redis_url,
        state_dir=state_dir,
        cookie_secure=_bool(env, "OSAPP_COOKIE_SECURE", True, errors),
        clock_leeway_seconds=_int(env, "OSAPP_CLOCK_LEEWAY", 10, errors),
        jwks_refetch_interval_seconds=_int(env, "OSAPP_JWKS_REFETCH_INTERVAL", 300, errors, minimum=1),
        issuer_timeout_seconds=float(issuer_timeout),
        max_token_bytes=_int(env, "OSAPP_MAX_TOKEN_BYTES", 16384, errors, minimum=1024),
        verified_cache_size=_int(env, "OSAPP_VERIFIED_CACHE_SIZE", 10000, errors, minimum=1),
        verified_cache_bytes=_int(env, "OSAPP_VERIFIED_CACHE_MB", 64, errors, minimum=1) * 1024 * 1024,
        # DESIGN §6: how long after its `exp` an access token may still lead to a refresh.
        refresh_max_expired_age_seconds=_int(env, "OSAPP_REFRESH_MAX_EXPIRED_AGE", 24 * 3600, errors, minimum=1),
        # DESIGN §6: refresh attempts per subject per minute, across the whole backend.
        refresh_rate_limit_per_minute=_int(env, "OSAPP_REFRESH_RATE_LIMIT", 10, errors, minimum=1),
        errors=tuple(errors),
    )


@process_singleton
def get_config() -> ClaimsConfig:
    """The process-wide config. Raises ImproperlyConfigured naming the first bad variable."""
    config = load_config()
    if config.errors:
        first = config.errors[0]
        raise ImproperlyConfigured(f"{first.variable}: {first.message}")
    return config


def reset_config() -> None:
    """Forget the cached config (tests that change the environment call this)."""
    get_config.cache_clear()
