"""`redis` backend: for deployments of more than one host.

Lock: `SET key owner NX PX ttl`, released by a compare-and-delete script so a winner whose lock
expired never deletes a successor's. Values: `SET … PX ttl`. One asyncio client per event loop
(uvicorn runs one loop per worker; `async_to_sync` may run others).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .base import BackendUnavailable

RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
DEFAULT_PREFIX = "osapp:refresh:"


@dataclass(frozen=True)
class RedisLock:
    key: str
    owner: str


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, *, socket_timeout: float = 2.0, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._socket_timeout = socket_timeout
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._socket_timeout,
            )
            self._clients[loop] = client
        return client

    async def try_lock(self, key: str, ttl_seconds: float) -> RedisLock | None:
        owner = secrets.token_hex(16)
        try:
            taken = await self._client().set(
                f"{self.prefix}{key}:lock", owner, nx=True, px=int(ttl_seconds * 1000)
            )
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None
        return RedisLock(key, owner) if taken else None

    async def unlock(self, lock: RedisLock) -> None:
        try:
            await self._client().eval(RELEASE_IF_OWNER, 1, f"{self.prefix}{lock.key}:lock", lock.owner)
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None

    async def get(self, key: str, kind: str) -> bytes | None:
        try:
            value = await self._client().get(f"{self.prefix}{key}:{kind}")
            return value.encode() if isinstance(value, str) else value
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None

    async def put(self, key: str, kind: str, value: bytes, ttl_seconds: float) -> None:
        try:
            await self._client().set(f"{self.prefix}{key}:{kind}", value, px=int(ttl_seconds * 1000))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None

    async def ping(self) -> None:
        try:
            await self._client().ping()
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None
