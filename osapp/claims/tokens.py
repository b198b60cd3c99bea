"""Pure token verification: token + keys + clock → claims (or a Principal), or TokenInvalid.

No I/O beyond the KeySet's guarded unknown-`kid` refetch. Everything PyJWT can raise on hostile
input (DESIGN §11: RecursionError from nested headers, TypeError/OverflowError from odd `exp`
values) is caught around the decode call and turned into TokenInvalid with a reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from .errors import TokenExpired, TokenInvalid
from .keys import ACCEPTED_ALGORITHMS, KeySet
from .principal import Principal, principal_from_claims

JWS_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
MAX_HEADER_BYTES = 2048
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "aud"]
# OpenID Connect Back-Channel Logout 1.0 §2.4: `sub` and/or `sid`, and always a `jti`.
LOGOUT_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "jti"]
LOGOUT_TOKEN_TYPES = {None, "jwt", "logout+jwt"}
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# RFC 8417 Security Event Tokens, typed as RFC 8417 §2.3 and the Shared Signals profile ask.
SET_REQUIRED_CLAIMS = ["iat", "iss", "aud", "jti"]
SET_TYPES = {"secevent+jwt", "application/secevent+jwt"}
# RFC 9068 §2.1 asks for `at+jwt`; plain `JWT` (or no typ) is accepted from issuers that predate it.
ACCESS_TOKEN_TYPES = {None, "jwt", "at+jwt", "application/at+jwt"}
TYPED_ACCESS_TOKEN = {"at+jwt", "application/at+jwt"}
ID_TOKEN_TYPES = {None, "jwt"}
# Past 9999-12-31 a NumericDate is refused: a huge integer would overflow float conversion
# (an OverflowError, not TokenInvalid) and no real token lives that long.
MAX_NUMERIC_DATE = 253402300799
# Claims only an ID token carries (OIDC Core §2): their presence keeps ID tokens out of the
# access-token slot even when the audience is the client id.
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash")


@dataclass(frozen=True)
class VerifyPolicy:
    """What a token must satisfy besides its signature."""

    issuer: str
    audience: str
    client_id: str
    leeway_seconds: int = 10
    max_token_bytes: int = 16384
    orgs_claim: str = "orgs"
    projects_claim: str = "projects"


def _b64url_json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise TokenInvalid(f"{what} is not base64url JSON") from None


def read_header(token: str, max_token_bytes: int) -> dict[str, Any]:
    """Check the token's shape and return its protected header, before any crypto."""
    if not isinstance(token, str) or not token:
        raise TokenInvalid("empty token")
    if len(token) > max_token_bytes:
        raise TokenInvalid(f"token longer than {max_token_bytes} bytes")
    if not JWS_COMPACT.match(token):
        raise TokenInvalid("not a compact JWS (three base64url segments)")
    header_segment = token.split(".", 1)[0]
    if len(header_segment) > MAX_HEADER_BYTES:
        raise TokenInvalid("header too large")
    header = _b64url_json(header_segment, "header")
    if not isinstance(header, dict):
        raise TokenInvalid("header is not a JSON object")
    # RFC 7515 §4.1.11: we understand no extension, so any `crit` header makes the token invalid.
    if "crit" in header:
        raise TokenInvalid("header has a 'crit' parameter")
    return header


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # RFC 7519 §2: a JSON number of seconds. Checked without float(): 10**400 must not overflow.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
        or not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE
    ):
        raise TokenInvalid(f"claim {name!r} is not a NumericDate")
    return float(value)


def _check_audience(claims: Mapping[str, Any], policy: VerifyPolicy, expected: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise TokenInvalid("claim 'aud' is malformed")
    if expected not in audiences:
        raise TokenInvalid("audience mismatch")
    # OIDC Core §3.1.3.7 (applied to both token kinds): with several audiences the party the
    # token was issued to must be us, named by `azp` (or RFC 9068's `client_id`).
    if len(audiences) > 1 and policy.client_id not in (claims.get("azp"), claims.get("client_id")):
        raise TokenInvalid("several audiences and the token was not issued to this client")


def verify_jwt(
    token: str,
    keys: KeySet,
    policy: VerifyPolicy,
    *,
    now: float,
    audience: str,
    allowed_types: set[str | None],
    allow_fetch: bool = True,
    required: Sequence[str] = REQUIRED_CLAIMS,
) -> dict[str, Any]:
    """Verify signature, `iss`, `aud`, `nbf`, `iat` and then `exp`; return the claims.

    Raises TokenExpired (carrying the verified claims) only when everything but `exp` holds.
    `required`: the claims that must be present (a logout token may name only its `sid`, a
    security event token has no `exp`).
    """
    header = read_header(token, policy.max_token_bytes)
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in allowed_types):
        raise TokenInvalid(f"unexpected token type {typ!r}")
    algorithm, kid = header.get("alg"), header.get("kid")
    if not isinstance(algorithm, str) or algorithm not in ACCEPTED_ALGORITHMS:
        raise TokenInvalid(f"algorithm {str(algorithm)[:20]!r} not accepted")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise TokenInvalid("missing or malformed 'kid'")
    key = keys.get(kid, algorithm, fetch=allow_fetch)
    if key is None:
        raise TokenInvalid("unknown 'kid'")
    if key.algorithm != algorithm:
        raise TokenInvalid(f"algorithm {algorithm!r} does not match the key's {key.algorithm!r}")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            issuer=policy.issuer,
            options={
                "require": list(required),
                # Audience and times are checked below with our own rules and injected clock.
                "verify_aud": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenInvalid("bad signature") from None
    except jwt.InvalidIssuerError:
        raise TokenInvalid("issuer mismatch") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenInvalid(f"missing claim {exc.claim!r}") from None
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"undecodable: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - DESIGN §11: hostile input can raise anything
        raise TokenInvalid(f"undecodable: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("payload is not a JSON object")
    if ("sub" in required or "sub" in claims) and (not isinstance(claims.get("sub"), str) or not claims["sub"]):
        raise TokenInvalid("claim 'sub' is not a non-empty string")
    _check_audience(claims, policy, audience)
    leeway = policy.leeway_seconds
    exp = _numeric_date(claims, "exp")
    iat = _numeric_date(claims, "iat")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise TokenInvalid("not yet valid (nbf)")
    if iat is not None and iat > now + leeway:
        raise TokenInvalid("issued in the future (iat)")
    if exp is not None and exp <= now - leeway:
        raise TokenExpired("expired", claims)
    return claims


def verify_access_claims(
    token: str, keys: KeySet, policy: VerifyPolicy, *, now: float, allow_fetch: bool = True
) -> dict[str, Any]:
    """A verified access token's claims. Raises TokenExpired / TokenInvalid."""
    try:
        claims = verify_jwt(
            token, keys, policy, now=now, audience=policy.audience, allowed_types=ACCESS_TOKEN_TYPES,
            allow_fetch=allow_fetch,
        )
    except TokenExpired as expired:
        # An expired token still has to be an access token (it may be presented for refresh).
        _check_access_slot(expired.claims, read_header(token, policy.max_token_bytes).get("typ"))
        raise
    _check_access_slot(claims, read_header(token, policy.max_token_bytes).get("typ"))
    return claims


def _check_access_slot(claims: Mapping[str, Any], typ: object) -> None:
    """Only an access token sits in the access-token slot (RFC 9068 §2.1, §2.2).

    `at+jwt` says so by itself; an untyped or plain `JWT` token must carry what an access
    token has and an ID token lacks (`client_id` or `scope`), so an ID token whose `aud` is
    our client id is refused even when it has no `nonce` or `at_hash`."""
    if any(name in claims for name in ID_TOKEN_ONLY_CLAIMS):
        raise TokenInvalid("an ID token is not an access token")
    if isinstance(typ, str) and typ.lower() in TYPED_ACCESS_TOKEN:
        return
    if not any(isinstance(claims.get(name), str) for name in ("client_id", "scope")):
        raise TokenInvalid("untyped token without 'client_id' or 'scope' is not an access token")


def verify_access_token(token: str, keys: KeySet, policy: VerifyPolicy, *, now: float) -> Principal:
    """A verified access token's Principal. Raises TokenExpired / TokenInvalid."""
    return principal_from_verified(verify_access_claims(token, keys, policy, now=now), policy)


def principal_from_verified(
    claims: Mapping[str, Any], policy: VerifyPolicy, display: Mapping[str, Any] | None = None
) -> Principal:
    try:
        return principal_from_claims(
            claims,
            orgs_claim=policy.orgs_claim,
            projects_claim=policy.projects_claim,
            display=display,
        )
    except TokenInvalid:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TokenInvalid(f"claims of the wrong shape: {type(exc).__name__}") from None


def verify_id_token(
    token: str,
    keys: KeySet,
    policy: VerifyPolicy,
    *,
    now: float,
    nonce: str | None = None,
    allow_expired: bool = False,
    allow_fetch: bool = True,
) -> dict[str, Any]:
    """Verify an ID token (OIDC Core §3.1.3.7): `aud` is the client id, `nonce` when given.

    `allow_expired` serves display claims and `id_token_hint`, never authentication.
    """
    try:
        claims = verify_jwt(
            token, keys, policy, now=now, audience=policy.client_id, allowed_types=ID_TOKEN_TYPES,
            allow_fetch=allow_fetch,
        )
    except TokenExpired as exc:
        if not allow_expired:
            raise
        claims = exc.claims
    if nonce is not None and claims.get("nonce") != nonce:
        raise TokenInvalid("nonce mismatch")
    return claims


def verify_logout_token(
    token: str, keys: KeySet, policy: VerifyPolicy, *, now: float, max_age_seconds: float
) -> dict[str, Any]:
    """A Logout Token's verified claims (OpenID Connect Back-Channel Logout 1.0 §2.6).

    Signature, `iss` and `aud` (this client) as for ID tokens; then the spec's own rules: the
    back-channel-logout member in `events` (an ID token or access token has none), `sid`
    and/or `sub`, a `jti`, no `nonce`, and `iat` no older than `max_age_seconds`.
    """
    try:
        claims = verify_jwt(
            token, keys, policy, now=now, audience=policy.client_id, allowed_types=LOGOUT_TOKEN_TYPES,
            required=LOGOUT_REQUIRED_CLAIMS,
        )
    except TokenExpired:
        raise TokenInvalid("logout token expired") from None
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise TokenInvalid("no back-channel logout event in 'events'")
    if "nonce" in claims:
        raise TokenInvalid("a logout token carries no 'nonce'")
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise TokenInvalid("claim 'sid' is not a non-empty string")
    if "sub" not in claims and sid is None:
        raise TokenInvalid("neither 'sub' nor 'sid'")
    _check_pushed(claims, policy, now=now, max_age_seconds=max_age_seconds, what="logout token")
    return claims


def verify_security_event(
    token: str, keys: KeySet, policy: VerifyPolicy, *, now: float, max_age_seconds: float
) -> dict[str, Any]:
    """A Security Event Token's verified claims (RFC 8417; RFC 8935 push delivery).

    Typed `secevent+jwt` (so no ID, access or logout token passes for one), signed by the
    configured issuer's keys, `aud` this client, a `jti`, an `events` object, `iat` no older
    than `max_age_seconds`. Which events it carries is the caller's to read.
    """
    typ = read_header(token, policy.max_token_bytes).get("typ")
    if not isinstance(typ, str) or typ.lower() not in SET_TYPES:
        raise TokenInvalid("not a security event token (typ)")
    try:
        claims = verify_jwt(
            token, keys, policy, now=now, audience=policy.client_id, allowed_types=set(SET_TYPES),
            required=SET_REQUIRED_CLAIMS,
        )
    except TokenExpired:
        raise TokenInvalid("security event token expired") from None
    events = claims.get("events")
    if not isinstance(events, dict) or not events or not all(isinstance(v, dict) for v in events.values()):
        raise TokenInvalid("'events' is not a non-empty object of objects")
    _check_pushed(claims, policy, now=now, max_age_seconds=max_age_seconds, what="security event token")
    return claims


def _check_pushed(
    claims: Mapping[str, Any], policy: VerifyPolicy, *, now: float, max_age_seconds: float, what: str
) -> None:
    """What every pushed event needs: a `jti` (for the replay store) and a recent `iat`."""
    if not isinstance(claims.get("jti"), str) or not claims["jti"] or len(claims["jti"]) > 256:
        raise TokenInvalid("claim 'jti' is not a short non-empty string")
    iat = _numeric_date(claims, "iat")
    if iat is None or now - iat > max_age_seconds + policy.leeway_seconds:
        raise TokenInvalid(f"{what} too old (iat)")
