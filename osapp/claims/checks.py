"""System checks of the claims component: one id per problem (docs/claims.md lists them).

| id | problem |
|---|---|
| claims.E001 | a `CLAIMS_SESSION` value is missing or invalid (one message per key) |
| claims.E002 | the inline `JWKS` is not a usable key set |
| claims.E003 / W003 | the baked `JWKS_FILE` is corrupt |
| claims.E004 / W004 | the named `JWKS_FILE` does not exist |
| claims.W001 | no baked key set: keys come from the issuer at runtime |
| claims.W002 | (deploy) `BASE_URL` is not set |
| claims.E005 | `ClaimsSessionMiddleware` is not in `MIDDLEWARE` |
| claims.E006 | `AuthenticationMiddleware` (or a remote-user one) would replace `request.user` |
| claims.E007 | a middleware that needs `request.user` comes before `ClaimsSessionMiddleware` |

A missing or corrupt *baked* JWKS file is an error only where it matters (DESIGN §4): the
server's start-up (`serving_errors`, e.g. from gunicorn's `on_starting`) and
`manage.py check --deploy`. Everywhere else, `migrate` first of all, it is a warning, because
the deploy order is the operator's and the file may be baked after the migration.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .config import ClaimsConfig, load_config
from .keys import JwksError, parse_jwks, read_jwks_file

BAKE_HINT = "Run `python manage.py bake_jwks` (at deploy time) to write it from the issuer."
MIDDLEWARE = "osapp.claims.middleware.ClaimsSessionMiddleware"
PUBLIC_MIDDLEWARE = "osapp.claims.ClaimsSessionMiddleware"
# Each sets request.user from Django's own user table: sessions would no longer be claims-only.
CONFLICTING_MIDDLEWARE = (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.RemoteUserMiddleware",
    "django.contrib.auth.middleware.PersistentRemoteUserMiddleware",
)
# Each needs request.user to be set when it runs, as Django's own checks ask of
# AuthenticationMiddleware.
NEEDS_USER_MIDDLEWARE = ("django.contrib.auth.middleware.LoginRequiredMiddleware",)


def _baked_file_problem(config: ClaimsConfig, *, deploy: bool) -> CheckMessage | None:
    """JWKS_FILE named but missing, or corrupt: an error at deploy, a warning elsewhere."""
    if config.jwks_inline or config.jwks_file is None:
        return None
    name = config.name_of("JWKS_FILE")
    if config.jwks_file.exists():
        try:
            read_jwks_file(config.jwks_file)
        except JwksError as exc:
            message, number = f"{name}: {exc}", "003"
        else:
            return None
    elif config.jwks_file_named:
        message, number = f"{name}: {config.jwks_file} does not exist", "004"
    else:
        return None
    if deploy:
        return Error(message, hint=BAKE_HINT, id=f"claims.E{number}")
    return Warning(message, hint=BAKE_HINT, id=f"claims.W{number}")


def _canonical(path: str) -> str:
    """The defining module's dotted path of a MIDDLEWARE entry (`osapp.claims.X` is an alias;
    a subclass counts as its base). Without the app registry (a server's start-up), as given."""
    if not apps.ready:
        return MIDDLEWARE if path == PUBLIC_MIDDLEWARE else path
    try:
        cls = import_string(path)
    except ImportError:
        return path
    for known in (MIDDLEWARE, *CONFLICTING_MIDDLEWARE, *NEEDS_USER_MIDDLEWARE):
        try:
            if isinstance(cls, type) and issubclass(cls, import_string(known)):
                return known
        except ImportError:
            continue
    return path


def _middleware_problems() -> list[CheckMessage]:
    middleware = [_canonical(path) for path in getattr(settings, "MIDDLEWARE", None) or []]
    messages: list[CheckMessage] = []
    if MIDDLEWARE not in middleware:
        messages.append(
            Error(
                f"{MIDDLEWARE} is not in MIDDLEWARE: no request is authenticated",
                hint="Add it to MIDDLEWARE (docs/claims.md shows where).",
                id="claims.E005",
            )
        )
        return messages
    position = middleware.index(MIDDLEWARE)
    for name in CONFLICTING_MIDDLEWARE:
        if name in middleware:
            messages.append(
                Error(
                    f"{name} replaces request.user with a user from the database",
                    hint=f"Remove it: {MIDDLEWARE} sets request.user from the token claims.",
                    id="claims.E006",
                )
            )
    for name in NEEDS_USER_MIDDLEWARE:
        if name in middleware and middleware.index(name) < position:
            messages.append(
                Error(
                    f"{name} comes before {MIDDLEWARE} and would find no request.user",
                    hint=f"Move it after {MIDDLEWARE}.",
                    id="claims.E007",
                )
            )
    return messages


def claims_problems(config: ClaimsConfig, *, deploy: bool) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Error(error.message, hint="Fix this setting (docs/claims.md lists them).", id="claims.E001")
        for error in config.errors
    ]
    messages += _middleware_problems()
    if config.jwks_inline:
        try:
            parse_jwks(config.jwks_inline)
        except JwksError as exc:
            name = config.name_of("JWKS")
            messages.append(Error(f"{name}: {exc}", hint=f"Set {name} to the issuer's public JWKS.", id="claims.E002"))
        return messages
    problem = _baked_file_problem(config, deploy=deploy)
    if problem is not None:
        messages.append(problem)
    elif not (config.jwks_file is not None and config.jwks_file.exists()):
        # DESIGN §4: without a baked set, keys come from jwks_uri at runtime (guarded).
        note = " (acceptable for a loopback development issuer)" if config.issuer_is_loopback else ""
        messages.append(
            Warning(
                f"No baked JWKS at {config.jwks_file}: keys will be fetched from the issuer at runtime{note}.",
                hint=BAKE_HINT,
                id="claims.W001",
            )
        )
    return messages


@register("claims")
def check_claims_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return claims_problems(load_config(), deploy=False)


@register("claims", deploy=True)
def check_claims_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: the baked-file problems as errors, and settings only fit for a laptop."""
    config = load_config()
    problem = _baked_file_problem(config, deploy=True)
    messages: list[CheckMessage] = [problem] if problem is not None else []
    if not config.base_url:
        name = config.name_of("BASE_URL")
        messages.append(
            Warning(
                f"{name} is not set: the redirect URI and WebSocket origin follow the request's Host",
                hint=f"Set {name} to the public URL users open, e.g. https://app.example.com.",
                id="claims.W002",
            )
        )
    return messages


def serving_errors() -> list[CheckMessage]:
    """What must stop a server from starting: every check error, baked-file problems included."""
    return [m for m in claims_problems(load_config(), deploy=True) if m.is_serious()]
