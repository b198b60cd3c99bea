"""Content-Security-Policy on every response (Django's SecurityMiddleware sets the others).

No page runs inline script or style: scripts and styles come from our own origin as files, so
an injected `<script>` or `style=` attribute does nothing (CSP3 §6.1). Forms may post to this
origin and to the issuer, because sign-out posts to /auth/logout, which redirects to the
issuer's end-session endpoint, and Chromium checks `form-action` on redirects too. The
WebSocket origin is named beside `'self'`: CSP3 §6.7.2.8 lets `'self'` match ws:/wss: of the
same host (Chromium since 70, Firefox), but WebKit long did not (webkit.org bug 201591).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from osapp.claims import get_runtime

HEADER = "Content-Security-Policy"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(request: HttpRequest) -> str:
    """The policy for one response; only the request's own host varies."""
    connect = form_action = "'self'"
    try:
        connect += f" {'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    except DisallowedHost:
        pass  # the 400 answering a forged Host gets 'self' alone
    try:
        form_action += f" {_origin(get_runtime().config.issuer)}"
    except ImproperlyConfigured:
        pass  # reported by the system checks; no form is served then anyway
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            f"form-action {form_action}",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """Sets the policy unless the view already chose one."""

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        if self._async:
            return self.__acall__(request)
        return self._apply(request, self.get_response(request))  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self._apply(request, await self.get_response(request))  # type: ignore[misc]

    def _apply(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if HEADER not in response:
            response[HEADER] = policy(request)
        return response
