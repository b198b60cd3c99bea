"""The one protocol every coordination backend implements (`local`, `file`, `redis`).

A backend offers a non-blocking per-key lock and a small expiring key/value store. Waiting is
the coordinator's job (async polling), so no backend ever blocks the event loop.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

# What is stored per refresh-token key.
RESULT = "result"  # sealed outcome of presenting the token (new tokens, or rejected)
TOMBSTONE = "tombstone"  # the session was signed out: never refresh, never set cookies
BACKOFF = "backoff"  # a transient failure happened: no new attempt until it expires
RATE = "rate"  # per-subject count of refresh attempts in the current window
FAULT = "fault"  # a settings fault seen by any worker (reported on /readyz)
REPLAY = "replay"  # a pushed event's `jti`, seen once (DESIGN §12)
KINDS = (RESULT, TOMBSTONE, BACKOFF, RATE, FAULT, REPLAY)


class BackendUnavailable(Exception):
    """The shared store cannot be reached (e.g. Redis down)."""


class Lock(Protocol):
    """What `try_lock` hands out: read-only (the backends' locks are frozen dataclasses)."""

    @property
    def key(self) -> str: ...


LockT = TypeVar("LockT", bound=Lock)


class CoordinationBackend(Protocol[LockT]):
    """Generic in its lock type: `unlock` takes exactly what this backend's `try_lock` gave."""

    name: str

    async def try_lock(self, key: str, ttl_seconds: float) -> LockT | None:
        """Take the lock for `key` if nobody holds it; never waits."""
        ...

    async def unlock(self, lock: LockT) -> None:
        """Release a lock this caller holds (and only if it still holds it)."""
        ...

    async def get(self, key: str, kind: str) -> bytes | None: ...

    async def put(self, key: str, kind: str, value: bytes, ttl_seconds: float) -> None: ...

    async def ping(self) -> None:
        """Raise BackendUnavailable when the backend cannot serve."""
        ...
