"""Refresh coordination: one refresh per rotation, whatever the concurrency (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import ClaimsConfig, get_config
from ..singleton import process_singleton
from ..verifier import get_verifier
from .base import BackendUnavailable, CoordinationBackend
from .coordinator import (
    CoordinatorSettings,
    IssuerFault,
    RefreshCoordinator,
    Refreshed,
    RefreshOutcome,
    RefreshRejected,
    RefreshUnavailable,
    SignedOut,
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
    "Refreshed",
    "SignedOut",
    "build_backend",
    "get_coordinator",
    "reset_coordinator",
]


def build_backend(config: ClaimsConfig) -> CoordinationBackend[Any]:
    if config.refresh_backend == "local":
        from .local import LocalBackend

        return LocalBackend()
    if config.refresh_backend == "redis":
        from .redis import RedisBackend

        assert config.redis_url  # guaranteed by config validation
        return RedisBackend(config.redis_url)
    from .file import FileBackend

    return FileBackend(Path(config.state_dir) / "refresh")


@process_singleton
def get_coordinator() -> RefreshCoordinator:
    config = get_config()
    issuer = get_verifier().issuer
    return RefreshCoordinator(
        build_backend(config),
        issuer.refresh,
        CoordinatorSettings(
            grace_seconds=config.refresh_grace_seconds,
            lock_wait_seconds=config.refresh_lock_wait_seconds,
            backoff_seconds=config.refresh_backoff_seconds,
            issuer_timeout_seconds=config.issuer_timeout_seconds,
            rate_limit_attempts=config.refresh_rate_limit_per_minute,
            rate_limit_window_seconds=60.0,
            config_fingerprint=config.client_fingerprint,
        ),
        revoke=issuer.revoke,
    )


def reset_coordinator() -> None:
    get_coordinator.cache_clear()
