"""File backend specifics: a crashed lock holder releases its lock; stale files are swept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from osapp.claims.refresh.base import RESULT
from osapp.claims.refresh.file import STALE_LOCK_SECONDS, FileBackend

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_lock_holder_releases_the_lock(tmp_path):
    backend = FileBackend(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "abc123.lock")], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    assert asyncio.run(backend.try_lock("abc123", 5)) is None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = asyncio.run(backend.try_lock("abc123", 5))
    assert lock is not None
    asyncio.run(backend.unlock(lock))


def test_expired_values_and_unheld_old_locks_are_swept(tmp_path):
    backend = FileBackend(tmp_path)
    asyncio.run(backend.put("aaa", RESULT, b"x", ttl_seconds=0.01))
    asyncio.run(backend.put("bbb", RESULT, b"y", ttl_seconds=60))
    held = asyncio.run(backend.try_lock("ccc", 5))
    old = asyncio.run(backend.try_lock("ddd", 5))
    asyncio.run(backend.unlock(old))
    past = time.time() - STALE_LOCK_SECONDS - 10
    for name in ("ccc.lock", "ddd.lock"):
        os.utime(tmp_path / name, (past, past))
    time.sleep(0.05)
    removed = backend.sweep(time.time())
    assert removed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bbb.result", "ccc.lock"]
    assert asyncio.run(backend.get("bbb", RESULT)) == b"y"
    asyncio.run(backend.unlock(held))


def test_keys_that_are_not_digests_never_touch_the_disk(tmp_path):
    import pytest

    backend = FileBackend(tmp_path)
    with pytest.raises(ValueError):
        asyncio.run(backend.get("../../etc/passwd", RESULT))
