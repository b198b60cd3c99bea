"""django-ninja authentication for the claims session: thin adapters over the one verifier.

`CookieSession` is the browser: it trusts the Principal `ClaimsSessionMiddleware` already put on
the request (the middleware is the only adapter that refreshes, DESIGN §5) and demands Django's
CSRF token on unsafe methods, because ninja views are CSRF-exempt unless the cookie auth asks
(DESIGN §11). `BearerToken` is a script: `Authorization: Bearer <access token>`, verified as is
and never refreshed — an expired token is a 401, and the client renews it with its issuer.
Both return a `Principal` (ninja puts it on `request.auth`) or None (ninja answers 401).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from .config import load_config
from .cookies import cookie_names, read_token_cookie
from .principal import Principal
from .runtime import get_runtime
from .session import resolution_of
from .verifier import log_expired_rejection


class CsrfRejected(HttpError):
    """A cookie-authenticated unsafe request without a valid CSRF token (403)."""

    def __init__(self) -> None:
        super().__init__(
            403, "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header."
        )


class CookieSession(APIKeyCookie):
    openapi_description = (
        "The browser session cookie set by signing in. Unsafe methods (POST, PUT, PATCH, "
        "DELETE) also need Django's CSRF token in the X-CSRFToken header."
    )

    def __init__(self) -> None:
        # The name shown in the OpenAPI document. load_config, not the runtime: importing the
        # URLconf must not raise; a bad configuration is reported by the system checks.
        self.param_name = cookie_names(load_config()).access
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        token = read_token_cookie(request.COOKIES, cookie_names(get_runtime().config).access)
        if token is None:
            # No session cookie, nothing for CSRF to protect: let the next auth (Bearer) try.
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise CsrfRejected()
        return token

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        if not key:
            return None
        return resolution_of(request).principal


class BearerToken(HttpBearer):
    openapi_description = (
        "An access token from the issuer: `Authorization: Bearer <access token>`. "
        "Never refreshed here; an expired token is a 401."
    )

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        auth = get_runtime().verifier.authenticate(token)
        log_expired_rejection(auth)  # a bearer token is never renewed here
        return auth.principal
