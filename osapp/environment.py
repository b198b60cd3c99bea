"""osapp's environment (README: Configuration) mapped into the claims component's settings.

The component reads only `CLAIMS_SESSION` (docs/claims.md); this table is where osapp's
`OSAPP_*` variables, their parsing and osapp's own defaults live. A value that does not parse
is left out (the component's default applies) and reported by `manage.py check` as
`osapp.E001` naming the variable; `SETTING_NAMES` makes the component's own messages name the
variable too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.core.checks import CheckMessage

# (variable, CLAIMS_SESSION key, kind, osapp's default or None for the component's own).
STRING, INTEGER, BOOLEAN = "string", "integer", "boolean"
VARIABLES: tuple[tuple[str, str, str, Any], ...] = (
    ("OSAPP_ISSUER", "ISSUER", STRING, "http://127.0.0.1:8001"),
    ("OSAPP_BASE_URL", "BASE_URL", STRING, None),
    ("OSAPP_CLIENT_ID", "CLIENT_ID", STRING, "osapp"),
    # No default: the development run (`make run`, osapp.devserver) sets its own.
    ("OSAPP_CLIENT_SECRET", "CLIENT_SECRET", STRING, None),
    ("OSAPP_CLIENT_AUTH_METHOD", "CLIENT_AUTH_METHOD", STRING, None),
    ("OSAPP_AUDIENCE", "AUDIENCE", STRING, None),
    ("OSAPP_SCOPES", "SCOPES", STRING, None),
    ("OSAPP_JWKS", "JWKS", STRING, None),
    ("OSAPP_JWKS_FILE", "JWKS_FILE", STRING, None),
    ("OSAPP_JWKS_REFETCH_INTERVAL", "JWKS_REFETCH_INTERVAL", INTEGER, None),
    ("OSAPP_ORGS_CLAIM", "ORGS_CLAIM", STRING, None),
    ("OSAPP_PROJECTS_CLAIM", "PROJECTS_CLAIM", STRING, None),
    ("OSAPP_CLOCK_LEEWAY", "CLOCK_LEEWAY", INTEGER, None),
    ("OSAPP_MAX_TOKEN_BYTES", "MAX_TOKEN_BYTES", INTEGER, None),
    ("OSAPP_REFRESH_SKEW", "REFRESH_SKEW", INTEGER, None),
    ("OSAPP_REFRESH_GRACE", "REFRESH_GRACE", INTEGER, None),
    ("OSAPP_REFRESH_LOCK_WAIT", "REFRESH_LOCK_WAIT", INTEGER, None),
    ("OSAPP_REFRESH_BACKOFF", "REFRESH_BACKOFF", INTEGER, None),
    ("OSAPP_REFRESH_MAX_EXPIRED_AGE", "REFRESH_MAX_EXPIRED_AGE", INTEGER, None),
    ("OSAPP_REFRESH_RATE_LIMIT", "REFRESH_RATE_LIMIT", INTEGER, None),
    ("OSAPP_REFRESH_BACKEND", "REFRESH_BACKEND", STRING, None),
    ("OSAPP_REDIS_URL", "REDIS_URL", STRING, None),
    ("OSAPP_STATE_DIR", "STATE_DIR", STRING, "var"),
    ("OSAPP_ISSUER_TIMEOUT", "ISSUER_TIMEOUT", INTEGER, None),
    ("OSAPP_VERIFIED_CACHE_SIZE", "VERIFIED_CACHE_SIZE", INTEGER, None),
    ("OSAPP_VERIFIED_CACHE_MB", "VERIFIED_CACHE_MB", INTEGER, None),
    ("OSAPP_COOKIE_SECURE", "COOKIE_SECURE", BOOLEAN, None),
)


@dataclass(frozen=True)
class VariableError:
    variable: str
    message: str


def _parse(kind: str, raw: str) -> Any:
    if kind == INTEGER:
        return int(raw)
    if kind == BOOLEAN:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    return raw


def claims_session(
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[VariableError]]:
    """CLAIMS_SESSION from the environment, and the variables that did not parse."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {"SETTING_NAMES": {key: variable for variable, key, _, _ in VARIABLES}}
    errors: list[VariableError] = []
    for variable, key, kind, default in VARIABLES:
        raw = env.get(variable)
        if raw is None or raw == "":
            if default is not None:
                values[key] = default
            continue
        try:
            values[key] = _parse(kind, raw)
        except ValueError:
            what = "an integer" if kind == INTEGER else "a boolean (use 1 or 0)"
            errors.append(VariableError(variable, f"{variable}={raw!r} is not {what}"))
    return values, errors


def environment_problems(errors: Iterable[VariableError]) -> list[CheckMessage]:
    """`osapp.E001` for each variable that did not parse."""
    from django.core.checks import Error

    return [Error(error.message, hint=f"Fix the environment variable {error.variable}.", id="osapp.E001") for error in errors]
