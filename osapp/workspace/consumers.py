"""The project event stream over WebSocket: `/ws/o/<org>/p/<project>/`.

Close codes: 4401 no valid access token (the page refreshes over HTTP and reconnects), 4403
not a member of the project. Close codes exist only after the handshake, so a refused socket is
accepted solely to be closed with its code; nothing is sent or subscribed before that.
When the access token's `exp` passes, the server sends `{"type": "error", "error":
"tokenExpired"}` and closes with 4401.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from osapp.claims.metrics import WEBSOCKET_ROTATIONS

from .live import broker_is_shared, group_name, tailer

log = logging.getLogger("osapp.workspace.ws")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNAVAILABLE = 1011  # RFC 6455 §7.4.1: the server hit a condition preventing service


class ProjectEventsConsumer(AsyncJsonWebsocketConsumer):
    project_id: str | None = None
    _expiry: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        principal = self.scope.get("principal")
        kwargs = self.scope["url_route"]["kwargs"]
        if principal is None:
            reason = getattr(self.scope.get("claims_auth"), "reason", "") or "no token"
            log.info("websocket refused code=4401 reason=%r", reason)
            return await self._refuse(CLOSE_UNAUTHENTICATED)
        found = principal.project_in(kwargs["org"], kwargs["project"])
        if found is None:
            log.info("websocket refused code=4403 sub=%s", principal.user_id)
            return await self._refuse(CLOSE_FORBIDDEN)
        try:
            await self.channel_layer.group_add(group_name(found[1].id), self.channel_name)
        except Exception as exc:  # noqa: BLE001 - e.g. Redis down: refuse cleanly, never crash
            log.warning("websocket refused code=1011 reason='channel layer unavailable: %s'", type(exc).__name__)
            await self.accept()
            return await self.close(code=CLOSE_UNAVAILABLE)
        self.project_id = found[1].id
        if not broker_is_shared():
            tailer.subscribe(self.project_id)
        await self.accept()
        delay = max(0.0, principal.expires_at - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._token_expired())
        )

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def _token_expired(self) -> None:
        WEBSOCKET_ROTATIONS.inc()
        await self.send_json({"type": "error", "error": "tokenExpired"})
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        if self.project_id is not None:
            try:
                await self.channel_layer.group_discard(group_name(self.project_id), self.channel_name)
            except Exception:  # noqa: BLE001 - the group entry expires on its own
                log.info("group_discard failed for a closing socket")
            if not broker_is_shared():
                tailer.unsubscribe(self.project_id)
            self.project_id = None

    async def receive_json(self, content, **kwargs) -> None:  # noqa: ANN001
        # The stream is server-to-client; appends go through HTTP (forms or the API).
        await self.send_json({"type": "error", "error": "readOnly"})

    async def project_event(self, message: dict) -> None:
        await self.send_json({"type": "event", "event": message["event"]})
