"""Receivers of what the issuer pushes (DESIGN §12): back-channel logout and Shared Signals.

`POST backchannel-logout` takes an OpenID Connect Back-Channel Logout 1.0 Logout Token;
`POST security-events` takes RFC 8417 Security Event Tokens pushed per RFC 8935 (OpenID CAEP
`session-revoked` and `token-claims-change`). Both verify with the baked key set, refuse a
replayed `jti`, and publish what they accept to the revocation log, which every worker and host
follows (revocation.py). Bad input is a 400 with a JSON error, a backend fault a 503 (so the
transmitter retries), never another 5xx.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .cookies import SESSION_MAX_AGE_SECONDS
from .errors import KeysUnavailable, TokenInvalid
from .refresh import BackendUnavailable
from .refresh.base import REPLAY
from .refresh.sealed import store_key
from .revocation import Revocation, Scope
from .runtime import ClaimsRuntime, get_runtime
from .tokens import verify_logout_token, verify_security_event

log = logging.getLogger("osapp.claims.receivers")


# -- back-channel logout (OpenID Connect Back-Channel Logout 1.0, DESIGN §12) ----------------

LOGOUT_EVENT = "backchannel_logout"
# §2.6 asks for a recent `iat`; a transmitter retrying for longer sends a new token.
PUSHED_EVENT_MAX_AGE_SECONDS = 300


def _logout_refused(description: str, status: int = 400) -> JsonResponse:
    error = "invalid_request" if status == 400 else "temporarily_unavailable"
    get_runtime().metrics.pushed_events.labels(LOGOUT_EVENT, error).inc()
    log.warning("back-channel logout refused status=%d reason=%r", status, description)
    return JsonResponse({"error": error, "error_description": description}, status=status)


@csrf_exempt  # a server-to-server POST with no cookies: the Logout Token is the credential
@never_cache
@require_POST
def backchannel_logout(request: HttpRequest) -> JsonResponse:
    """Verify the Logout Token (§2.6) and revoke its session on every worker and host.

    200 on success; 400 with a JSON error for anything the spec refuses; 503 when the
    revocation cannot be stored (the transmitter retries); never a 5xx otherwise."""
    runtime = get_runtime()
    if request.content_type != "application/x-www-form-urlencoded":
        return _logout_refused("expected application/x-www-form-urlencoded")
    token = request.POST.get("logout_token", "")
    if not token:
        return _logout_refused("no logout_token")
    now = runtime.clock()
    try:
        claims = verify_logout_token(
            token, runtime.verifier.keys, runtime.verifier.policy, now=now,
            max_age_seconds=PUSHED_EVENT_MAX_AGE_SECONDS,
        )
    except TokenInvalid as exc:
        return _logout_refused(exc.reason)
    except KeysUnavailable:
        return _logout_refused("keys unavailable", 503)
    sid, sub = claims.get("sid"), claims.get("sub")
    # §2.7: with a `sid`, that session; with only a `sub`, every session of that user.
    # In the issuer's clock, as the tokens' `iat`: everything issued up to the logout's second.
    record = Revocation(
        Scope.SESSION if sid else Scope.USER, str(sid or sub), float(claims["iat"]) + 1,
        now + SESSION_MAX_AGE_SECONDS, accepted_at=now,
    )
    try:
        if _seen(runtime, "logout", claims):
            return _logout_refused("logout token already used (jti)")
        runtime.publish_revocations([record])
        _remember(runtime, "logout", claims)
    except BackendUnavailable as exc:
        return _logout_refused(f"revocation not stored: {exc}", 503)
    runtime.metrics.pushed_events.labels(LOGOUT_EVENT, "accepted").inc()
    log.info("back-channel logout accepted %s=%s", record.scope.value, record.value[:64])
    return JsonResponse({}, status=200)


def _replay_key(kind: str, claims: dict[str, Any]) -> str:
    return store_key(f"{kind}-jti\0{claims['iss']}\0{claims['jti']}")


def _seen(runtime: ClaimsRuntime, kind: str, claims: dict[str, Any]) -> bool:
    """Whether this event's `jti` was applied before."""
    return async_to_sync(runtime.coordinator.backend.get)(_replay_key(kind, claims), REPLAY) is not None


def _remember(runtime: ClaimsRuntime, kind: str, claims: dict[str, Any]) -> None:
    """Remember the `jti` once applied (for twice the accepted age): a delivery whose storing
    failed (503) is applied when retried, and applying twice changes nothing."""
    async_to_sync(runtime.coordinator.backend.put)(
        _replay_key(kind, claims), REPLAY, b"1", 2 * PUSHED_EVENT_MAX_AGE_SECONDS
    )


# -- Shared Signals push (RFC 8417 SETs, RFC 8935 delivery, OpenID CAEP; DESIGN §12) ---------

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
TOKEN_CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
SET_CONTENT_TYPE = "application/secevent+jwt"
# RFC 8935 §2.4 error codes, by what verification found.
SET_ERRORS = {"issuer mismatch": "invalid_issuer", "audience mismatch": "invalid_audience",
              "bad signature": "invalid_key", "unknown 'kid'": "invalid_key"}


def _set_refused(err: str, description: str, status: int = 400) -> JsonResponse:
    get_runtime().metrics.pushed_events.labels("security_event", err).inc()
    log.warning("security event refused status=%d err=%s reason=%r", status, err, description)
    return JsonResponse({"err": err, "description": description}, status=status)


def _subject(claims: dict[str, Any], event: dict[str, Any], issuer: str) -> tuple[Scope, str] | None:
    """The event's subject (RFC 9493): `opaque` names a session, `iss_sub` a user of ours."""
    subject = claims.get("sub_id", event.get("subject"))
    if not isinstance(subject, dict):
        return None
    fmt = subject.get("format")
    if fmt == "opaque" and isinstance(subject.get("id"), str) and subject["id"]:
        return Scope.SESSION, subject["id"]
    if fmt == "iss_sub" and subject.get("iss") == issuer and isinstance(subject.get("sub"), str) and subject["sub"]:
        return Scope.USER, subject["sub"]
    return None


def _records_of(claims: dict[str, Any], issuer: str, now: float) -> list[Revocation] | str:
    """The revocations the SET asks for, or why it cannot be applied."""
    records: list[Revocation] = []
    for uri, event in claims["events"].items():
        if uri not in (SESSION_REVOKED, TOKEN_CLAIMS_CHANGE):
            continue  # RFC 8935 §2: events a receiver does not act on are acknowledged
        found = _subject(claims, event, issuer)
        if found is None:
            return "no subject this receiver knows (opaque sid, or iss_sub of the configured issuer)"
        scope, value = found
        at = event.get("event_timestamp", claims["iat"])
        at = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else float(claims["iat"])
        # Never later than the SET itself: a change "in the future" would make every token of
        # the user stale until then, and each request renew.
        at = min(at, float(claims["iat"]))
        if uri == TOKEN_CLAIMS_CHANGE:
            if scope is not Scope.USER:
                return "token-claims-change names a user (iss_sub)"
            # Tokens issued at or after the change carry it; earlier ones renew first.
            records.append(Revocation(Scope.CLAIMS, value, at, now + SESSION_MAX_AGE_SECONDS, now))
        else:
            records.append(Revocation(scope, value, at + 1, now + SESSION_MAX_AGE_SECONDS, now))
    return records


@csrf_exempt  # server to server: the SET's signature is the credential
@never_cache
@require_POST
def security_events(request: HttpRequest) -> JsonResponse:
    """RFC 8935 push delivery of CAEP `session-revoked` and `token-claims-change`: 202 on
    acceptance, 400 with an RFC 8935 §2.4 error otherwise, 503 when it cannot be stored."""
    runtime = get_runtime()
    if request.content_type != SET_CONTENT_TYPE:
        return _set_refused("invalid_request", f"expected {SET_CONTENT_TYPE}")
    try:
        token = request.body.decode("ascii").strip()
    except UnicodeDecodeError:
        return _set_refused("invalid_request", "the body is not a compact JWT")
    if not token:
        return _set_refused("invalid_request", "empty body")
    now = runtime.clock()
    try:
        claims = verify_security_event(
            token, runtime.verifier.keys, runtime.verifier.policy, now=now,
            max_age_seconds=PUSHED_EVENT_MAX_AGE_SECONDS,
        )
    except TokenInvalid as exc:
        return _set_refused(SET_ERRORS.get(exc.reason, "invalid_request"), exc.reason)
    except KeysUnavailable:
        return _set_refused("invalid_key", "keys unavailable", 503)
    records = _records_of(claims, runtime.config.issuer, now)
    if isinstance(records, str):
        return _set_refused("invalid_request", records)
    try:
        if _seen(runtime, "set", claims):
            return _set_refused("invalid_request", "security event already delivered (jti)")
        runtime.publish_revocations(records)
        _remember(runtime, "set", claims)
    except BackendUnavailable as exc:
        return _set_refused("invalid_request", f"not stored: {exc}", 503)
    runtime.metrics.pushed_events.labels("security_event", "accepted" if records else "ignored").inc()
    log.info("security event accepted applied=%s", ",".join(f"{r.scope.value}={r.value[:64]}" for r in records) or "none")
    return JsonResponse({}, status=202)
