"""Delivering new events to open sockets, in every worker.

With OSAPP_REDIS_URL set, the channel layer is channels-redis and an append publishes to the
project's group directly: every worker (and host) subscribed receives it. On the embedded
default there is no shared broker, so each worker runs one `EventTailer` while it holds sockets:
it reads events newer than the last it saw from the shared database (every
LIVE_POLL_SECONDS) and hands them to its own in-memory layer. Either way the database is the
source of truth and the socket is only a notification path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger("osapp.workspace.live")

LIVE_POLL_SECONDS = 0.5
EVENT_MESSAGE = "project.event"


def group_name(project_id: str) -> str:
    # Channels group names allow only [A-Za-z0-9._-] and 100 characters; claim ids may not.
    return "project." + hashlib.sha256(project_id.encode()).hexdigest()[:40]


def broker_is_shared() -> bool:
    return bool(getattr(settings, "OSAPP_LIVE_SHARED_BROKER", False))


def publish_event(event) -> None:  # noqa: ANN001 - an Event; imported lazily to avoid a cycle
    """Announce a stored event. Without a shared broker the tailers pick it up instead."""
    if not broker_is_shared():
        return
    try:
        async_to_sync(get_channel_layer().group_send)(
            group_name(event.project_id), {"type": EVENT_MESSAGE, "event": event.as_dict()}
        )
    except Exception as exc:  # noqa: BLE001 - the event is stored; only the notification is lost
        log.warning("live publish failed (event %s stored): %s", event.pk, type(exc).__name__)


class EventTailer:
    """One per worker process: tails the events table for the projects with open sockets."""

    def __init__(self) -> None:
        self.subscriptions: Counter[str] = Counter()
        self._task: asyncio.Task | None = None
        self._last_id: int | None = None

    def subscribe(self, project_id: str) -> None:
        self.subscriptions[project_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def unsubscribe(self, project_id: str) -> None:
        self.subscriptions[project_id] -= 1
        if self.subscriptions[project_id] <= 0:
            del self.subscriptions[project_id]

    async def _run(self) -> None:
        from .models import Event

        def newest_id() -> int:
            return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

        def newer(after: int, projects: list[str]) -> list[dict]:
            query = Event.objects.filter(id__gt=after, project_id__in=projects).order_by("id")[:500]
            return [event.as_dict() for event in query]

        if self._last_id is None:
            self._last_id = await database_sync_to_async(newest_id)()
        layer = get_channel_layer()
        while self.subscriptions:
            try:
                events = await database_sync_to_async(newer)(self._last_id, list(self.subscriptions))
            except Exception as exc:  # noqa: BLE001 - keep tailing; the next poll retries
                log.warning("event tail failed: %s", type(exc).__name__)
                events = []
            for event in events:
                self._last_id = max(self._last_id, event["id"])
                await layer.group_send(group_name(event["project_id"]), {"type": EVENT_MESSAGE, "event": event})
            await asyncio.sleep(LIVE_POLL_SECONDS)
        self._last_id = None  # nobody listens: start from "now" next time


tailer = EventTailer()
