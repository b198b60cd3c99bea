"""`file` backend (the default): `fcntl.flock` per key, values written atomically beside it.

Works across gunicorn workers on one host. A winner that crashes releases its lock with its
process (the kernel drops flocks of closed descriptors); a released lock's file is removed.
Values carry their expiry and are swept periodically — in a thread, never on the event loop
(a sweep over 200 000 files takes seconds) — as are lock files a crashed holder left.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import KINDS, BackendUnavailable

log = logging.getLogger("osapp.claims.refresh")

EXPIRY = struct.Struct("!d")
SWEEP_INTERVAL_SECONDS = 60.0
STALE_LOCK_SECONDS = 600.0


@dataclass
class FileLock:
    key: str
    fd: int


class FileBackend:
    name = "file"

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        """`clock`: the wall clock (expiry times are shared with other processes)."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._clock = clock
        self._last_sweep = clock()  # the first sweep a minute in, then every minute
        self._sweep_lock = threading.Lock()

    def _path(self, key: str, kind: str) -> Path:
        if not key.isalnum():  # keys are hex digests; anything else never reaches the disk
            raise ValueError("invalid coordination key")
        return self.directory / f"{key}.{kind}"

    # Every file operation runs in a thread: a slow disk never stalls the event loop.
    async def try_lock(self, key: str, ttl_seconds: float) -> FileLock | None:
        return await asyncio.to_thread(self._try_lock, key)

    async def unlock(self, lock: FileLock) -> None:
        await asyncio.to_thread(self._unlock, lock)

    async def get(self, key: str, kind: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key, kind)

    async def put(self, key: str, kind: str, value: bytes, ttl_seconds: float) -> None:
        await asyncio.to_thread(self._put, key, kind, value, ttl_seconds)

    async def ping(self) -> None:
        if not await asyncio.to_thread(os.access, self.directory, os.W_OK):
            raise BackendUnavailable(f"{self.directory} is not writable")

    def _try_lock(self, key: str) -> FileLock | None:
        path = self._path(key, "lock")
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # The sweeper may have unlinked the file between open and flock: then this lock
            # guards nothing, so start over on the file that is there now.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.utime(fd)
                return FileLock(key, fd)
            os.close(fd)

    def _unlock(self, lock: FileLock) -> None:
        # Unlink while still holding the flock, and only our own inode: a try_lock that opened
        # this file before the unlink sees the inode change and starts over on a new file.
        path = self._path(lock.key, "lock")
        try:
            if os.fstat(lock.fd).st_ino == os.stat(path).st_ino:
                path.unlink()
        except FileNotFoundError:
            pass
        finally:
            try:
                fcntl.flock(lock.fd, fcntl.LOCK_UN)
            finally:
                os.close(lock.fd)

    def _get(self, key: str, kind: str) -> bytes | None:
        try:
            raw = self._path(key, kind).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackendUnavailable(f"state dir unreadable: {exc.strerror}") from None
        if len(raw) < EXPIRY.size or EXPIRY.unpack_from(raw)[0] <= self._clock():
            return None
        return raw[EXPIRY.size :]

    def _put(self, key: str, kind: str, value: bytes, ttl_seconds: float) -> None:
        path = self._path(key, kind)
        try:
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(EXPIRY.pack(self._clock() + ttl_seconds) + value)
            os.replace(temp, path)  # readers see the old value or the new one, never half
        except OSError as exc:
            raise BackendUnavailable(f"state dir unwritable: {exc.strerror}") from None
        self._maybe_sweep()

    def _maybe_sweep(self) -> None:
        now = self._clock()
        if now - self._last_sweep < SWEEP_INTERVAL_SECONDS or not self._sweep_lock.acquire(blocking=False):
            return
        self._last_sweep = now
        # A thread, not the loop's executor: the sync middleware's loops come and go.
        threading.Thread(target=self._sweep_in_background, args=(now,), name="osapp-state-sweep", daemon=True).start()

    def _sweep_in_background(self, now: float) -> None:
        try:
            self.sweep(now)
        except OSError as exc:
            log.warning("state dir sweep failed: %s", exc.strerror or exc)
        finally:
            self._sweep_lock.release()

    def sweep(self, now: float) -> int:
        """Remove expired values, orphaned temp files and unheld old lock files."""
        removed = 0
        for path in self.directory.iterdir():
            stem, _, kind = path.name.partition(".")
            try:
                if kind in KINDS:
                    with path.open("rb") as handle:
                        head = handle.read(EXPIRY.size)
                    if len(head) < EXPIRY.size or EXPIRY.unpack(head)[0] <= now:
                        path.unlink()
                        removed += 1
                elif kind == "lock" or path.name.startswith(".tmp-"):
                    if now - path.stat().st_mtime > STALE_LOCK_SECONDS:
                        removed += self._unlink_unheld(path)
            except FileNotFoundError:
                continue
        return removed

    @staticmethod
    def _unlink_unheld(path: Path) -> int:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Unlinked while we hold the flock; try_lock's inode check covers the race.
            path.unlink()
            return 1
        except BlockingIOError:
            return 0
        finally:
            os.close(fd)
