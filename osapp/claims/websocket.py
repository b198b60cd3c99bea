"""ClaimsWebSocketMiddleware: the same verification as HTTP for ASGI `websocket` scopes.

It never refreshes: a WebSocket handshake's response cannot set cookies, so a refresh here
would rotate the refresh token without the browser ever learning the new one (DESIGN §7).
It puts `principal` (or None) and `claims_auth` into the scope.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

from channels.middleware import BaseMiddleware

from .cookies import cookie_names, read_token_cookie
from .verifier import get_verifier, log_expired_rejection

log = logging.getLogger("osapp.claims.websocket")

MAX_COOKIE_HEADER_BYTES = 64 * 1024


def cookies_from_scope(scope: dict[str, Any]) -> dict[str, str]:
    """All Cookie headers joined (HTTP/2 and some proxies split them; DESIGN §11), parsed."""
    parts = [value.decode("latin-1") for name, value in scope.get("headers", []) if name.lower() == b"cookie"]
    header = "; ".join(parts)
    if len(header) > MAX_COOKIE_HEADER_BYTES:
        log.warning("websocket cookies ignored reason='Cookie header over %d bytes'", MAX_COOKIE_HEADER_BYTES)
        return {}
    jar = SimpleCookie()
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        try:
            jar.load(chunk)
        except CookieError:
            continue  # one malformed pair does not hide the others
    for name, morsel in jar.items():
        cookies[name] = morsel.value
    return cookies


class ClaimsWebSocketMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            verifier = get_verifier()
            names = cookie_names(verifier.config)
            cookies = cookies_from_scope(scope)
            auth = await verifier.aauthenticate(
                read_token_cookie(cookies, names.access), read_token_cookie(cookies, names.id_token)
            )
            log_expired_rejection(auth)  # a socket never renews (DESIGN §7)
            scope = {**scope, "principal": auth.principal, "claims_auth": auth}
        return await super().__call__(scope, receive, send)
