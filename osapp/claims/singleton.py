"""`process_singleton`: a zero-argument factory whose result is built once per process.

`functools.cache` is not enough for the claims component's process-wide objects: two threads
making the first call at once each build their own (it does not lock around the call), and a
gunicorn worker's first burst of requests does exactly that. Two Verifiers mean two KeySets,
each fetching the JWKS for a rotated key; two coordinators on the `local` backend mean two
winners for one refresh token.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Singleton(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._built = False
        self._value: T | None = None
        functools.update_wrapper(self, factory)

    def __call__(self) -> T:
        if not self._built:  # after the first build: no lock on the hot path
            with self._lock:
                if not self._built:
                    self._value = self._factory()
                    self._built = True
        return self._value  # type: ignore[return-value]

    def cache_clear(self) -> None:
        """Forget the value; the next call builds a new one (tests that change settings)."""
        with self._lock:
            self._built = False
            self._value = None


def process_singleton(factory: Callable[[], T]) -> _Singleton[T]:
    return _Singleton(factory)
