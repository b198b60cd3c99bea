"""Django settings of the development issuer (``DJANGO_SETTINGS_MODULE=osapp.issuer.settings``).

Everything variable comes from the environment through ``IssuerConfig`` (see ``config.py``), so
the process that spawns the issuer configures it. This project is separate from osapp's: its
own database, its own cookies, its own URLconf.
"""

from __future__ import annotations

from osapp.issuer.config import IssuerConfig
from osapp.issuer.keys import read_retired_keys, read_signing_key

ISSUER_CONFIG = IssuerConfig.from_environ()

SECRET_KEY = ISSUER_CONFIG.secret_key
DEBUG = False
ALLOWED_HOSTS = [ISSUER_CONFIG.hostname, "127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "osapp.issuer",
]

MIDDLEWARE = [
    "osapp.issuer.middleware.RequestLogMiddleware",
    "osapp.issuer.faults.FaultInjectionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "osapp.issuer.urls"
WSGI_APPLICATION = "osapp.issuer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ISSUER_CONFIG.database_path,
        "OPTIONS": {
            # Writers take the lock at BEGIN, so two refreshes of one token serialize instead
            # of both reading it as live; WAL lets readers proceed meanwhile.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every secret this issuer stores is a published demo value (README) or the dev client secret,
# so key stretching protects nothing here while costing ~0.6 s on every login and every
# authenticated /token/ call. See hashers.py.
PASSWORD_HASHERS = [
    "osapp.issuer.hashers.DevelopmentPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# The issuer and osapp run on one host (127.0.0.1, different ports) and browsers share cookies
# across ports (RFC 6265 §8.5), so the issuer's cookies must not collide with osapp's.
SESSION_COOKIE_NAME = "osapp_issuer_session"
CSRF_COOKIE_NAME = "osapp_issuer_csrftoken"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ISSUER_CONFIG.url.startswith("https://")

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER_CONFIG.url,
    "OIDC_RSA_PRIVATE_KEY": read_signing_key(ISSUER_CONFIG.state_dir),
    # Rotated-out keys stay in the JWKS (not used to sign) until their tokens have expired.
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": read_retired_keys(ISSUER_CONFIG.state_dir),
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "OAUTH2_VALIDATOR_CLASS": "osapp.issuer.validators.IssuerOAuth2Validator",
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Your name and username",
        "email": "Your email address",
        "offline_access": "Stay signed in",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": ISSUER_CONFIG.access_token_ttl,
    "ID_TOKEN_EXPIRE_SECONDS": ISSUER_CONFIG.id_token_ttl,
    "ACCESS_TOKEN_GENERATOR": "osapp.issuer.tokens.generate_access_token",
    # Without this oauthlib reuses ACCESS_TOKEN_GENERATOR for refresh tokens too.
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    # RFC 7636 + RFC 9700 §2.1.1: PKCE on every authorization request, S256 only.
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    # RFC 9700 §4.14.2: rotate refresh tokens; presenting a rotated one revokes the family.
    # No grace period: a replay is never answered, as in node oidc-provider.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    # The other RFC 9700 behaviour gates, all on: no implicit or password grant, no access
    # token in a query string, `iss` in the authorization response (RFC 9207), tokens stored
    # only as checksums.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # The RP revokes its own refresh token (RFC 7009) before redirecting to logout.
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
