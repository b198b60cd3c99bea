"""The RefreshCoordinator: a refresh token is presented to the issuer at most once.

For one refresh token (key = its SHA-256), across every thread, worker and host sharing the
backend, one caller — the winner — presents it; every other caller waits (async polling, never
blocking the event loop) and receives the winner's result. Results are sealed with the old
token and chained, so a request still carrying an older refresh token inside the grace window
follows the chain to the newest token set instead of presenting a rotated token (DESIGN §6).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import IssuerRejected, IssuerUnavailable
from ..metrics import REFRESH_OUTCOMES
from ..oidc import TokenSet
from .base import BACKOFF, RESULT, TOMBSTONE, BackendUnavailable, CoordinationBackend
from .sealed import seal, store_key, unseal

log = logging.getLogger("osapp.claims.refresh")

MAX_CHAIN_HOPS = 32


@dataclass(frozen=True)
class Refreshed:
    """New tokens: the chain's head. `role` is winner, waiter or chained."""

    tokens: TokenSet
    role: str


@dataclass(frozen=True)
class RefreshUnavailable:
    """Transient: issuer down, backing off, lock wait timed out, backend unreachable.

    `kind` is the metric label: transient, backoff, lock_timeout or backend_unavailable.
    """

    reason: str
    kind: str = "transient"


@dataclass(frozen=True)
class RefreshRejected:
    """The issuer refused the grant (`invalid_grant`): the session is over."""

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


def _tokens_payload(tokens: TokenSet) -> dict:
    return {
        "status": "ok",
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
    ) -> None:
        """`present` calls the issuer's token endpoint (blocking; run in a thread)."""
        self.backend = backend
        self._present = present
        self._revoke = revoke
        self.settings = settings or CoordinatorSettings()

    # -- reading what is known ----------------------------------------------------------

    async def _known(self, refresh_token: str) -> RefreshOutcome | None:
        """Follow the chain from `refresh_token`: the outcome already decided, or None."""
        current, head = refresh_token, None
        for _ in range(MAX_CHAIN_HOPS):
            key = store_key(current)
            if await self.backend.get(key, TOMBSTONE) is not None:
                return SignedOut()
            blob = await self.backend.get(key, RESULT)
            payload = unseal(current, blob) if blob is not None else None
            if payload is None:
                break
            if payload.get("status") == "rejected":
                return RefreshRejected(str(payload.get("error", "invalid_grant")))
            head = TokenSet(
                access_token=payload["access_token"],
                refresh_token=payload["refresh_token"],
                id_token=payload.get("id_token"),
                expires_in=payload.get("expires_in"),
            )
            if head.refresh_token == current:  # the issuer kept the token: end of chain
                break
            current = head.refresh_token
        if head is None:
            if await self.backend.get(store_key(refresh_token), BACKOFF) is not None:
                return RefreshUnavailable("backing off after a transient failure", "backoff")
            return None
        return Refreshed(head, "chained")

    # -- refreshing ---------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> RefreshOutcome:
        """The newest token set for this session, presenting the token at most once."""
        try:
            outcome = await self._refresh(refresh_token)
        except BackendUnavailable as exc:
            log.warning("refresh outcome=backend_unavailable reason=%s", exc)
            outcome = RefreshUnavailable(f"coordination backend unavailable: {exc}", "backend_unavailable")
            REFRESH_OUTCOMES.labels(outcome.kind).inc()
        return outcome

    async def _refresh(self, refresh_token: str) -> RefreshOutcome:
        key = store_key(refresh_token)
        started = time.monotonic()
        waited = False
        while True:
            known = await self._known(refresh_token)
            if known is not None:
                return self._record(_as_waiter(known) if waited else known, key)
            lock = await self.backend.try_lock(key, self.settings.lock_wait_seconds + 5)
            if lock is not None:
                try:
                    # Double-check under the lock: the previous holder may have just finished.
                    known = await self._known(refresh_token)
                    if known is not None:
                        return self._record(_as_waiter(known) if waited else known, key)
                    return self._record(await self._win(refresh_token, key, started), key)
                finally:
                    await self.backend.unlock(lock)
            if time.monotonic() - started >= self.settings.lock_wait_seconds:
                # DESIGN §6: a waiter that times out never presents the token itself.
                return self._record(RefreshUnavailable("lock wait timed out", "lock_timeout"), key)
            if not waited:
                REFRESH_OUTCOMES.labels("contention").inc()
            waited = True
            await asyncio.sleep(self.settings.poll_interval_seconds)

    async def _win(self, refresh_token: str, key: str, started: float) -> RefreshOutcome:
        """Present the token (retrying transient failures), store and return the outcome."""
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                tokens = await asyncio.to_thread(self._present, refresh_token)
                break
            except IssuerRejected as exc:
                # RFC 6749 §5.2: an error answer is final for this token; never retried.
                await self.backend.put(
                    key, RESULT, seal(refresh_token, {"status": "rejected", "error": exc.error}),
                    settings.grace_seconds,
                )
                if await self.backend.get(key, TOMBSTONE) is not None:
                    return SignedOut()  # the logout's revocation is why it was refused
                return RefreshRejected(exc.error)
            except IssuerUnavailable as exc:
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
        await self.backend.put(key, RESULT, seal(refresh_token, _tokens_payload(tokens)), settings.grace_seconds)
        # Logout wins: checked after storing, so either this sees the tombstone or the
        # logout's chain walk sees the stored result and revokes the new token itself.
        if await self.backend.get(key, TOMBSTONE) is not None:
            await asyncio.to_thread(self._revoke_quietly, tokens.refresh_token)
            return SignedOut()
        return Refreshed(tokens, "winner")

    def _record(self, outcome: RefreshOutcome, key: str) -> RefreshOutcome:
        label = _label(outcome)
        REFRESH_OUTCOMES.labels(label).inc()
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
        return Refreshed(outcome.tokens, "waiter")
    return outcome


def _label(outcome: RefreshOutcome) -> str:
    if isinstance(outcome, Refreshed):
        return outcome.role
    if isinstance(outcome, RefreshRejected):
        return "invalid_grant" if outcome.error == "invalid_grant" else "rejected"
    if isinstance(outcome, SignedOut):
        return "signed_out"
    return outcome.kind
