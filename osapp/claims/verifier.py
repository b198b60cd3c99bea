"""The one verifier every adapter uses (HTTP middleware, API auth, WebSocket middleware).

It owns the process-wide pieces — config, KeySet, verified-claims cache, issuer client — and
turns a token into an `Authentication`: a Principal, or the reason there is none. It never
refreshes; only the HTTP middleware may do that (DESIGN §5).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from .cache import VerifiedClaimsCache
from .config import ClaimsConfig, get_config
from .errors import KeyFetchRequired, KeysUnavailable, TokenExpired, TokenInvalid
from .keys import KeySet, load_keyset
from .metrics import TOKEN_VERIFICATIONS, VERIFIED_CACHE_HIT, VERIFIED_CACHE_MISS
from .oidc import IssuerClient
from .principal import Principal
from .singleton import process_singleton
from .tokens import (
    VerifyPolicy,
    principal_from_verified,
    verify_access_claims,
    verify_access_token,
    verify_id_token,
)

log = logging.getLogger("osapp.claims")


@dataclass(frozen=True)
class Authentication:
    """The outcome of verifying one access token."""

    principal: Principal | None
    # "valid", "expired" (signature/iss/aud hold: may refresh), "invalid", "absent",
    # "needs_key_fetch" (only when fetching was not allowed)
    state: str
    reason: str = ""
    subject: str | None = None
    # The verified `exp` (also of an expired token: DESIGN §6 bounds how old may refresh).
    expires_at: int | None = None

    @property
    def may_refresh(self) -> bool:
        return self.state in ("valid", "expired")


ABSENT = Authentication(None, "absent")


class Verifier:
    def __init__(
        self,
        config: ClaimsConfig,
        *,
        keys: KeySet | None = None,
        issuer: IssuerClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.issuer = issuer or IssuerClient(config)
        self.clock = clock
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
                        fetch_jwks=self.issuer.fetch_jwks,
                        refetch_interval_seconds=self.config.jwks_refetch_interval_seconds,
                        # Waiting for another caller's fetch never outlasts the fetch itself.
                        fetch_wait_seconds=self.config.issuer_timeout_seconds + 1,
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
        cached = self.cache.get(access_token, now)
        if cached is not None:
            VERIFIED_CACHE_HIT.inc()
            return Authentication(cached, "valid", subject=cached.user_id, expires_at=cached.expires_at)
        VERIFIED_CACHE_MISS.inc()
        try:
            claims = verify_access_claims(
                access_token, self.keys, self.policy, now=now, allow_fetch=allow_fetch
            )
            display = None
            if not (claims.get("name") and claims.get("email")):
                display = self._display_claims(id_token, claims["sub"], now)
            principal = principal_from_verified(claims, self.policy, display=display)
        except KeyFetchRequired:
            return Authentication(None, "needs_key_fetch")
        except TokenExpired as exc:
            TOKEN_VERIFICATIONS.labels("expired").inc()
            exp = exc.claims.get("exp")
            return Authentication(
                None,
                "expired",
                exc.reason,
                subject=exc.claims.get("sub"),
                expires_at=int(exp) if isinstance(exp, (int, float)) else None,
            )
        except TokenInvalid as exc:
            TOKEN_VERIFICATIONS.labels("invalid").inc()
            log.warning("access token rejected reason=%r", exc.reason)
            return Authentication(None, "invalid", exc.reason)
        except KeysUnavailable as exc:
            TOKEN_VERIFICATIONS.labels("invalid").inc()
            log.error("access token not verifiable reason=%r", f"keys unavailable: {exc}")
            return Authentication(None, "invalid", "keys unavailable")
        TOKEN_VERIFICATIONS.labels("valid").inc()
        self.cache.put(access_token, principal)
        return Authentication(principal, "valid", subject=principal.user_id, expires_at=principal.expires_at)

    async def aauthenticate(self, access_token: str | None, id_token: str | None = None) -> Authentication:
        """`authenticate` for async callers: never blocks the event loop.

        Only a token naming an unknown kid needs the (guarded, blocking) JWKS fetch; that one
        verification runs in a worker thread.
        """
        auth = self.authenticate(access_token, id_token, allow_fetch=False)
        if auth.state == "needs_key_fetch":
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
    if auth.state == "expired":
        log.warning("access token rejected reason=%r sub=%s", auth.reason, auth.subject)


@process_singleton
def get_verifier() -> Verifier:
    return Verifier(get_config())


def reset_verifier() -> None:
    get_verifier.cache_clear()
