"""The RefreshCoordinator: a refresh token is presented to the issuer at most once.

For one refresh token (key = its SHA-256), across every thread, worker and host sharing the
backend, one caller — the winner — presents it; every other caller waits (async polling, never
blocking the event loop) and receives the winner's result. Results are sealed with the old
token and chained, so a request still carrying an older refresh token inside the grace window
follows the chain to the newest token set instead of presenting a rotated token (DESIGN §6).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from ..errors import (
    GrantRejected,
    IssuerMisconfigured,
    IssuerNotReached,
    IssuerOutcomeUnknown,
)
from ..metrics import ClaimsMetrics, metrics_for
from ..oidc import TokenSet
from .base import (
    BACKOFF,
    FAULT,
    RATE,
    RESULT,
    TOMBSTONE,
    BackendUnavailable,
    CoordinationBackend,
)
from .sealed import seal, store_key, unseal

log = logging.getLogger("osapp.claims.refresh")

MAX_CHAIN_HOPS = 32


class Role(StrEnum):
    """How a caller got new tokens (a metric label)."""

    WINNER = "winner"  # presented the refresh token itself
    WAITER = "waiter"  # waited for the winner's result
    CHAINED = "chained"  # followed the rotation chain from an older token


class UnavailableKind(StrEnum):
    """Why no new tokens came while the session is kept (a metric label)."""

    TRANSIENT = "transient"
    BACKOFF = "backoff"
    LOCK_TIMEOUT = "lock_timeout"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    RATE_LIMITED = "rate_limited"
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class Refreshed:
    """New tokens: the chain's head."""

    tokens: TokenSet
    role: Role


@dataclass(frozen=True)
class RefreshUnavailable:
    """The session is kept, no new tokens: issuer down, backing off, lock wait timed out,
    backend unreachable, rate limited, or a settings fault (`misconfigured`, DESIGN §6).

    `kind` is the metric label.
    """

    reason: str
    kind: UnavailableKind = UnavailableKind.TRANSIENT


@dataclass(frozen=True)
class RefreshRejected:
    """The session is over: the issuer refused the grant (`invalid_grant`), or the chain
    belongs to another subject (`subject_mismatch`)."""

    error: str


@dataclass(frozen=True)
class SignedOut:
    """A logout tombstoned this session: never refresh it, never set its cookies."""


RefreshOutcome = Refreshed | RefreshUnavailable | RefreshRejected | SignedOut


@dataclass(frozen=True)
class CoordinatorSettings:
    grace_seconds: float = 120.0
    lock_wait_seconds: float = 15.0
    backoff_seconds: float = 10.0
    issuer_timeout_seconds: float = 10.0
    max_attempts: int = 3
    retry_base_seconds: float = 0.25
    poll_interval_seconds: float = 0.02
    # DESIGN §6: refresh attempts per subject, across every worker and host of the backend.
    rate_limit_attempts: int = 10
    rate_limit_window_seconds: float = 60.0
    # Names the settings a settings fault was seen with: a fault recorded by a process with
    # other settings (before the operator fixed them) neither blocks nor fails this one.
    config_fingerprint: str = ""


@dataclass(frozen=True)
class IssuerFault:
    """A settings fault some worker saw at the token endpoint (for /readyz)."""

    reason: str
    setting: str
    seen_at: float


FAULT_KEY = hashlib.sha256(b"osapp.claims issuer fault").hexdigest()


def subject_key(subject: str) -> str:
    return hashlib.sha256(b"sub\0" + subject.encode("utf-8", "surrogatepass")).hexdigest()


def _tokens_payload(tokens: TokenSet, subject: str) -> dict:
    return {
        "status": "ok",
        "sub": subject,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "id_token": tokens.id_token,
        "expires_in": tokens.expires_in,
    }


class RefreshCoordinator:
    def __init__(
        self,
        backend: CoordinationBackend,
        present: Callable[[str], TokenSet],
        settings: CoordinatorSettings | None = None,
        *,
        revoke: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.time,
        metrics: ClaimsMetrics | None = None,
    ) -> None:
        """`present` calls the issuer's token endpoint (blocking; run in a thread). `clock` is
        the wall clock of recorded faults and rate windows; waits use the monotonic clock."""
        self.backend = backend
        self._present = present
        self._revoke = revoke
        self._clock = clock
        self._outcomes = (metrics or metrics_for("osapp")).refresh_outcomes
        self.settings = settings or CoordinatorSettings()

    # -- reading what is known ----------------------------------------------------------

    async def _known(self, refresh_token: str, subject: str) -> RefreshOutcome | None:
        """Follow the chain from `refresh_token`: the outcome already decided, or None.

        DESIGN §6: the chain is followed only for the subject it was stored for."""
        current, head = refresh_token, None
        for _ in range(MAX_CHAIN_HOPS):
            key = store_key(current)
            if await self.backend.get(key, TOMBSTONE) is not None:
                return SignedOut()
            blob = await self.backend.get(key, RESULT)
            payload = unseal(current, blob) if blob is not None else None
            if payload is None:
                break
            if payload.get("sub") != subject:
                log.warning("refresh chain refused reason='stored for another subject'")
                return RefreshRejected("subject_mismatch")
            if payload.get("status") == "rejected":
                return RefreshRejected(str(payload.get("error", "invalid_grant")))
            head = TokenSet(
                access_token=payload["access_token"],
                refresh_token=payload["refresh_token"],
                id_token=payload.get("id_token"),
                expires_in=payload.get("expires_in"),
            )
            if head.refresh_token is None or head.refresh_token == current:
                break  # the issuer kept the token: end of chain
            current = head.refresh_token
        if head is None:
            backoff = await self.backend.get(store_key(refresh_token), BACKOFF)
            if backoff is not None and self._backoff_applies(backoff):
                return RefreshUnavailable("backing off after a failure", UnavailableKind.BACKOFF)
            return None
        return Refreshed(head, Role.CHAINED)

    # -- refreshing ---------------------------------------------------------------------------

    def _backoff_applies(self, value: bytes) -> bool:
        # A backoff left by a settings fault binds only processes with those same settings.
        if value.startswith(b"cfg:"):
            return value[4:].decode("ascii", "replace") == self.settings.config_fingerprint
        return True

    async def refresh(self, refresh_token: str, subject: str) -> RefreshOutcome:
        """The newest token set for `subject`'s session, presenting the token at most once."""
        try:
            outcome = await self._refresh(refresh_token, subject)
        except BackendUnavailable as exc:
            log.warning("refresh outcome=backend_unavailable reason=%s", exc)
            outcome = RefreshUnavailable(f"coordination backend unavailable: {exc}", UnavailableKind.BACKEND_UNAVAILABLE)
            self._outcomes.labels(outcome.kind).inc()
        return outcome

    async def _refresh(self, refresh_token: str, subject: str) -> RefreshOutcome:
        key = store_key(refresh_token)
        started = time.monotonic()
        waited = False
        while True:
            known = await self._known(refresh_token, subject)
            if known is not None:
                return self._record(_as_waiter(known) if waited else known, key)
            lock = await self.backend.try_lock(key, self.settings.lock_wait_seconds + 5)
            if lock is not None:
                try:
                    # Double-check under the lock: the previous holder may have just finished.
                    known = await self._known(refresh_token, subject)
                    if known is not None:
                        return self._record(_as_waiter(known) if waited else known, key)
                    if not await self._within_rate_limit(subject):
                        return self._record(
                            RefreshUnavailable("too many refresh attempts for this subject", UnavailableKind.RATE_LIMITED),
                            key,
                        )
                    return self._record(await self._win(refresh_token, subject, key, started), key)
                finally:
                    await self.backend.unlock(lock)
            if time.monotonic() - started >= self.settings.lock_wait_seconds:
                # DESIGN §6: a waiter that times out never presents the token itself.
                return self._record(RefreshUnavailable("lock wait timed out", UnavailableKind.LOCK_TIMEOUT), key)
            if not waited:
                self._outcomes.labels("contention").inc()
            waited = True
            await asyncio.sleep(self.settings.poll_interval_seconds)

    async def _within_rate_limit(self, subject: str) -> bool:
        """Count one attempt for `subject`; False past the limit (fixed window, DESIGN §6).

        Read-then-write, not atomic: racing workers may each count the same slot, so the
        bound can be exceeded by the number of concurrent distinct refresh tokens of one
        subject — never by one token, which holds the single-flight lock here."""
        settings = self.settings
        key = subject_key(subject)
        now = self._clock()
        count, window_start = 0, now
        raw = await self.backend.get(key, RATE)
        if raw:
            try:
                stored_count, stored_start = json.loads(raw)
                if now - float(stored_start) < settings.rate_limit_window_seconds:
                    count, window_start = int(stored_count), float(stored_start)
            except (ValueError, TypeError):
                pass
        if count >= settings.rate_limit_attempts:
            log.warning("refresh refused reason='rate limited' attempts=%d", count)
            return False
        ttl = max(0.001, settings.rate_limit_window_seconds - (now - window_start))
        await self.backend.put(key, RATE, json.dumps([count + 1, window_start]).encode(), ttl)
        return True

    async def _win(self, refresh_token: str, subject: str, key: str, started: float) -> RefreshOutcome:
        """Present the token (retrying what cannot have consumed it), store the outcome."""
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                tokens = await asyncio.to_thread(self._present, refresh_token)
                break
            except GrantRejected as exc:
                # RFC 6749 §5.2: invalid_grant is final for this token; never retried.
                await self.backend.put(
                    key,
                    RESULT,
                    seal(refresh_token, {"status": "rejected", "error": exc.error, "sub": subject}),
                    settings.grace_seconds,
                )
                if await self.backend.get(key, TOMBSTONE) is not None:
                    return SignedOut()  # the logout's revocation is why it was refused
                return RefreshRejected(exc.error)
            except IssuerMisconfigured as exc:
                # DESIGN §6: osapp's settings, not this session: keep it, say what to fix.
                log.error("refresh failed: settings fault, check %s reason=%s", exc.setting, exc)
                await self._record_fault(IssuerFault(str(exc), exc.setting, self._clock()))
                marker = b"cfg:" + settings.config_fingerprint.encode("ascii", "replace")
                await self.backend.put(key, BACKOFF, marker, settings.backoff_seconds)
                return RefreshUnavailable(f"settings fault, check {exc.setting}", UnavailableKind.MISCONFIGURED)
            except IssuerOutcomeUnknown as exc:
                # The token may have been consumed: no tight retry, the normal backoff.
                await self.backend.put(key, BACKOFF, b"1", settings.backoff_seconds)
                return RefreshUnavailable(str(exc))
            except IssuerNotReached as exc:
                delay = settings.retry_base_seconds * 2 ** (attempt - 1) * (0.5 + random.random())
                elapsed = time.monotonic() - started
                budget_left = settings.lock_wait_seconds - elapsed - delay
                if attempt >= settings.max_attempts or budget_left < settings.issuer_timeout_seconds:
                    await self.backend.put(key, BACKOFF, b"1", settings.backoff_seconds)
                    return RefreshUnavailable(str(exc))
                log.info("refresh retry attempt=%d reason=%s", attempt + 1, exc)
                await asyncio.sleep(delay)
        if tokens.refresh_token is None:
            # DESIGN §6: a response without refresh_token keeps the one we have (no downgrade).
            tokens = replace(tokens, refresh_token=refresh_token)
        await self.backend.put(
            key, RESULT, seal(refresh_token, _tokens_payload(tokens, subject)), settings.grace_seconds
        )
        await self._clear_fault()
        # Logout wins: checked after storing, so either this sees the tombstone or the
        # logout's chain walk sees the stored result and revokes the new token itself.
        if await self.backend.get(key, TOMBSTONE) is not None:
            await asyncio.to_thread(self._revoke_quietly, tokens.refresh_token)
            return SignedOut()
        return Refreshed(tokens, Role.WINNER)

    # -- settings faults (DESIGN §6: /readyz reports them; a fixed setting clears them) -------

    async def _record_fault(self, fault: IssuerFault) -> None:
        value = {"reason": fault.reason, "setting": fault.setting, "seen_at": fault.seen_at,
                 "config": self.settings.config_fingerprint}
        await self.backend.put(FAULT_KEY, FAULT, json.dumps(value).encode(), 3600)

    async def _clear_fault(self) -> None:
        if await self.backend.get(FAULT_KEY, FAULT):
            await self.backend.put(FAULT_KEY, FAULT, b"", 1)

    async def issuer_fault(self) -> IssuerFault | None:
        """The settings fault seen with this process's settings, or None."""
        raw = await self.backend.get(FAULT_KEY, FAULT)
        if not raw:
            return None
        try:
            value = json.loads(raw)
            if value.get("config") != self.settings.config_fingerprint:
                return None  # seen with other settings: the operator has changed them since
            return IssuerFault(str(value["reason"]), str(value["setting"]), float(value["seen_at"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _record(self, outcome: RefreshOutcome, key: str) -> RefreshOutcome:
        label = _label(outcome)
        self._outcomes.labels(label).inc()
        detail = getattr(outcome, "reason", "") or getattr(outcome, "error", "")
        log.info("refresh outcome=%s key=%s %s", label, key[:12], detail)
        return outcome

    # -- signing out -----------------------------------------------------------------------

    async def end_session(self, refresh_token: str) -> str:
        """Tombstone every token of the chain; return the newest refresh token to revoke."""
        current = refresh_token
        await self.backend.put(store_key(current), TOMBSTONE, b"1", self.settings.grace_seconds * 2)
        for _ in range(MAX_CHAIN_HOPS):
            blob = await self.backend.get(store_key(current), RESULT)
            payload = unseal(current, blob) if blob is not None else None
            if not payload or payload.get("status") != "ok" or payload["refresh_token"] == current:
                break
            current = payload["refresh_token"]
            await self.backend.put(store_key(current), TOMBSTONE, b"1", self.settings.grace_seconds * 2)
        return current

    async def is_signed_out(self, refresh_token: str) -> bool:
        return await self.backend.get(store_key(refresh_token), TOMBSTONE) is not None

    def _revoke_quietly(self, refresh_token: str | None) -> None:
        if refresh_token and self._revoke is not None:
            try:
                self._revoke(refresh_token)
            except Exception as exc:  # noqa: BLE001 - best effort; the token expires anyway
                log.warning("revoking a refresh that lost to a logout failed: %s", type(exc).__name__)


def _as_waiter(outcome: RefreshOutcome) -> RefreshOutcome:
    if isinstance(outcome, Refreshed):
        return Refreshed(outcome.tokens, Role.WAITER)
    return outcome


def _label(outcome: RefreshOutcome) -> str:
    if isinstance(outcome, Refreshed):
        return outcome.role
    if isinstance(outcome, RefreshRejected):
        return "invalid_grant" if outcome.error == "invalid_grant" else "rejected"
    if isinstance(outcome, SignedOut):
        return "signed_out"
    return outcome.kind
