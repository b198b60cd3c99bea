"""Claims-only sessions: JWT cookies verified locally against a baked JWKS.

A self-contained Django component (DESIGN §13, docs/claims.md): add `osapp.claims` to
INSTALLED_APPS, `ClaimsSessionMiddleware` to MIDDLEWARE, `osapp.claims.urls` to the URLconf
and a `CLAIMS_SESSION = {...}` setting. It knows nothing of the project around it, and the
project uses nothing of it but the names below (the layering test holds it to that).

The names are loaded on first use, so importing the package (as INSTALLED_APPS does before
the app registry is ready) imports no model-dependent module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module that defines it.
_EXPORTS = {
    # Adapters: HTTP, WebSocket, django-ninja.
    "ClaimsSessionMiddleware": "middleware",
    "ClaimsWebSocketMiddleware": "websocket",
    "SameOriginValidator": "websocket",
    "ClaimsConsumerMixin": "consumers",
    "CookieSession": "ninja_auth",
    "BearerToken": "ninja_auth",
    "CsrfRejected": "ninja_auth",
    # Who the user is.
    "Principal": "principal",
    "Org": "principal",
    "ProjectRef": "principal",
    # The request's session and what a view may do with it.
    "SessionResolution": "session",
    "SessionNotice": "session",
    "NoticeKind": "session",
    "principal_of": "session",
    "current_tokens": "session",
    "refresh_now": "session",
    # Settings, runtime, operations.
    "ClaimsConfig": "config",
    "load_config": "config",
    "ClaimsRuntime": "runtime",
    "get_runtime": "runtime",
    "use_runtime": "runtime",
    "readiness": "health",
    "render_metrics": "metrics",
    "serving_errors": "checks",
    # Errors, one hierarchy under ClaimsError.
    "ClaimsError": "errors",
    "TokenInvalid": "errors",
    "TokenExpired": "errors",
    "KeysUnavailable": "errors",
    "IssuerError": "errors",
    "IssuerUnavailable": "errors",
    "IssuerNotReached": "errors",
    "IssuerOutcomeUnknown": "errors",
    "IssuerMisconfigured": "errors",
    "IssuerProtocolError": "errors",
    "ClientRejected": "errors",
    "GrantRejected": "errors",
}

# Spelled out for linters and readers; the layering test checks it matches _EXPORTS.
__all__ = [
    "BearerToken",
    "ClaimsConfig",
    "ClaimsConsumerMixin",
    "ClaimsError",
    "ClaimsRuntime",
    "ClaimsSessionMiddleware",
    "ClaimsWebSocketMiddleware",
    "ClientRejected",
    "CookieSession",
    "CsrfRejected",
    "GrantRejected",
    "IssuerError",
    "IssuerMisconfigured",
    "IssuerNotReached",
    "IssuerOutcomeUnknown",
    "IssuerProtocolError",
    "IssuerUnavailable",
    "KeysUnavailable",
    "NoticeKind",
    "Org",
    "Principal",
    "ProjectRef",
    "SameOriginValidator",
    "SessionNotice",
    "SessionResolution",
    "TokenExpired",
    "TokenInvalid",
    "current_tokens",
    "get_runtime",
    "load_config",
    "principal_of",
    "readiness",
    "refresh_now",
    "render_metrics",
    "serving_errors",
    "use_runtime",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .checks import serving_errors
    from .config import ClaimsConfig, load_config
    from .consumers import ClaimsConsumerMixin
    from .errors import (
        ClaimsError,
        ClientRejected,
        GrantRejected,
        IssuerError,
        IssuerMisconfigured,
        IssuerNotReached,
        IssuerOutcomeUnknown,
        IssuerProtocolError,
        IssuerUnavailable,
        KeysUnavailable,
        TokenExpired,
        TokenInvalid,
    )
    from .health import readiness
    from .metrics import render_metrics
    from .middleware import ClaimsSessionMiddleware
    from .ninja_auth import BearerToken, CookieSession, CsrfRejected
    from .principal import Org, Principal, ProjectRef
    from .runtime import ClaimsRuntime, get_runtime, use_runtime
    from .session import (
        NoticeKind,
        SessionNotice,
        SessionResolution,
        current_tokens,
        principal_of,
        refresh_now,
    )
    from .websocket import ClaimsWebSocketMiddleware, SameOriginValidator
