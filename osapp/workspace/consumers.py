"""The project event stream over WebSocket: `/ws/o/<org>/p/<project>/`.

The session rules come from `ClaimsConsumerMixin`: 4401 without a valid access token (the
page renews over HTTP and reconnects), 4403 when not a member of the project, and a close with
4401 at the token's `exp`.
"""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from osapp.claims import ClaimsConsumerMixin

from .live import broker_is_shared, group_name, tailer

log = logging.getLogger("osapp.workspace.ws")

CLOSE_UNAVAILABLE = 1011  # RFC 6455 §7.4.1: the server hit a condition preventing service


class ProjectEventsConsumer(ClaimsConsumerMixin, AsyncJsonWebsocketConsumer):
    project_id: str | None = None

    async def connect(self) -> None:
        principal = self.principal
        kwargs = self.scope["url_route"]["kwargs"]
        if principal is None:
            return await self.refuse_unauthenticated()
        found = principal.project_in(kwargs["org"], kwargs["project"])
        if found is None:
            return await self.refuse_forbidden()
        try:
            await self.channel_layer.group_add(group_name(found[1].id), self.channel_name)
        except Exception as exc:  # noqa: BLE001 - e.g. Redis down: refuse cleanly, never crash
            log.warning("websocket refused code=1011 reason='channel layer unavailable: %s'", type(exc).__name__)
            await self.accept()
            return await self.close(code=CLOSE_UNAVAILABLE)
        self.project_id = found[1].id
        if not broker_is_shared():
            tailer.subscribe(self.project_id)
        await self.accept_until_expiry()

    async def disconnect(self, code: int) -> None:
        self.cancel_expiry()
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
