"""A Redis database for tests: in CI a missing Redis fails the test instead of skipping it."""

from __future__ import annotations

import os

import pytest


def require_redis(url: str, *, flush: bool) -> str:
    """`url` once Redis answers there (emptied first when `flush`); skip, or fail in CI."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.flushdb() if flush else client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis must run in CI ({url}): {exc}")
        pytest.skip(f"Redis not reachable at {url}")
    return url
