"""A second, minimal Django project that installs the claims component with settings alone.

Nothing here comes from osapp but `osapp.claims` (DESIGN §13, issue 10.7): its own settings
(read from `LIFT_*` variables, its own cookie, Redis and metric prefixes), its own URLconf
(the component mounted under `accounts/` in another namespace), one view and one template.
tests/integration/test_liftability.py runs it under gunicorn against the development issuer.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE_DIR = Path(os.environ.get("LIFT_STATE_DIR", "/tmp/liftproj")).resolve()

SECRET_KEY = os.environ.get("LIFT_SECRET_KEY", "liftproj-test-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",  # AnonymousUser only: no user table is ever read
    "osapp.claims",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "osapp.claims.ClaimsSessionMiddleware",
]
ROOT_URLCONF = "tests.liftproj.urls"
WSGI_APPLICATION = "tests.liftproj.wsgi.application"
DATABASES: dict = {}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
LOGIN_URL = "claims:login"
USE_TZ = True

CLAIMS_SESSION = {
    "ISSUER": os.environ["LIFT_ISSUER"],
    "CLIENT_ID": os.environ.get("LIFT_CLIENT_ID", "osapp"),
    "CLIENT_SECRET": os.environ["LIFT_CLIENT_SECRET"],
    "BASE_URL": os.environ.get("LIFT_BASE_URL"),
    "STATE_DIR": str(STATE_DIR),
    "JWKS_FILE": str(STATE_DIR / "keys.json"),
    "REFRESH_SKEW": int(os.environ.get("LIFT_REFRESH_SKEW", "60")),
    "CLOCK_LEEWAY": 0,
    "COOKIE_SECURE": False,  # plain http on loopback
    "COOKIE_PREFIX": "lift_",
    "REDIS_PREFIX": "lift:refresh:",
    "METRIC_PREFIX": "lift",
    "REFRESH_COOKIE_INFO": "liftproj refresh cookie v1",
    "BASE_TEMPLATE": "lift/base.html",
}
