"""Django settings for osapp, read from the environment (README: Configuration).

The claims component is configured by `CLAIMS_SESSION` alone (docs/claims.md), which
`osapp.environment` fills from the OSAPP_* variables; the few values Django itself needs
(state dir, base URL, Redis, Secure cookies) are read from that same mapping, so nothing is
parsed twice.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from osapp.environment import claims_session

BASE_DIR = Path(__file__).resolve().parent.parent
CLAIMS_SESSION, OSAPP_ENVIRONMENT_ERRORS = claims_session()
# The error page of the claims component extends osapp's own layout.
CLAIMS_SESSION["BASE_TEMPLATE"] = "base.html"
STATE_DIR = Path(CLAIMS_SESSION["STATE_DIR"]).resolve()
BASE_URL = CLAIMS_SESSION.get("BASE_URL")
REDIS_URL = CLAIMS_SESSION.get("REDIS_URL")
COOKIE_SECURE = CLAIMS_SESSION.get("COOKIE_SECURE", True)
# Holds SECRET_KEY, the SQLite database and the refresh coordination: the service's user only.
STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)


def _secret_key() -> str:
    """SECRET_KEY, or one generated once into the state dir so every worker shares it."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = STATE_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        return path.read_text().strip()


def _database(url: str) -> dict:
    """DATABASE_URL: sqlite:///path or postgres://user:password@host:port/name."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as dj-database-url reads them.
        name = unquote(parts.path[1:])
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": {"timeout": 20}}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite or postgres)")


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]
if BASE_URL:
    CSRF_TRUSTED_ORIGINS = [BASE_URL.rstrip("/")]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # serves the API docs' assets locally instead of from a CDN
    "osapp.claims",
    "osapp.workspace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "osapp.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "osapp.claims.middleware.ClaimsSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: keeps every middleware above synchronous under ASGI (see osapp/sync_stack.py).
    "osapp.sync_stack.SynchronousStack",
]

ROOT_URLCONF = "osapp.urls"
WSGI_APPLICATION = "osapp.wsgi.application"
ASGI_APPLICATION = "osapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
            ],
        },
    },
]

def _private_sqlite_file(database: dict) -> dict:
    """SQLite creates its file world-readable (umask); create it 0600 first (an empty file is
    an empty database, and its -wal/-shm files take the database file's permissions)."""
    if database["ENGINE"] == "django.db.backends.sqlite3" and database["NAME"] not in ("", ":memory:"):
        try:
            os.close(os.open(database["NAME"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except (FileExistsError, FileNotFoundError):
            pass  # there already, or its directory is not (Django's error will name it)
    return database


DATABASES = {
    "default": _private_sqlite_file(
        _database(os.environ.get("DATABASE_URL") or f"sqlite:///{STATE_DIR / 'osapp.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Live events: channels-redis across workers and hosts when Redis is configured; otherwise each
# worker's in-memory layer, fed by a database tailer (osapp.workspace.live).
OSAPP_LIVE_SHARED_BROKER = bool(REDIS_URL)
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

LOGIN_URL = "claims:login"

# The issuer's project API (the development issuer's; another provider needs an adapter).
# Unset, the development issuer's path is guessed; `check --deploy` refuses that guess for any
# other issuer (osapp.E005), where it would 404 at the first project creation.
OSAPP_PROJECTS_API_GUESSED = not os.environ.get("OSAPP_PROJECTS_API")
OSAPP_PROJECTS_API = os.environ.get("OSAPP_PROJECTS_API") or f"{CLAIMS_SESSION['ISSUER'].rstrip('/')}/api/projects"
# Event appends per user through the API (osapp.workspace.throttling; checked as osapp.E010).
OSAPP_EVENT_RATE = os.environ.get("OSAPP_EVENT_RATE") or "60/min"

# Django's cache holds the API's throttle counts: one count across workers and hosts through
# Redis when it is configured, otherwise each worker process's own memory.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "osapp",
            # Seconds: a hung Redis must not hold an append for longer (the throttle fails open).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the finders: the app runs without a collectstatic step.
WHITENOISE_USE_FINDERS = True

# Cookies and headers (the session cookies themselves are set by osapp.claims.cookies).
CSRF_COOKIE_SECURE = COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-csrftoken" if COOKIE_SECURE else "csrftoken"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if COOKIE_SECURE:
    SECURE_HSTS_SECONDS = int(os.environ.get("OSAPP_HSTS_SECONDS", "31536000"))
# No SECURE_PROXY_SSL_HEADER: Django would believe X-Forwarded-Proto from any client. The
# uvicorn worker applies it (and X-Forwarded-For) only from the proxies in gunicorn's
# FORWARDED_ALLOW_IPS (default 127.0.0.1,::1), and Django reads the scheme from the ASGI scope.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "osapp": {"level": os.environ.get("OSAPP_LOG_LEVEL", "INFO")},
        "django.request": {"level": "ERROR"},
    },
}
