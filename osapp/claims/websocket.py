"""ClaimsWebSocketMiddleware: the same verification as HTTP for ASGI `websocket` scopes.

It never refreshes: a WebSocket handshake's response cannot set cookies, so a refresh here
would rotate the refresh token without the browser ever learning the new one (DESIGN §7).
It puts `principal` (or None) and `claims_auth` into the scope.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from .cookies import cookie_names, read_token_cookie
from .runtime import get_runtime
from .verifier import log_expired_rejection

log = logging.getLogger("osapp.claims.websocket")

MAX_COOKIE_HEADER_BYTES = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


def cookies_from_scope(scope: dict[str, Any]) -> dict[str, str]:
    """All Cookie headers joined (HTTP/2 and some proxies split them; DESIGN §11) and parsed
    by Django's own `parse_cookie`, so a socket sees exactly the cookies a page would: a pair
    smuggled into another cookie's value (`x=1 osapp_at=…`) is that value, not a cookie."""
    parts = [value.decode("latin-1") for name, value in scope.get("headers", []) if name.lower() == b"cookie"]
    header = "; ".join(parts)
    if len(header) > MAX_COOKIE_HEADER_BYTES:
        log.warning("websocket cookies ignored reason='Cookie header over %d bytes'", MAX_COOKIE_HEADER_BYTES)
        return {}
    return parse_cookie(header)


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if not an origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def origin_refusal(scope: dict[str, Any], base_url: str | None) -> str | None:
    """Why this handshake's Origin is not ours, or None when it is (DESIGN §7).

    Compared exactly by scheme, host and port: with `base_url` set, to its origin; without it
    (local runs), to the handshake's own Host and scheme. Another port or scheme on an allowed
    hostname is another origin (another service on the same host) and is refused."""
    origin_header = _header(scope, b"origin")
    if origin_header is None:
        return "no single Origin header"
    origin = _origin(origin_header)
    if origin is None:
        return "Origin is not a URL origin"
    if base_url:
        expected = _origin(base_url)
    else:
        host = _header(scope, b"host")
        if host is None or not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
            return "Host is not an allowed host"
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        expected = _origin(f"{scheme}://{host}")
    if origin != expected:
        return "Origin is not this site's origin"
    return None


class SameOriginValidator:
    """ASGI wrapper refusing (HTTP 403) a WebSocket handshake from any other origin.

    Replaces channels' AllowedHostsOriginValidator, which compares hostnames only."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            refusal = origin_refusal(scope, get_runtime().config.base_url)
            if refusal is not None:
                log.warning("websocket refused reason=%r origin=%r", refusal, (_header(scope, b"origin") or "")[:200])
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


class ClaimsWebSocketMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            runtime = get_runtime()
            verifier, names = runtime.verifier, cookie_names(runtime.config)
            cookies = cookies_from_scope(scope)
            auth = await verifier.aauthenticate(
                read_token_cookie(cookies, names.access), read_token_cookie(cookies, names.id_token)
            )
            log_expired_rejection(auth)  # a socket never renews (DESIGN §7)
            scope = {**scope, "principal": auth.principal, "claims_auth": auth}
        return await super().__call__(scope, receive, send)
