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
    (tmp_path / "ddd.lock").touch()  # left by a holder that crashed
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


def test_a_released_lock_leaves_no_file(tmp_path):
    backend = FileBackend(tmp_path)
    for _ in range(3):
        lock = asyncio.run(backend.try_lock("abc123", 5))
        assert lock is not None and (tmp_path / "abc123.lock").exists()
        asyncio.run(backend.unlock(lock))
        assert list(tmp_path.iterdir()) == []


def test_the_periodic_sweep_never_blocks_the_event_loop(tmp_path, monkeypatch):
    # A sweep over 200 000 files takes seconds; it runs in a thread while put() returns.
    import threading

    backend = FileBackend(tmp_path)
    release, started = threading.Event(), threading.Event()

    def slow_sweep(now: float) -> int:
        started.set()
        assert release.wait(30)
        return 0

    monkeypatch.setattr(backend, "sweep", slow_sweep)
    backend._last_sweep = 0.0  # due now

    async def puts() -> None:
        await backend.put("aaa", RESULT, b"x", ttl_seconds=60)
        assert started.wait(30)  # the sweep is running, the loop is not blocked by it
        await backend.put("bbb", RESULT, b"y", ttl_seconds=60)  # and a second one is not started

    asyncio.run(puts())
    assert asyncio.run(backend.get("bbb", RESULT)) == b"y"
    release.set()
    assert backend._sweep_lock.acquire(timeout=30)


def test_state_dir_is_private_and_the_sqlite_file_is_0600(tmp_path):
    state = tmp_path / "fresh" / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env["OSAPP_STATE_DIR"] = str(state)
    code = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "osapp.settings"},
                   check=True, timeout=120)
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert oct((state / "osapp.sqlite3").stat().st_mode & 0o777) == "0o600"
    assert oct((state / "secret_key").stat().st_mode & 0o777) == "0o600"
