"""Bench only, benchmark (c): a server-side Django session (database backend) per request."""

from osapp.settings import *  # noqa: F403
from osapp.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions"]
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_SECURE = False

_after_whitenoise = MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1
MIDDLEWARE = [m for m in MIDDLEWARE if not m.endswith("ClaimsSessionMiddleware")]
MIDDLEWARE[_after_whitenoise:_after_whitenoise] = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "bench.middleware.SessionPrincipalMiddleware",
]
