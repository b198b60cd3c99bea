"""The one verifier every adapter uses (HTTP middleware, API auth, WebSocket middleware).

It holds the KeySet and the verified-claims cache and turns a token into an `Authentication`:
a Principal, or the reason there is none. It never refreshes; only the HTTP middleware may do
that (DESIGN §5). The runtime (runtime.py) builds one per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from asgiref.sync import sync_to_async

from .cache import VerifiedClaimsCache
from .config import ClaimsConfig
from .errors import KeyFetchRequired, KeysUnavailable, TokenExpired, TokenInvalid
from .keys import JwksFetcher, KeySet, load_keyset
from .metrics import ClaimsMetrics, metrics_for
from .principal import Principal
from .revocation import RevocationSet
from .tokens import (
    VerifyPolicy,
    principal_from_verified,
    verify_access_claims,
    verify_access_token,
    verify_id_token,
)

log = logging.getLogger("osapp.claims")


class AuthState(StrEnum):
    """What verifying one access token found."""

    VALID = "valid"
    EXPIRED = "expired"  # signature, iss and aud hold: may refresh
    INVALID = "invalid"
    ABSENT = "absent"
    REVOKED = "revoked"  # verified, but its session was revoked at the issuer (DESIGN §12)
    NEEDS_KEY_FETCH = "needs_key_fetch"  # only when fetching was not allowed


# Bound once: an Enum member lookup costs ~60 ns on Python 3.11, and these are on every request.
VALID, EXPIRED, REVOKED = AuthState.VALID, AuthState.EXPIRED, AuthState.REVOKED
REFRESHABLE = frozenset((VALID, EXPIRED))


@dataclass(frozen=True)
class Authentication:
    """The outcome of verifying one access token."""

    principal: Principal | None
    state: AuthState
    reason: str = ""
    subject: str | None = None
    # The verified `exp` (also of an expired token: DESIGN §6 bounds how old may refresh).
    expires_at: int | None = None

    @property
    def may_refresh(self) -> bool:
        return self.state in REFRESHABLE


ABSENT = Authentication(None, AuthState.ABSENT)


class Verifier:
    def __init__(
        self,
        config: ClaimsConfig,
        *,
        keys: KeySet | None = None,
        fetch_jwks: JwksFetcher | None = None,
        clock: Callable[[], float] = time.time,
        metrics: ClaimsMetrics | None = None,
        revocations: RevocationSet | None = None,
    ) -> None:
        """`fetch_jwks` fetches the issuer's JWKS (a rotated key); None: never fetch.
        `revocations`: the live set consulted after every verification (cache hit or not)."""
        self.config = config
        self.revocations = revocations if revocations is not None else RevocationSet(clock)
        self._fetch_jwks = fetch_jwks
        self.clock = clock
        self.metrics = metrics or metrics_for(config.metric_prefix)
        self.policy = VerifyPolicy(
            issuer=config.issuer,
            audience=config.audience,
            client_id=config.client_id,
            leeway_seconds=config.clock_leeway_seconds,
            max_token_bytes=config.max_token_bytes,
            orgs_claim=config.orgs_claim,
            projects_claim=config.projects_claim,
        )
        self.cache = VerifiedClaimsCache(config.verified_cache_size, config.verified_cache_bytes)
        self._keys = keys
        self._keys_lock = threading.Lock()

    @property
    def keys(self) -> KeySet:
        """The KeySet, loaded on first use from the baked JWKS (no network)."""
        if self._keys is None:
            with self._keys_lock:
                if self._keys is None:
                    self._keys = load_keyset(
                        self.config.jwks_inline,
                        self.config.jwks_file,
                        fetch_jwks=self._fetch_jwks,
                        refetch_interval_seconds=self.config.jwks_refetch_interval_seconds,
                        # Waiting for another caller's fetch never outlasts the fetch itself.
                        fetch_wait_seconds=self.config.issuer_timeout_seconds + 1,
                        inline_name=self.config.name_of("JWKS"),
                        clock=self.clock,
                    )
                    log.info("keys loaded source=%s kids=%s", self._keys.source, ",".join(self._keys.kids))
        return self._keys

    def authenticate(
        self, access_token: str | None, id_token: str | None = None, *, allow_fetch: bool = True
    ) -> Authentication:
        """Verify an access token (cache first). Logs one line with the reason on rejection.

        With `allow_fetch=False` (async callers) a token whose kid needs a JWKS fetch yields
        state "needs_key_fetch": call again with fetching allowed, off the event loop.
        """
        if not access_token:
            return ABSENT
        now = self.clock()
        metrics = self.metrics
        cached = self.cache.get(access_token, now)
        if cached is not None:
            metrics.verified_cache_hit.inc()
            if self.revocations.principal_revoked(cached):
                return self._revoked(cached.user_id, cached.expires_at)
            return Authentication(cached, VALID, subject=cached.user_id, expires_at=cached.expires_at)
        metrics.verified_cache_miss.inc()
        try:
            claims = verify_access_claims(
                access_token, self.keys, self.policy, now=now, allow_fetch=allow_fetch
            )
            display = None
            if not (claims.get("name") and claims.get("email")):
                display = self._display_claims(id_token, claims["sub"], now)
            principal = principal_from_verified(claims, self.policy, display=display)
        except KeyFetchRequired:
            return Authentication(None, AuthState.NEEDS_KEY_FETCH)
        except TokenExpired as exc:
            metrics.token_verifications.labels("expired").inc()
            exp = exc.claims.get("exp")
            iat, sid, jti = exc.claims.get("iat"), exc.claims.get("sid"), exc.claims.get("jti")
            if self.revocations.revoked(
                exc.claims.get("sub"),
                sid if isinstance(sid, str) else None,
                iat if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None,
                jti if isinstance(jti, str) else None,
            ):
                # Never renewed: a revoked session's refresh token is never presented.
                return self._revoked(exc.claims.get("sub"), int(exp) if isinstance(exp, (int, float)) else None)
            return Authentication(
                None,
                AuthState.EXPIRED,
                exc.reason,
                subject=exc.claims.get("sub"),
                expires_at=int(exp) if isinstance(exp, (int, float)) else None,
            )
        except TokenInvalid as exc:
            metrics.token_verifications.labels("invalid").inc()
            log.warning("access token rejected reason=%r", exc.reason)
            return Authentication(None, AuthState.INVALID, exc.reason)
        except KeysUnavailable as exc:
            metrics.token_verifications.labels("invalid").inc()
            log.error("access token not verifiable reason=%r", f"keys unavailable: {exc}")
            return Authentication(None, AuthState.INVALID, "keys unavailable")
        metrics.token_verifications.labels("valid").inc()
        self.cache.put(access_token, principal)
        if self.revocations.principal_revoked(principal):
            return self._revoked(principal.user_id, principal.expires_at)
        return Authentication(principal, VALID, subject=principal.user_id, expires_at=principal.expires_at)

    def _revoked(self, subject: str | None, expires_at: int | None) -> Authentication:
        log.warning("access token rejected reason='session revoked' sub=%s", subject)
        return Authentication(None, REVOKED, "session revoked", subject=subject, expires_at=expires_at)

    async def aauthenticate(self, access_token: str | None, id_token: str | None = None) -> Authentication:
        """`authenticate` for async callers: never blocks the event loop.

        Only a token naming an unknown kid needs the (guarded, blocking) JWKS fetch; that one
        verification runs in a worker thread.
        """
        auth = self.authenticate(access_token, id_token, allow_fetch=False)
        if auth.state is AuthState.NEEDS_KEY_FETCH:
            auth = await sync_to_async(self.authenticate, thread_sensitive=False)(access_token, id_token)
        return auth

    def _display_claims(self, id_token: str | None, subject: str, now: float) -> dict | None:
        """Name and email from the ID token when the access token lacks them (DESIGN §3)."""
        if not id_token:
            return None
        try:
            # Display only: never worth a JWKS fetch (which could block an event loop).
            display = verify_id_token(
                id_token, self.keys, self.policy, now=now, allow_expired=True, allow_fetch=False
            )
        except TokenInvalid:
            return None
        return display if display.get("sub") == subject else None

    def verify_id_token(self, id_token: str, *, nonce: str | None = None, allow_expired: bool = False) -> dict:
        return verify_id_token(
            id_token, self.keys, self.policy, now=self.clock(), nonce=nonce, allow_expired=allow_expired
        )

    def verify_access_token(self, access_token: str) -> Principal:
        return verify_access_token(access_token, self.keys, self.policy, now=self.clock())


def log_expired_rejection(auth: Authentication) -> None:
    """Log an expired token that will not be renewed: one line, like every other rejection.

    `authenticate` cannot: on the HTTP path an expired token may still renew (DESIGN §5). The
    adapters that never renew (bearer, WebSocket) and the HTTP path without a refresh token do.
    """
    if auth.state is AuthState.EXPIRED:
        log.warning("access token rejected reason=%r sub=%s", auth.reason, auth.subject)
