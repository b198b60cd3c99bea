"""`ClaimsConsumerMixin`: the claims session's rules for a channels WebSocket consumer.

`ClaimsWebSocketMiddleware` has put the verified `principal` (or None) into the scope; a
socket never refreshes (DESIGN §7). The mixin gives a consumer the close codes the page's
rotation script (`claims/socket.js`) understands:

- 4401: no valid access token. The page makes one HTTP request (which renews the session
  and sets new cookies) and reconnects.
- 4403: signed in, but not allowed here.
- At the access token's `exp`, the server sends `{"type": "error", "error": "tokenExpired"}`
  and closes with 4401; when the session is revoked at the issuer (DESIGN §12), it sends
  `{"type": "error", "error": "sessionRevoked"}` and closes with 4401 as soon as this worker
  learns of it.

Close codes exist only after the handshake, so a refused socket is accepted solely to be
closed with its code; nothing is sent or subscribed before that.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .principal import Principal
from .revocation import Revocation
from .runtime import get_runtime

log = logging.getLogger("osapp.claims.websocket")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ClaimsConsumerMixin:
    """Mix into an `AsyncWebsocketConsumer` (or its JSON variant) before the consumer class."""

    scope: dict[str, Any]
    _claims_expiry: asyncio.TimerHandle | None = None
    _claims_unsubscribe: Callable[[], None] | None = None

    if TYPE_CHECKING:  # provided by channels' consumer classes (never defined here: the MRO)

        async def accept(self, subprotocol: str | None = None) -> None: ...
        async def close(self, code: int | bool | None = None) -> None: ...
        async def send(
            self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
        ) -> None: ...

    @property
    def principal(self) -> Principal | None:
        principal = self.scope.get("principal")
        return principal if isinstance(principal, Principal) else None

    async def refuse_unauthenticated(self) -> None:
        auth = self.scope.get("claims_auth")
        log.info("websocket refused code=4401 reason=%r", getattr(auth, "reason", "") or "no token")
        await self._refuse(CLOSE_UNAUTHENTICATED)

    async def refuse_forbidden(self) -> None:
        principal = self.principal
        log.info("websocket refused code=4403 sub=%s", principal.user_id if principal else None)
        await self._refuse(CLOSE_FORBIDDEN)

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def accept_until_expiry(self) -> None:
        """Accept, and close with 4401 when the access token expires or is revoked."""
        principal = self.principal
        await self.accept()
        if principal is None:
            return
        runtime = get_runtime()
        loop = asyncio.get_running_loop()
        delay = max(0.0, principal.expires_at - runtime.clock())
        self._claims_expiry = loop.call_later(delay, lambda: asyncio.ensure_future(self._token_expired()))

        def on_revocation(record: Revocation) -> None:  # on the revocation reader's thread
            if runtime.revocations.principal_revoked(principal):
                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._session_revoked()))

        self._claims_unsubscribe = runtime.revocations.subscribe(on_revocation)
        if runtime.revocations.principal_revoked(principal):  # revoked while we accepted
            await self._session_revoked()

    async def _token_expired(self) -> None:
        get_runtime().metrics.websocket_token_expired.inc()
        await self._close_unauthenticated("tokenExpired")

    async def _session_revoked(self) -> None:
        log.info("websocket closed code=4401 reason='session revoked'")
        await self._close_unauthenticated("sessionRevoked")

    async def _close_unauthenticated(self, error: str) -> None:
        self.cancel_expiry()
        await self.send(text_data=json.dumps({"type": "error", "error": error}))
        await self.close(code=CLOSE_UNAUTHENTICATED)

    def cancel_expiry(self) -> None:
        """Call from `disconnect` (it also stops listening for revocations)."""
        if self._claims_expiry is not None:
            self._claims_expiry.cancel()
            self._claims_expiry = None
        if self._claims_unsubscribe is not None:
            self._claims_unsubscribe()
            self._claims_unsubscribe = None
