"""The claims component's settings: `CLAIMS_SESSION = {...}` in Django settings, one object.

`load_config()` reads `settings.CLAIMS_SESSION`, fills in the defaults of `DEFAULTS`,
validates every key and returns a frozen `ClaimsConfig`. A wrong value does not crash the
first request: each problem becomes a `ConfigError`, the system checks report it
(`claims.E001`, checks.py), and the runtime refuses to start with it (runtime.py). The
component never reads the environment; a project maps its environment into `CLAIMS_SESSION`
(osapp does in `osapp/environment.py`) and may say, in `SETTING_NAMES`, which name the
operator sets for each key, so every message names what the operator can change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REFRESH_BACKENDS = ("local", "file", "redis")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Every key of CLAIMS_SESSION with its default (None: required). docs/claims.md documents them.
DEFAULTS: dict[str, Any] = {
    # The issuer and this client (OIDC Core §2, RFC 6749 §2.3).
    "ISSUER": None,
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "CLIENT_AUTH_METHOD": "client_secret_basic",
    "AUDIENCE": None,  # RFC 9068 §3: defaults to CLIENT_ID
    "SCOPES": "openid profile email offline_access",
    "BASE_URL": None,  # the public URL users open; None: the request's own origin
    # The baked key set (DESIGN §4): inline JSON, or a file (default STATE_DIR/jwks.json).
    "JWKS": None,
    "JWKS_FILE": None,
    "JWKS_REFETCH_INTERVAL": 300,
    # Claims (DESIGN §3).
    "ORGS_CLAIM": "orgs",
    "PROJECTS_CLAIM": "projects",
    "CLOCK_LEEWAY": 10,
    "MAX_TOKEN_BYTES": 16384,
    # Refresh (DESIGN §6).
    "REFRESH_SKEW": 60,
    "REFRESH_GRACE": 120,
    "REFRESH_LOCK_WAIT": 15,
    "REFRESH_BACKOFF": 10,
    "REFRESH_MAX_EXPIRED_AGE": 24 * 3600,
    "REFRESH_RATE_LIMIT": 10,
    "REFRESH_BACKEND": "file",
    "REDIS_URL": None,
    "REDIS_PREFIX": "osapp:refresh:",
    "STATE_DIR": "var",
    "ISSUER_TIMEOUT": 10,
    # The verified-claims cache (DESIGN §5).
    "VERIFIED_CACHE_SIZE": 10000,
    "VERIFIED_CACHE_MB": 64,
    # Cookies: `__Host-<prefix>at` etc. when Secure, `<prefix>at` otherwise.
    "COOKIE_SECURE": True,
    "COOKIE_PREFIX": "osapp_",
    "REFRESH_COOKIE_INFO": "osapp.claims refresh cookie v1",  # HKDF info of the seal
    "METRIC_PREFIX": "osapp",
    # Templates: the error page extends BASE_TEMPLATE (it must define block `content`).
    "ERROR_TEMPLATE": "claims/error.html",
    "BASE_TEMPLATE": "claims/base.html",
    # Key -> the name the operator sets (an environment variable), for messages.
    "SETTING_NAMES": {},
}


@dataclass(frozen=True)
class ConfigError:
    key: str
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
    redis_prefix: str = "osapp:refresh:"
    cookie_prefix: str = "osapp_"
    refresh_cookie_info: bytes = b"osapp.claims refresh cookie v1"
    metric_prefix: str = "osapp"
    error_template: str = "claims/error.html"
    base_template: str = "claims/base.html"
    # Whether JWKS_FILE was named (a named file that is missing is an error; the default is not).
    jwks_file_named: bool = False
    setting_names: Mapping[str, str] = field(default_factory=dict, compare=False)
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

    def name_of(self, key: str) -> str:
        """What the operator sets for `key`: the project's name for it, or the settings key."""
        return setting_name(self.setting_names, key)


def setting_name(names: Mapping[str, str], key: str) -> str:
    return names.get(key) or f'CLAIMS_SESSION["{key}"]'


class _Reader:
    """Reads one CLAIMS_SESSION mapping key by key, collecting one error per bad key."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        names = values.get("SETTING_NAMES") or {}
        self.names: Mapping[str, str] = names if isinstance(names, Mapping) else {}
        self.errors: list[ConfigError] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(key, f"{setting_name(self.names, key)}: {message}"))

    def raw(self, key: str) -> Any:
        value = self.values.get(key, DEFAULTS[key])
        return DEFAULTS[key] if value is None or value == "" else value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.fail(key, "must be set")
            return None
        if not isinstance(value, str):
            self.fail(key, f"{value!r} is not a string")
            return DEFAULTS[key]
        return value

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(key, f"{value!r} is not an http(s) URL")
            return None
        return value.rstrip("/")

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{value!r} is not an integer")
            return int(DEFAULTS[key])
        if value < minimum:
            self.fail(key, f"{value} must be at least {minimum}")
            return int(DEFAULTS[key])
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            self.fail(key, f"{value!r} is not a boolean")
            return bool(DEFAULTS[key])
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.raw(key)
        if value not in choices:
            self.fail(key, f"{value!r} must be one of {', '.join(choices)}")
            return str(DEFAULTS[key])
        return str(value)

    def path(self, key: str) -> Path | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, (str, Path)):
            self.fail(key, f"{value!r} is not a path")
            return None
        return Path(value).resolve()


def build_config(values: Mapping[str, Any]) -> ClaimsConfig:
    """Validate one CLAIMS_SESSION mapping; every problem is collected, none raised."""
    read = _Reader(values)
    for unknown in sorted(set(values) - set(DEFAULTS)):
        read.fail(unknown, "is not a setting of the claims component (see docs/claims.md)")
    client_id = read.string("CLIENT_ID", required=True) or ""
    client_secret = read.string("CLIENT_SECRET", required=True) or ""
    state_dir = read.path("STATE_DIR") or Path("var").resolve()
    jwks_inline = read.string("JWKS")
    jwks_named = read.path("JWKS_FILE")
    # Default location written by `manage.py bake_jwks`; unused when JWKS is inline.
    jwks_file = jwks_named or (None if jwks_inline else state_dir / "jwks.json")
    redis_url = read.string("REDIS_URL")
    issuer_timeout = read.integer("ISSUER_TIMEOUT", minimum=1)
    lock_wait = read.integer("REFRESH_LOCK_WAIT", minimum=1)
    if lock_wait <= issuer_timeout:
        # DESIGN §6: issuer request < lock wait < worker timeout, or waiters give up on winners.
        read.fail(
            "REFRESH_LOCK_WAIT",
            f"{lock_wait} must exceed {setting_name(read.names, 'ISSUER_TIMEOUT')}={issuer_timeout}",
        )
    refresh_backend = read.choice("REFRESH_BACKEND", REFRESH_BACKENDS)
    if refresh_backend == "redis" and not redis_url:
        read.fail("REDIS_URL", f"must be set for {setting_name(read.names, 'REFRESH_BACKEND')}=redis")
    info = read.string("REFRESH_COOKIE_INFO") or str(DEFAULTS["REFRESH_COOKIE_INFO"])
    return ClaimsConfig(
        issuer=read.url("ISSUER", required=True) or "",
        base_url=read.url("BASE_URL"),
        client_id=client_id,
        client_secret=client_secret,
        client_auth_method=read.choice("CLIENT_AUTH_METHOD", CLIENT_AUTH_METHODS),
        audience=read.string("AUDIENCE") or client_id,
        scopes=read.string("SCOPES") or str(DEFAULTS["SCOPES"]),
        jwks_file=jwks_file,
        jwks_inline=jwks_inline,
        jwks_file_named=jwks_named is not None,
        orgs_claim=read.string("ORGS_CLAIM") or "orgs",
        projects_claim=read.string("PROJECTS_CLAIM") or "projects",
        refresh_skew_seconds=read.integer("REFRESH_SKEW"),
        refresh_grace_seconds=read.integer("REFRESH_GRACE", minimum=1),
        refresh_lock_wait_seconds=lock_wait,
        refresh_backoff_seconds=read.integer("REFRESH_BACKOFF", minimum=1),
        refresh_backend=refresh_backend,
        redis_url=redis_url,
        redis_prefix=read.string("REDIS_PREFIX") or str(DEFAULTS["REDIS_PREFIX"]),
        state_dir=state_dir,
        cookie_secure=read.boolean("COOKIE_SECURE"),
        cookie_prefix=read.string("COOKIE_PREFIX") or str(DEFAULTS["COOKIE_PREFIX"]),
        refresh_cookie_info=info.encode(),
        metric_prefix=read.string("METRIC_PREFIX") or str(DEFAULTS["METRIC_PREFIX"]),
        error_template=read.string("ERROR_TEMPLATE") or str(DEFAULTS["ERROR_TEMPLATE"]),
        base_template=read.string("BASE_TEMPLATE") or str(DEFAULTS["BASE_TEMPLATE"]),
        clock_leeway_seconds=read.integer("CLOCK_LEEWAY"),
        jwks_refetch_interval_seconds=read.integer("JWKS_REFETCH_INTERVAL", minimum=1),
        issuer_timeout_seconds=float(issuer_timeout),
        max_token_bytes=read.integer("MAX_TOKEN_BYTES", minimum=1024),
        verified_cache_size=read.integer("VERIFIED_CACHE_SIZE", minimum=1),
        verified_cache_bytes=read.integer("VERIFIED_CACHE_MB", minimum=1) * 1024 * 1024,
        # DESIGN §6: how long after its `exp` an access token may still lead to a refresh.
        refresh_max_expired_age_seconds=read.integer("REFRESH_MAX_EXPIRED_AGE", minimum=1),
        # DESIGN §6: refresh attempts per subject per minute, across the whole backend.
        refresh_rate_limit_per_minute=read.integer("REFRESH_RATE_LIMIT", minimum=1),
        setting_names=dict(read.names),
        errors=tuple(read.errors),
    )


def load_config() -> ClaimsConfig:
    """The config of `settings.CLAIMS_SESSION` (errors collected, never raised)."""
    from django.conf import settings

    values = getattr(settings, "CLAIMS_SESSION", None)
    if not isinstance(values, Mapping):
        values = {}
    return build_config(values)
