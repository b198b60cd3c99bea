"""The issuer's signing keys: parsed from a baked JWKS, pinned to one algorithm each.

Verifying a token makes no network call: the key set is read from the file `bake_jwks` wrote
(or from the inline `JWKS` setting). Only a token naming an unknown `kid` with an algorithm we accept
may trigger a runtime fetch of `jwks_uri`, single-flight and at most once per
`JWKS_REFETCH_INTERVAL` per process (DESIGN §4), so a key rotation at the issuer does not
log anyone out and junk tokens cannot turn into issuer traffic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt.exceptions import PyJWKError

from .errors import KeyFetchRequired, KeysUnavailable

log = logging.getLogger("osapp.claims.keys")

# RFC 8725 §3.1: each key is used with one algorithm, decided by the key, never by the token.
# Symmetric (`oct`) keys and `none` are never accepted for issuer tokens.
ALGORITHMS_BY_KTY: Mapping[str, tuple[str, ...]] = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512"),
    "OKP": ("EdDSA",),
}
ACCEPTED_ALGORITHMS = frozenset(alg for algs in ALGORITHMS_BY_KTY.values() for alg in algs)
EC_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 64


class JwksError(ValueError):
    """A JWKS document that must not be used; the message says why in one line."""


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: Any  # a cryptography public key


def _default_algorithm(jwk: Mapping[str, Any]) -> str:
    kty = jwk["kty"]
    if kty == "RSA":
        return "RS256"
    if kty == "EC":
        by_curve = {curve: alg for alg, curve in EC_CURVE_FOR_ALG.items()}
        if jwk.get("crv") not in by_curve:
            raise JwksError(f"key {jwk.get('kid')!r}: unsupported EC curve {jwk.get('crv')!r}")
        return by_curve[jwk["crv"]]
    if jwk.get("crv") != "Ed25519":
        raise JwksError(f"key {jwk.get('kid')!r}: unsupported OKP curve {jwk.get('crv')!r}")
    return "EdDSA"


def parse_key(jwk: Any) -> VerificationKey | None:
    """One validated public signing key, or None for a key that is not for signatures."""
    if not isinstance(jwk, dict):
        raise JwksError("a key is not a JSON object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JwksError("a key has no 'kid'")
    kty = jwk.get("kty")
    if kty == "oct":
        raise JwksError(f"key {kid!r} is symmetric (kty 'oct'); only public keys are accepted")
    if not isinstance(kty, str) or kty not in ALGORITHMS_BY_KTY:
        raise JwksError(f"key {kid!r} has unsupported kty {kty!r}")
    present_private = [m for m in PRIVATE_MEMBERS if m in jwk]
    if present_private:
        raise JwksError(f"key {kid!r} contains private key material ({', '.join(present_private)})")
    if jwk.get("use", "sig") != "sig":
        return None
    algorithm = jwk.get("alg") or _default_algorithm(jwk)
    if algorithm not in ALGORITHMS_BY_KTY[kty]:
        raise JwksError(f"key {kid!r}: algorithm {algorithm!r} is not usable with kty {kty!r}")
    if kty == "EC" and jwk.get("crv") != EC_CURVE_FOR_ALG[algorithm]:
        raise JwksError(f"key {kid!r}: curve {jwk.get('crv')!r} does not match {algorithm}")
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm).key
    except (PyJWKError, ValueError, TypeError) as exc:
        raise JwksError(f"key {kid!r} cannot be loaded: {exc}") from None
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise JwksError(f"key {kid!r} is RSA-{key.key_size}; at least {MIN_RSA_BITS} bits required")
    return VerificationKey(kid=kid, algorithm=algorithm, key=key)


def parse_jwks(document: str | bytes | Mapping[str, Any]) -> dict[str, VerificationKey]:
    """Validate a JWKS document and return its signing keys by kid. Raises JwksError."""
    if isinstance(document, (str, bytes)):
        if len(document) > MAX_JWKS_BYTES:
            raise JwksError(f"JWKS is larger than {MAX_JWKS_BYTES} bytes")
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            raise JwksError("JWKS is not valid JSON") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksError("JWKS has no 'keys' list")
    if len(document["keys"]) > MAX_KEYS:
        raise JwksError(f"JWKS has more than {MAX_KEYS} keys")
    keys: dict[str, VerificationKey] = {}
    for jwk in document["keys"]:
        parsed = parse_key(jwk)
        if parsed is None:
            continue
        if parsed.kid in keys:
            raise JwksError(f"kid {parsed.kid!r} appears twice")
        keys[parsed.kid] = parsed
    if not keys:
        raise JwksError("JWKS holds no signing key")
    return keys


def read_jwks_file(path: Path) -> dict[str, VerificationKey]:
    """Parse the baked JWKS file; errors name the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise JwksError(f"{path}: no such file (run `python manage.py bake_jwks`)") from None
    except OSError as exc:
        raise JwksError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return parse_jwks(raw)
    except JwksError as exc:
        raise JwksError(f"{path}: {exc}") from None


JwksFetcher = Callable[[], Mapping[str, Any]]


class KeySet:
    """The keys tokens are verified against; thread-safe.

    `fetch_jwks`, when given, is the guarded runtime source for unknown kids.
    """

    def __init__(
        self,
        keys: Mapping[str, VerificationKey],
        *,
        fetch_jwks: JwksFetcher | None = None,
        refetch_interval_seconds: float = 300.0,
        fetch_wait_seconds: float = 15.0,
        source: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = dict(keys)
        self._fetch_jwks = fetch_jwks
        self._refetch_interval = refetch_interval_seconds
        self._fetch_wait_seconds = fetch_wait_seconds
        self._clock = clock
        self._last_fetch_at: float | None = None
        self._fetch_lock = threading.Lock()
        self.source = source
        self.refetch_count = 0

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, kid: str, algorithm: str, *, fetch: bool = True) -> VerificationKey | None:
        """The key for `kid`, refetching once per interval when it is unknown.

        With `fetch=False` an unknown kid that a fetch might resolve raises KeyFetchRequired
        instead of blocking on the network.
        """
        key = self._keys.get(kid)
        if key is not None or self._fetch_jwks is None or algorithm not in ACCEPTED_ALGORITHMS:
            return key
        if not fetch:
            if self._refetch_due() or self._fetch_lock.locked():
                raise KeyFetchRequired("unknown 'kid' (a JWKS fetch is due or in flight)")
            return None
        self._refetch(kid)
        return self._keys.get(kid)

    def _refetch_due(self) -> bool:
        last = self._last_fetch_at
        return last is None or self._clock() - last >= self._refetch_interval

    def _refetch(self, kid: str) -> None:
        # Single flight: callers arriving during a fetch wait for it (bounded) and then look
        # again, rather than rejecting a token the fetch is about to make known.
        if not self._fetch_lock.acquire(timeout=self._fetch_wait_seconds):
            return
        try:
            if kid in self._keys or not self._refetch_due():
                return
            self._last_fetch_at = self._clock()
            self.refetch_count += 1
            try:
                fresh = parse_jwks(self._fetch_jwks())  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001 - any failure keeps the keys we have
                log.warning("jwks refetch failed, keeping %d known keys: %s", len(self._keys), exc)
                return
            # Keys we had stay: tokens signed before a rotation remain valid until they expire.
            self._keys = {**self._keys, **fresh}
            log.info("jwks refetched: kids=%s", ",".join(sorted(self._keys)))
        finally:
            self._fetch_lock.release()


def load_keyset(
    jwks_inline: str | None,
    jwks_file: Path | None,
    *,
    fetch_jwks: JwksFetcher | None,
    refetch_interval_seconds: float,
    fetch_wait_seconds: float = 15.0,
    inline_name: str = "JWKS",
    clock: Callable[[], float] = time.monotonic,
) -> KeySet:
    """The KeySet from configuration: inline JWKS (the setting `inline_name`), else the baked
    file, else runtime only."""
    if jwks_inline:
        try:
            keys = parse_jwks(jwks_inline)
        except JwksError as exc:
            raise KeysUnavailable(f"{inline_name}: {exc}") from None
        source = inline_name
    elif jwks_file is not None and jwks_file.exists():
        try:
            keys = read_jwks_file(jwks_file)
        except JwksError as exc:
            raise KeysUnavailable(str(exc)) from None
        source = str(jwks_file)
    elif fetch_jwks is not None:
        keys, source = {}, "runtime"
    else:
        raise KeysUnavailable("no JWKS configured")
    return KeySet(
        keys,
        fetch_jwks=fetch_jwks,
        refetch_interval_seconds=refetch_interval_seconds,
        fetch_wait_seconds=fetch_wait_seconds,
        source=source,
        clock=clock,
    )
