"""The claims runtime: one per process even on a concurrent first use, rebuilt on a settings
change, and replaceable in a test without patching anything.

A worker's first burst of requests arrives on many threads at once. If each built its own
runtime, each would hold its own KeySet and fetch the JWKS for a rotated key (a fetch per
request, not per process: seen as 41 fetches for 40 page loads); each its own coordinator
with the `local` backend would let two requests present one refresh token.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from django.test import override_settings

from osapp.claims import runtime as runtime_module
from osapp.claims.config import load_config
from osapp.claims.runtime import ClaimsRuntime, get_runtime, reset_runtime, use_runtime

THREADS = 8


def first_use_from_many_threads(get) -> set[int]:
    barrier = threading.Barrier(THREADS)
    seen: list[int] = []

    def first_use() -> None:
        barrier.wait()
        seen.append(id(get()))

    threads = [threading.Thread(target=first_use) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == THREADS
    return set(seen)


class SlowRuntime(ClaimsRuntime):
    """Takes a while to build: the window in which a second caller could build another."""

    def __init__(self, *args, **kwargs) -> None:
        time.sleep(0.05)
        super().__init__(*args, **kwargs)


@pytest.mark.usefixtures("claims_env")
def test_concurrent_first_calls_share_one_runtime_verifier_and_coordinator(monkeypatch):
    monkeypatch.setattr(runtime_module, "ClaimsRuntime", SlowRuntime)
    reset_runtime()
    built = first_use_from_many_threads(get_runtime)
    assert len(built) == 1
    runtime = get_runtime()
    assert len({id(get_runtime().verifier) for _ in range(3)}) == 1
    assert runtime.coordinator is get_runtime().coordinator


def test_a_settings_change_rebuilds_the_runtime(claims_env, settings):
    before = get_runtime()
    assert get_runtime() is before
    settings.CLAIMS_SESSION = {**settings.CLAIMS_SESSION, "REFRESH_SKEW": 5}
    after = get_runtime()
    assert after is not before and after.config.refresh_skew_seconds == 5
    with override_settings(SECRET_KEY="another"):  # the refresh cookie's seal depends on it
        assert get_runtime() is not after


def test_use_runtime_injects_a_clock_and_a_transport_and_restores_the_settings_one(claims_env):
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503)

    built = get_runtime()
    injected = ClaimsRuntime(load_config(), clock=lambda: 1234.0, transport=httpx.MockTransport(handle))
    with use_runtime(injected):
        assert get_runtime() is injected and get_runtime().clock() == 1234.0
        with pytest.raises(Exception, match="discovery"):
            get_runtime().issuer.metadata()
        assert calls == ["/.well-known/openid-configuration"]
    assert get_runtime() is built


def test_a_bad_setting_refuses_to_build_naming_it(claims_env, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.CLAIMS_SESSION = {**settings.CLAIMS_SESSION, "REFRESH_LOCK_WAIT": 5, "ISSUER_TIMEOUT": 10}
    with pytest.raises(ImproperlyConfigured, match="OSAPP_REFRESH_LOCK_WAIT"):
        get_runtime()
