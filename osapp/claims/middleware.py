"""ClaimsSessionMiddleware: every HTTP request's claims session, resolved and applied once.

The common case — a valid token outside the refresh skew — is a cache lookup and no I/O.
Near expiry it renews through the coordinator and sets the new cookies on the response; this
is the only adapter that may refresh (DESIGN §5). It runs synchronously (osapp keeps the
whole stack synchronous, `osapp/sync_stack.py`; Django adapts it in an async stack): a renewal
waits in the request's thread while the coordinator runs on an event loop (`async_to_sync`),
never blocking one. A response built for a signed-in user is marked `Cache-Control: private`
and `Vary: Cookie`, so no shared cache hands it to anyone else.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from .cookies import read_token_cookie
from .runtime import get_runtime
from .session import (
    CookieAction,
    SessionResolution,
    attach,
    ended_by_logout,
    renew,
    resolution_of,
    resolve_session,
    write_cookie_plan,
)


class ClaimsSessionMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        runtime = get_runtime()
        names = runtime.cookie_names
        auth = runtime.verifier.authenticate(
            read_token_cookie(request.COOKIES, names.access), read_token_cookie(request.COOKIES, names.id_token)
        )
        resolved = resolve_session(request, auth, runtime)
        if not isinstance(resolved, SessionResolution):  # a refresh binding: renew first
            resolved = async_to_sync(renew)(auth, resolved, runtime)
        signed_in = attach(request, resolved).principal is not None
        response = self.get_response(request)
        final = resolution_of(request)  # a view may have renewed on purpose (refresh_now)
        plan = final.cookies
        if plan is not None:
            # Only new tokens need the backend (a logout since?); clearing needs no hand-off.
            ended = plan.action is CookieAction.SET and async_to_sync(ended_by_logout)(plan, runtime)
            write_cookie_plan(request, response, runtime.config, plan, ended=ended)
        # RFC 9111 §5.2.2.7: `private` keeps shared caches from storing it; stronger directives
        # already set (no-store, …) are kept. Signed in when the request came (a logout ends
        # that) or by the time the answer leaves (a renewal may have adopted new tokens).
        if signed_in or auth.principal is not None or final.principal is not None:
            patch_cache_control(response, private=True)
            patch_vary_headers(response, ("Cookie",))
        return response
