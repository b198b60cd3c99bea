"""`local` backend: threads and tasks of one process share an in-memory lock table and store."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LocalLock:
    key: str
    owner: str


class LocalBackend:
    name = "local"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[str, float]] = {}
        self._values: dict[tuple[str, str], tuple[bytes, float]] = {}

    async def try_lock(self, key: str, ttl_seconds: float) -> LocalLock | None:
        now = self._clock()
        with self._guard:
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            owner = secrets.token_hex(8)
            self._locks[key] = (owner, now + ttl_seconds)
            return LocalLock(key, owner)

    async def unlock(self, lock: LocalLock) -> None:
        with self._guard:
            held = self._locks.get(lock.key)
            if held is not None and held[0] == lock.owner:
                del self._locks[lock.key]

    async def get(self, key: str, kind: str) -> bytes | None:
        with self._guard:
            entry = self._values.get((key, kind))
            if entry is None:
                return None
            if entry[1] <= self._clock():
                del self._values[(key, kind)]
                return None
            return entry[0]

    async def put(self, key: str, kind: str, value: bytes, ttl_seconds: float) -> None:
        now = self._clock()
        with self._guard:
            self._values[(key, kind)] = (value, now + ttl_seconds)
            if len(self._values) > 10000:
                self._values = {k: v for k, v in self._values.items() if v[1] > now}

    async def ping(self) -> None:
        return None
