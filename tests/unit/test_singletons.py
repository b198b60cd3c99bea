"""The claims component's process-wide objects are one per process, even on a concurrent first use.

A worker's first burst of requests arrives on many threads at once. If each built its own
Verifier, each would hold its own KeySet and fetch the JWKS for a rotated key (a fetch per
request, not per process: seen as 41 fetches for 40 page loads); each its own coordinator
with the `local` backend would let two requests present one refresh token.
"""

from __future__ import annotations

import threading
import time

import pytest

from osapp.claims import refresh, verifier

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


def slow(cls):
    """`cls`, taking a while to build: the window in which a second caller could build another."""

    class Slow(cls):
        def __init__(self, *args, **kwargs):
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

    return Slow


@pytest.mark.usefixtures("claims_env")
def test_concurrent_first_calls_share_one_verifier(monkeypatch):
    monkeypatch.setattr(verifier, "Verifier", slow(verifier.Verifier))
    verifier.reset_verifier()
    assert len(first_use_from_many_threads(verifier.get_verifier)) == 1


@pytest.mark.usefixtures("claims_env")
def test_concurrent_first_calls_share_one_coordinator(monkeypatch):
    monkeypatch.setenv("OSAPP_REFRESH_BACKEND", "local")
    from osapp.claims.config import reset_config

    reset_config()
    verifier.reset_verifier()
    refresh.reset_coordinator()
    monkeypatch.setattr(refresh, "RefreshCoordinator", slow(refresh.RefreshCoordinator))
    try:
        assert len(first_use_from_many_threads(refresh.get_coordinator)) == 1
    finally:
        refresh.reset_coordinator()
