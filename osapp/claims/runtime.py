"""The claims component's runtime: everything it builds from its settings, once per process.

`ClaimsRuntime` holds the config, the issuer client, the verifier (key set and verified-claims
cache), the refresh coordinator and the live revocation set with its log (revocation.py), with
the clock and the HTTP transport injected. Nothing
else in the component is a module-level singleton: every adapter asks `get_runtime()`.

The first call builds it under a lock (a worker's first burst of requests makes several at
once, and two verifiers would mean two key sets, two coordinators on `local` two winners). A
change of `CLAIMS_SESSION` or `SECRET_KEY` (`override_settings` in tests) drops it, and
`use_runtime(...)` installs a hand-built one (a fake clock, a mock transport) for a test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .config import ClaimsConfig, load_config
from .cookies import CookieNames, cookie_names
from .keys import KeySet
from .metrics import ClaimsMetrics, metrics_for
from .oidc import IssuerClient
from .refresh import CoordinationBackend, RefreshCoordinator, build_backend, coordinator_settings
from .revocation import (
    FileRevocationLog,
    LocalRevocationLog,
    RedisRevocationLog,
    Revocation,
    RevocationLog,
    RevocationSet,
)
from .verifier import Verifier

RELOADING_SETTINGS = ("CLAIMS_SESSION", "SECRET_KEY")


class ClaimsRuntime:
    def __init__(
        self,
        config: ClaimsConfig,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        keys: KeySet | None = None,
        backend: CoordinationBackend[Any] | None = None,
    ) -> None:
        """Raises ImproperlyConfigured naming the first bad setting (the checks list them all)."""
        if config.errors:
            raise ImproperlyConfigured(config.errors[0].message)
        self.config = config
        self.clock = clock
        self.cookie_names: CookieNames = cookie_names(config)
        self.metrics: ClaimsMetrics = metrics_for(config.metric_prefix)
        self.issuer = IssuerClient(config, transport, metrics=self.metrics)
        self.revocations = RevocationSet(clock, self.metrics)
        self.revocation_log: RevocationLog = build_revocation_log(config)
        self.verifier = Verifier(
            config,
            keys=keys,
            fetch_jwks=self.issuer.fetch_jwks,
            clock=clock,
            metrics=self.metrics,
            revocations=self.revocations,
        )
        self.coordinator = RefreshCoordinator(
            backend if backend is not None else build_backend(config, clock=clock),
            self.issuer.refresh,
            coordinator_settings(config),
            revoke=self.issuer.revoke,
            clock=clock,
            metrics=self.metrics,
        )
        # This process's reader of the revocation log (a daemon thread; none for `local`).
        self.revocation_log.start(self.revocations)

    def publish_revocations(self, records: list[Revocation]) -> None:
        """Write `records` to the log for every worker and host, and apply them here at once
        (raises BackendUnavailable; applying twice changes nothing)."""
        for record in records:
            self.revocation_log.publish(record)
        self.revocations.apply(records)


def build_revocation_log(config: ClaimsConfig) -> RevocationLog:
    """The revocation log of the coordination backend `config` names."""
    if config.refresh_backend == "redis":
        assert config.redis_url  # guaranteed by config validation
        return RedisRevocationLog(config.redis_url, config.redis_prefix)
    if config.refresh_backend == "local":
        return LocalRevocationLog()
    return FileRevocationLog(config.state_dir / "revocations.log")


_current: ClaimsRuntime | None = None
_lock = threading.Lock()


def get_runtime() -> ClaimsRuntime:
    """This process's runtime, built from `settings.CLAIMS_SESSION` on first use."""
    runtime = _current
    if runtime is None:  # after the first build: no lock on the hot path
        with _lock:
            runtime = _current
            if runtime is None:
                runtime = ClaimsRuntime(load_config())
                _install(runtime)
    return runtime


def _install(runtime: ClaimsRuntime | None) -> None:
    global _current
    _current = runtime


def install_runtime(runtime: ClaimsRuntime | None) -> None:
    """Serve with `runtime` from now on (a test fixture; `use_runtime` for a block). None:
    forget it, and build the next one from the settings."""
    with _lock:
        _install(runtime)


def reset_runtime() -> None:
    """Forget the runtime; the next `get_runtime()` builds one from the settings then."""
    install_runtime(None)


@contextmanager
def use_runtime(runtime: ClaimsRuntime) -> Iterator[ClaimsRuntime]:
    """Serve with `runtime` inside the block (tests); the settings' runtime afterwards."""
    with _lock:
        previous = _current
        _install(runtime)
    try:
        yield runtime
    finally:
        with _lock:
            _install(previous)


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS:
        reset_runtime()
