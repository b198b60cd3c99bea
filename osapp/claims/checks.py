"""System checks: a wrong setting fails `manage.py check` with an id and the variable's name."""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .config import load_config
from .keys import JwksError, parse_jwks, read_jwks_file

BAKE_HINT = "Run `python manage.py bake_jwks` (at deploy time) to write it from the issuer."


@register("osapp")
def check_claims_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = load_config()
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
    elif config.jwks_file is not None and config.jwks_file.exists():
        try:
            read_jwks_file(config.jwks_file)
        except JwksError as exc:
            messages.append(Error(f"OSAPP_JWKS_FILE: {exc}", hint=BAKE_HINT, id="osapp.E002"))
    elif os.environ.get("OSAPP_JWKS_FILE"):
        messages.append(
            Error(f"OSAPP_JWKS_FILE: {config.jwks_file} does not exist", hint=BAKE_HINT, id="osapp.E003")
        )
    else:
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
