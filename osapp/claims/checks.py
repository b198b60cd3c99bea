"""System checks: a wrong setting fails `manage.py check` with an id and the variable's name.

A missing or corrupt *baked* JWKS file is an error only where it matters (DESIGN §4): the
server's start-up (gunicorn's `on_starting`, through `serving_errors`) and
`manage.py check --deploy`. Everywhere else, `migrate` first of all, it is a warning, because
the deploy order is the operator's and the file may be baked after the migration.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .config import ClaimsConfig, load_config
from .keys import JwksError, parse_jwks, read_jwks_file

BAKE_HINT = "Run `python manage.py bake_jwks` (at deploy time) to write it from the issuer."
DEVELOPMENT_CLIENT_SECRET = "osapp-dev-secret"


def _baked_file_problem(config: ClaimsConfig, *, deploy: bool) -> CheckMessage | None:
    """OSAPP_JWKS_FILE named but missing or corrupt: an error at deploy, a warning elsewhere."""
    if config.jwks_inline or config.jwks_file is None:
        return None
    if config.jwks_file.exists():
        try:
            read_jwks_file(config.jwks_file)
        except JwksError as exc:
            message, number = f"OSAPP_JWKS_FILE: {exc}", "002"
        else:
            return None
    elif os.environ.get("OSAPP_JWKS_FILE"):
        message, number = f"OSAPP_JWKS_FILE: {config.jwks_file} does not exist", "003"
    else:
        return None
    if deploy:
        return Error(message, hint=BAKE_HINT, id=f"osapp.E{number}")
    return Warning(message, hint=BAKE_HINT, id=f"osapp.W{number}")


def claims_problems(config: ClaimsConfig, *, deploy: bool) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Error(error.message, hint=f"Fix the environment variable {error.variable}.", id="osapp.E001")
        for error in config.errors
    ]
    if config.jwks_inline:
        try:
            parse_jwks(config.jwks_inline)
        except JwksError as exc:
            messages.append(
                Error(f"OSAPP_JWKS: {exc}", hint="Set OSAPP_JWKS to the issuer's public JWKS.", id="osapp.E002")
            )
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
                id="osapp.W001",
            )
        )
    return messages


@register("osapp")
def check_claims_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return claims_problems(load_config(), deploy=False)


@register("osapp", deploy=True)
def check_claims_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: the baked-file problems as errors, and settings only fit for a laptop."""
    config = load_config()
    problem = _baked_file_problem(config, deploy=True)
    messages: list[CheckMessage] = [problem] if problem is not None else []
    if not config.issuer_is_loopback and config.client_secret == DEVELOPMENT_CLIENT_SECRET:
        messages.append(
            Error(
                "OSAPP_CLIENT_SECRET is the development issuer's secret, with a non-development issuer",
                hint="Set OSAPP_CLIENT_SECRET to the secret the issuer registered for this client.",
                id="osapp.E004",
            )
        )
    if not config.base_url:
        messages.append(
            Warning(
                "OSAPP_BASE_URL is not set: the redirect URI and WebSocket origin follow the request's Host",
                hint="Set OSAPP_BASE_URL to the public URL users open, e.g. https://app.example.com.",
                id="osapp.W004",
            )
        )
    return messages


def serving_errors() -> list[CheckMessage]:
    """What must stop a server from starting: every check error, baked-file problems included."""
    return [m for m in claims_problems(load_config(), deploy=True) if m.is_serious()]
