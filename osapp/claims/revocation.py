"""Revocations pushed by the issuer, applied on every worker and host (DESIGN §12).

A revocation says: tokens of this session (`sid`) or this user (`sub`) issued before
`not_before` are no longer accepted. It is small, kept until `expires_at` (the longest a token
or refresh cookie of that session can live), written once to the coordination backend's log
and read by every worker into its own `RevocationSet`, which the verifier consults after every
verified-claims cache hit: a dictionary lookup, no I/O on the request path.

The logs: `FileRevocationLog` appends JSON lines to `<STATE_DIR>/revocations.log` and each
worker's reader thread picks up what was appended (it looks at most every `poll_seconds`);
`RedisRevocationLog` stores each record in a hash and publishes it, and each worker's reader
subscribes, reading the whole hash at start and after every reconnect.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from .metrics import ClaimsMetrics
from .principal import Principal
from .refresh.base import BackendUnavailable

log = logging.getLogger("osapp.claims.revocation")


class Scope(StrEnum):
    SESSION = "sid"  # one session (one sign-in at the issuer)
    USER = "sub"  # every session of a user
    CLAIMS = "claims"  # not a revocation: the user's claims changed, renew before serving
    TOKEN = "jti"  # one access token (signed out here: every tab holding it)


@dataclass(frozen=True)
class Revocation:
    scope: Scope
    value: str
    not_before: float  # tokens issued (`iat`) before this are refused
    expires_at: float  # the record is forgotten after this
    accepted_at: float | None = None  # when a receiver accepted the event (propagation lag)

    def to_json(self) -> str:
        return json.dumps(
            {"scope": self.scope.value, "value": self.value, "nbf": self.not_before, "exp": self.expires_at,
             "at": self.accepted_at},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Revocation | None:
        try:
            data = json.loads(raw)
            at = data.get("at")
            return cls(Scope(data["scope"]), str(data["value"]), float(data["nbf"]), float(data["exp"]),
                       float(at) if isinstance(at, (int, float)) else None)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


Listener = Callable[[Revocation], None]


class RevocationSet:
    """This process's live revocations; `revoked` is the per-request check."""

    def __init__(self, clock: Callable[[], float] = time.time, metrics: ClaimsMetrics | None = None) -> None:
        """`metrics`: where to count the live set and each record's propagation lag."""
        self._clock = clock
        self._metrics = metrics
        self._by_key: dict[tuple[str, str], Revocation] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.applied = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def revoked(
        self, subject: str | None, session_id: str | None, issued_at: float | None, token_id: str | None = None
    ) -> bool:
        """Whether a token (`jti` `token_id`) of `subject`/`session_id` issued at `issued_at`
        is revoked."""
        by_key = self._by_key
        if not by_key:  # the common case: nothing revoked
            return False
        for record in (
            by_key.get(("sid", session_id)) if session_id is not None else None,
            by_key.get(("sub", subject)) if subject is not None else None,
            by_key.get(("jti", token_id)) if token_id is not None else None,
        ):
            if (
                record is not None
                and (issued_at is None or issued_at < record.not_before)
                and record.expires_at > self._clock()
            ):
                return True
        return False

    def claims_stale(self, subject: str, issued_at: float | None) -> bool:
        """Whether the user's claims changed after this token was issued (token-claims-change):
        the request renews through the coordinator before it is served."""
        by_key = self._by_key
        if not by_key:
            return False
        record = by_key.get(("claims", subject))
        return (
            record is not None
            and (issued_at is None or issued_at < record.not_before)
            and record.expires_at > self._clock()
        )

    def principal_revoked(self, principal: Principal) -> bool:
        return self.revoked(principal.user_id, principal.session_id, principal.issued_at, principal.token_id)

    def apply(self, records: Iterable[Revocation]) -> int:
        """Add `records` (a later `not_before` wins); returns how many changed the set."""
        now = self._clock()
        changed: list[Revocation] = []
        with self._lock:
            for record in records:
                if record.expires_at <= now:
                    continue
                key = (record.scope.value, record.value)
                known = self._by_key.get(key)
                if known is None or known.not_before < record.not_before:
                    self._by_key[key] = record
                    changed.append(record)
            if len(self._by_key) > 1024 and changed:
                self._by_key = {k: v for k, v in self._by_key.items() if v.expires_at > now}
            self.applied += len(changed)
            listeners = list(self._listeners)
            live = len(self._by_key)
        if self._metrics is not None and changed:
            self._metrics.revocations_live.set(live)
            for record in changed:
                if record.accepted_at is not None:
                    self._metrics.revocation_lag.observe(max(0.0, now - record.accepted_at))
        for record in changed:
            for listener in listeners:
                try:
                    listener(record)
                except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                    log.exception("revocation listener failed")
        return len(changed)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for each new revocation (from the reader's thread); returns the
        function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe


class LocalRevocationLog:
    """One process (the `local` backend): publishing applies at once, there is no reader."""

    name = "local"

    def __init__(self) -> None:
        self._sets: weakref.WeakSet[RevocationSet] = weakref.WeakSet()

    def publish(self, record: Revocation) -> None:
        for into in list(self._sets):
            into.apply([record])

    def start(self, into: RevocationSet) -> None:
        self._sets.add(into)

    def records(self) -> list[Revocation]:
        return []  # only the process that received them holds them


class RevocationLog(Protocol):
    """Where revocations are written once and read by every worker."""

    name: str

    def publish(self, record: Revocation) -> None:
        """Write `record` so every reader applies it; raises BackendUnavailable."""
        ...

    def start(self, into: RevocationSet) -> None:
        """Start this process's reader (a daemon thread), applying records to `into`."""
        ...

    def records(self) -> list[Revocation]:
        """Every record in the log (for `manage.py authstatus`); raises BackendUnavailable."""
        ...


class FileRevocationLog:
    """An append-only log under STATE_DIR; each worker reads what was appended since."""

    name = "file"

    def __init__(self, path: Path, *, poll_seconds: float = 0.1) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self._started = False

    def publish(self, record: Revocation) -> None:
        line = (record.to_json() + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_APPEND: each write lands whole at the end, whoever else is appending.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            raise BackendUnavailable(f"revocation log unwritable: {exc.strerror}") from None

    def start(self, into: RevocationSet) -> None:
        if self._started:
            return
        self._started = True
        # What the log holds already is applied before the first request is verified (the
        # runtime is built by that request); the thread follows from there.
        try:
            records, offset = self.read_from(0)
        except OSError as exc:
            log.warning("revocation log unreadable: %s", exc.strerror)
            records, offset = [], 0
        into.apply(records)
        # A weak reference: the thread ends with the set it feeds (a runtime replaced in a test).
        threading.Thread(
            target=self._follow, args=(weakref.ref(into), offset), name="osapp-revocations", daemon=True
        ).start()

    def records(self) -> list[Revocation]:
        try:
            return self.read_from(0)[0]
        except OSError as exc:
            raise BackendUnavailable(f"revocation log unreadable: {exc.strerror}") from None

    def read_from(self, offset: int) -> tuple[list[Revocation], int]:
        """Complete lines appended after `offset`, and the offset after them."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            return [], 0
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next look
        records = [r for r in (Revocation.from_json(line) for line in chunk[:end].splitlines()) if r]
        return records, offset + end

    def _follow(self, target: weakref.ref[RevocationSet], offset: int) -> None:
        seen_size = offset
        while (live := target()) is not None:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            except OSError as exc:
                log.warning("revocation log unreadable: %s", exc.strerror)
                size = seen_size
            if size != seen_size:
                if size < offset:  # replaced by a shorter file: read it from the start
                    offset = 0
                records, offset = self.read_from(offset)
                live.apply(records)
                seen_size = size
            del live
            time.sleep(self.poll_seconds)


class RedisRevocationLog:
    """A hash of records plus a pub/sub channel: every worker subscribes and catches up."""

    name = "redis"

    def __init__(self, url: str, prefix: str, *, socket_timeout: float = 2.0) -> None:
        self.url = url
        self.key = f"{prefix}revocations"
        self.channel = f"{prefix}revocations:new"
        self._socket_timeout = socket_timeout
        self._started = False

    def _client(self) -> Any:
        import redis

        return redis.Redis.from_url(
            self.url, socket_timeout=self._socket_timeout, socket_connect_timeout=self._socket_timeout
        )

    def publish(self, record: Revocation) -> None:
        import redis

        raw = record.to_json()
        try:
            client = self._client()
            pipe = client.pipeline()
            pipe.hset(self.key, f"{record.scope.value}:{record.value}", raw)
            pipe.publish(self.channel, raw)
            pipe.execute()
            client.close()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None

    def start(self, into: RevocationSet) -> None:
        if self._started:
            return
        self._started = True
        # Applied before the first request is verified; the thread catches up again once
        # subscribed, so nothing published in between is lost.
        try:
            self.catch_up(into)
        except BackendUnavailable as exc:
            log.warning("revocation catch-up failed: %s; the reader retries", exc)
        # A weak reference: the thread ends with the set it feeds (a runtime replaced in a test).
        threading.Thread(
            target=self._follow, args=(weakref.ref(into),), name="osapp-revocations", daemon=True
        ).start()

    def records(self) -> list[Revocation]:
        import redis

        try:
            raw = self._client().hgetall(self.key)
        except redis.RedisError as exc:
            raise BackendUnavailable(f"redis: {type(exc).__name__}") from None
        return [r for r in (Revocation.from_json(v) for v in raw.values()) if r]

    def catch_up(self, into: RevocationSet) -> None:
        """Apply every record the hash holds; raises BackendUnavailable."""
        into.apply(self.records())

    def _follow(self, target: weakref.ref[RevocationSet]) -> None:
        import redis

        backoff = 0.1
        while target() is not None:
            pubsub = None
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=self._socket_timeout)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                live = target()
                if live is None:
                    return
                self.catch_up(live)  # after subscribing: nothing published meanwhile is lost
                del live
                backoff = 0.1
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    live = target()
                    if live is None:
                        return
                    if message is not None and message.get("type") == "message":
                        record = Revocation.from_json(message["data"])
                        if record is not None:
                            live.apply([record])
                    del live
            except redis.RedisError as exc:
                log.warning("revocation feed interrupted: %s; reconnecting", type(exc).__name__)
            except BackendUnavailable as exc:  # the catch-up read
                log.warning("revocation feed interrupted: %s; reconnecting", exc)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except redis.RedisError:
                        pass
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
