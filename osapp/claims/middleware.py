"""ClaimsSessionMiddleware: attaches `request.principal` and `request.user` from token cookies.

Runs natively in both sync and async stacks. The common case — a valid token outside the
refresh skew — is a cache lookup and no I/O. Near expiry it renews through the coordinator
(awaited, so waiting never blocks the event loop) and sets the new cookies on the response.
This is the only adapter that may refresh (DESIGN §5). A response built for a signed-in user
is marked `Cache-Control: private` and `Vary: Cookie`, so no shared cache hands it to anyone else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from .cookies import cookie_names, read_token_cookie
from .renewal import refresh_token_to_present, renew_if_needed, write_session_cookies
from .verifier import Authentication, get_verifier


def _tokens(request: HttpRequest) -> tuple[str | None, str | None]:
    names = cookie_names(get_verifier().config)
    return read_token_cookie(request.COOKIES, names.access), read_token_cookie(request.COOKIES, names.id_token)


def attach(request: HttpRequest, auth: Authentication) -> Authentication:
    """Put the verification outcome on the request."""
    request.principal = auth.principal  # type: ignore[attr-defined]
    request.user = auth.principal or AnonymousUser()  # type: ignore[assignment]
    request.claims_auth = auth  # type: ignore[attr-defined]
    request.claims_notice = None  # type: ignore[attr-defined]
    request.claims_cookie_change = None  # type: ignore[attr-defined]
    return auth


class ClaimsSessionMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self._async:
            return self.__acall__(request)
        auth = attach(request, get_verifier().authenticate(*_tokens(request)))
        if _wants_renewal(request, auth):
            async_to_sync(renew_if_needed)(request, auth)
        response = cast(HttpResponse, self.get_response(request))  # sync chain: not awaitable
        if request.claims_cookie_change is not None:  # type: ignore[attr-defined]
            async_to_sync(write_session_cookies)(request, response)
        return _private_when_signed_in(request, auth, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        auth = attach(request, await get_verifier().aauthenticate(*_tokens(request)))
        if _wants_renewal(request, auth):
            await renew_if_needed(request, auth)
        response = await self.get_response(request)  # type: ignore[misc]
        if request.claims_cookie_change is not None:  # type: ignore[attr-defined]
            await write_session_cookies(request, response)
        return _private_when_signed_in(request, auth, response)


def _private_when_signed_in(
    request: HttpRequest, auth: Authentication, response: HttpResponse
) -> HttpResponse:
    # RFC 9111 §5.2.2.7: `private` keeps shared caches from storing it; stronger directives
    # already set (no-store, …) are kept. Signed in when the request came (a logout ends that)
    # or by the time the answer leaves (a renewal may have adopted new tokens).
    if auth.principal is not None or getattr(request, "principal", None) is not None:
        patch_cache_control(response, private=True)
        patch_vary_headers(response, ("Cookie",))
    return response


def _wants_renewal(request: HttpRequest, auth: Authentication) -> bool:
    """Cheap gate: a refresh to attempt, or an expired session's cookies to clear."""
    return auth.state == "expired" or refresh_token_to_present(request, auth) is not None
