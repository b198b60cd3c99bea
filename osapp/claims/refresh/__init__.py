"""Refresh coordination: one refresh per rotation, whatever the concurrency (DESIGN §6)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ClaimsConfig
from .base import BackendUnavailable, CoordinationBackend
from .coordinator import (
    CoordinatorSettings,
    IssuerFault,
    RefreshCoordinator,
    Refreshed,
    RefreshOutcome,
    RefreshRejected,
    RefreshUnavailable,
    Role,
    SignedOut,
    UnavailableKind,
)

__all__ = [
    "BackendUnavailable",
    "CoordinationBackend",
    "CoordinatorSettings",
    "IssuerFault",
    "RefreshCoordinator",
    "RefreshOutcome",
    "RefreshRejected",
    "RefreshUnavailable",
    "Role",
    "UnavailableKind",
    "Refreshed",
    "SignedOut",
    "build_backend",
    "coordinator_settings",
]


def build_backend(config: ClaimsConfig, *, clock: Callable[[], float] = time.time) -> CoordinationBackend[Any]:
    """The backend `config` names, with `clock` as its wall clock (file) where it keeps time."""
    if config.refresh_backend == "local":
        from .local import LocalBackend

        return LocalBackend()
    if config.refresh_backend == "redis":
        from .redis import RedisBackend

        assert config.redis_url  # guaranteed by config validation
        return RedisBackend(config.redis_url, prefix=config.redis_prefix)
    from .file import FileBackend

    return FileBackend(Path(config.state_dir) / "refresh", clock=clock)


def coordinator_settings(config: ClaimsConfig) -> CoordinatorSettings:
    return CoordinatorSettings(
        grace_seconds=config.refresh_grace_seconds,
        lock_wait_seconds=config.refresh_lock_wait_seconds,
        backoff_seconds=config.refresh_backoff_seconds,
        issuer_timeout_seconds=config.issuer_timeout_seconds,
        rate_limit_attempts=config.refresh_rate_limit_per_minute,
        rate_limit_window_seconds=60.0,
        config_fingerprint=config.client_fingerprint,
    )


if TYPE_CHECKING:  # mypy proves each backend satisfies the protocol with its own lock type

    from .file import FileBackend, FileLock
    from .local import LocalBackend, LocalLock
    from .redis import RedisBackend, RedisLock

    def _backends_satisfy_the_protocol(
        local: LocalBackend, file: FileBackend, redis: RedisBackend
    ) -> tuple[CoordinationBackend[LocalLock], CoordinationBackend[FileLock], CoordinationBackend[RedisLock]]:
        return local, file, redis
