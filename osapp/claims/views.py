"""Sign-in, callback, sign-out and session status (OIDC Core §3.1, authorization code + PKCE).

The pending login (state, nonce, PKCE verifier, next) lives in a signed, short-lived HttpOnly
cookie: no server-side session exists anywhere in osapp.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .cookies import (
    LOGIN_MAX_AGE_SECONDS,
    SESSION_MAX_AGE_SECONDS,
    RefreshBinding,
    clear_token_cookies,
    cookie_names,
    delete_cookie,
    read_refresh_cookie,
    read_token_cookie,
    set_cookie,
    write_refresh_cookie,
    write_token_cookie,
)
from .errors import GrantRejected, IssuerError, IssuerMisconfigured, KeysUnavailable, TokenInvalid
from .refresh import BackendUnavailable
from .refresh.base import REPLAY
from .refresh.sealed import store_key
from .revocation import Revocation, Scope
from .runtime import ClaimsRuntime, get_runtime
from .session import SIGN_OUT_VIEW_ATTRIBUTE, resolution_of
from .tokens import verify_logout_token, verify_security_event

log = logging.getLogger("osapp.claims.views")

LOGIN_SALT = "osapp.claims.login"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(candidate: str | None) -> str:
    """A local path to go to after sign-in; anything else (absolute, `//host`, `\\`) is `/`."""
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith(("//", "/\\"))
        # WHATWG URL parsing drops tabs and newlines: "/\t/" would become "//".
        and not CONTROL_CHARACTERS.search(candidate)
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts=set())
    ):
        return candidate
    return "/"


def base_url(request: HttpRequest) -> str:
    """The BASE_URL setting when set, else this request's own origin (DESIGN §8)."""
    configured = get_runtime().config.base_url
    return configured or request.build_absolute_uri("/").rstrip("/")


def url_of(request: HttpRequest | None, name: str) -> str:
    """The path of this component's view `name`, wherever the project mounted its URLs.

    `claims` is the application namespace (urls.py's app_name): it resolves whatever instance
    namespace the project chose, and the current request's instance when mounted twice."""
    match = getattr(request, "resolver_match", None)
    return reverse(f"claims:{name}", current_app=match.namespace if match is not None else None)


def _pkce_challenge(verifier: str) -> str:
    # RFC 7636 §4.2: S256 = BASE64URL(SHA256(ASCII(code_verifier))), unpadded.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error_page(request: HttpRequest, title: str, message: str, status: int) -> HttpResponse:
    config = get_runtime().config
    context = {
        "title": title,
        "message": message,
        "base_template": config.base_template,
        "login_url": url_of(request, "login"),
    }
    return render(request, config.error_template, context, status=status)


@never_cache
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    runtime = get_runtime()
    config = runtime.config
    try:
        authorization_endpoint = runtime.issuer.metadata()["authorization_endpoint"]
    except IssuerError as exc:
        log.warning("sign-in unavailable: %s", exc)
        return _error_page(
            request, "Sign-in is unavailable", "The sign-in service cannot be reached. Try again shortly.", 503
        )
    pending = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(64),
        "next": safe_next(request.GET.get("next")),
    }
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": base_url(request) + url_of(request, "callback"),
        "scope": config.scopes,
        "state": pending["state"],
        "nonce": pending["nonce"],
        "code_challenge": _pkce_challenge(pending["verifier"]),
        "code_challenge_method": "S256",
    }
    response = HttpResponseRedirect(f"{authorization_endpoint}?{urlencode(params)}")
    set_cookie(
        response,
        config,
        cookie_names(config).login,
        signing.dumps(pending, salt=LOGIN_SALT, compress=True),
        LOGIN_MAX_AGE_SECONDS,
    )
    return response


@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    runtime = get_runtime()
    verifier, config = runtime.verifier, runtime.config
    names = cookie_names(config)
    try:
        pending = signing.loads(
            request.COOKIES.get(names.login, ""), salt=LOGIN_SALT, max_age=LOGIN_MAX_AGE_SECONDS
        )
    except signing.BadSignature:
        log.warning("callback rejected reason='no valid pending login'")
        return _error_page(request, "Sign-in expired", "Please start signing in again.", 400)
    state = request.GET.get("state", "")
    if not constant_time_compare(state, pending.get("state", "")):
        log.warning("callback rejected reason='state mismatch'")
        return _error_page(request, "Sign-in failed", "The sign-in response did not match. Please try again.", 400)
    if "error" in request.GET:
        # RFC 6749 §4.1.2.1: the issuer reports errors on the redirect.
        error = request.GET.get("error", "")[:64]
        log.warning("callback rejected reason='issuer error' error=%r", error)
        return _error_page(request, "Sign-in failed", f"The sign-in service answered: {error}.", 400)
    code = request.GET.get("code")
    if not code:
        return _error_page(request, "Sign-in failed", "The sign-in response had no code.", 400)
    try:
        redirect_uri = base_url(request) + url_of(request, "callback")
        tokens = runtime.issuer.exchange_code(code, redirect_uri, pending["verifier"])
    except GrantRejected as exc:
        log.warning("code exchange rejected error=%r", exc.error)
        return _error_page(request, "Sign-in failed", "The sign-in service refused the code. Please try again.", 400)
    except IssuerMisconfigured as exc:
        log.error("code exchange failed: settings fault, check %s reason=%s", exc.setting, exc)
        return _error_page(request, "Sign-in is unavailable", "Sign-in is misconfigured on this server. Try again later.", 503)
    except IssuerError as exc:
        log.warning("code exchange failed: %s", exc)
        return _error_page(request, "Sign-in is unavailable", "The sign-in service cannot be reached. Try again shortly.", 503)
    try:
        if not tokens.id_token:
            raise TokenInvalid("token response without id_token")
        id_claims = verifier.verify_id_token(tokens.id_token, nonce=pending["nonce"])
        principal = verifier.verify_access_token(tokens.access_token)
        if principal.user_id != id_claims.get("sub"):
            raise TokenInvalid("ID token and access token name different subjects")
    except TokenInvalid as exc:
        log.warning("sign-in tokens rejected reason=%r", exc.reason)
        if exc.reason.startswith("token longer than"):
            # Never truncate: a session whose claims do not fit would silently lose projects.
            return _error_page(
                request,
                "Sign-in failed",
                "Your account belongs to more organizations and projects than a browser session "
                "can carry. Ask an administrator to reduce them.",
                400,
            )
        return _error_page(request, "Sign-in failed", "The sign-in service returned tokens osapp cannot accept.", 400)
    log.info("signed in sub=%s", principal.user_id)
    response = HttpResponseRedirect(safe_next(pending.get("next")))
    write_token_cookie(response, request, config, names.access, tokens.access_token)
    write_token_cookie(response, request, config, names.id_token, tokens.id_token)
    if tokens.refresh_token:
        # DESIGN §6: sealed to this session's sub/sid, so it refreshes only this session.
        sid = id_claims.get("sid")
        binding = RefreshBinding(
            tokens.refresh_token, principal.user_id, sid if isinstance(sid, str) else principal.session_id
        )
        write_refresh_cookie(response, request, config, binding)
    delete_cookie(response, names.login)
    return response


@never_cache
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Revoke the refresh token (RFC 7009), clear cookies, then RP-initiated logout."""
    runtime = get_runtime()
    config = runtime.config
    names = cookie_names(config)
    binding = read_refresh_cookie(request.COOKIES, config)
    refresh_token = binding.refresh_token if binding is not None else None
    id_token = read_token_cookie(request.COOKIES, names.id_token)
    end_session = None
    if refresh_token:
        try:
            # Logout wins (DESIGN §6): tombstone the whole chain so no refresh in flight can
            # resurrect the session, and revoke its newest refresh token, not the cookie's.
            refresh_token = async_to_sync(runtime.coordinator.end_session)(refresh_token)
        except BackendUnavailable as exc:
            log.warning("sign-out could not tombstone the session: %s", exc)
    try:
        if refresh_token:
            runtime.issuer.revoke(refresh_token)
        end_session = runtime.issuer.end_session_endpoint()
    except IssuerError as exc:
        # The cookies go regardless; an unrevoked refresh token expires at the issuer.
        log.warning("sign-out could not reach the issuer: %s", exc)
    target = "/"
    if end_session:
        # OIDC RP-Initiated Logout §2: id_token_hint + a registered post_logout_redirect_uri.
        params = {"client_id": config.client_id, "post_logout_redirect_uri": base_url(request) + "/"}
        if id_token:
            params["id_token_hint"] = id_token
        target = f"{end_session}?{urlencode(params)}"
    response = HttpResponseRedirect(target)
    clear_token_cookies(response, request, config)
    principal = resolution_of(request).principal
    log.info("signed out sub=%s", principal.user_id if principal is not None else None)
    return response


# Logout wins (DESIGN §6): the middleware never renews a session on its way to this view.
setattr(logout, SIGN_OUT_VIEW_ATTRIBUTE, True)  # noqa: B010 - the mark's name is shared


@never_cache
@require_GET
def session(request: HttpRequest) -> JsonResponse:
    principal = resolution_of(request).principal
    if principal is None:
        return JsonResponse({"authenticated": False})
    return JsonResponse(
        {
            "authenticated": True,
            "user": {"id": principal.user_id, "name": principal.name, "email": principal.email},
            "expires_at": principal.expires_at,
            "orgs": [org.slug for org in principal.orgs],
            "projects": len(principal.projects),
        }
    )


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
        if not _first_use(runtime, "logout", claims):
            return _logout_refused("logout token already used (jti)")
        _publish(runtime, [record])
    except BackendUnavailable as exc:
        return _logout_refused(f"revocation not stored: {exc}", 503)
    runtime.metrics.pushed_events.labels(LOGOUT_EVENT, "accepted").inc()
    log.info("back-channel logout accepted %s=%s", record.scope.value, record.value[:64])
    return JsonResponse({}, status=200)


def _first_use(runtime: ClaimsRuntime, kind: str, claims: dict[str, Any]) -> bool:
    """Whether this event's `jti` is new; it is remembered for twice the accepted age."""
    backend = runtime.coordinator.backend
    key = store_key(f"{kind}-jti\0{claims['iss']}\0{claims['jti']}")
    if async_to_sync(backend.get)(key, REPLAY) is not None:
        return False
    async_to_sync(backend.put)(key, REPLAY, b"1", 2 * PUSHED_EVENT_MAX_AGE_SECONDS)
    return True


def _publish(runtime: ClaimsRuntime, records: list[Revocation]) -> None:
    for record in records:
        runtime.revocation_log.publish(record)
    runtime.revocations.apply(records)  # this worker at once; the others from the log


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
        if not _first_use(runtime, "set", claims):
            return _set_refused("invalid_request", "security event already delivered (jti)")
        _publish(runtime, records)
    except BackendUnavailable as exc:
        return _set_refused("invalid_request", f"not stored: {exc}", 503)
    runtime.metrics.pushed_events.labels("security_event", "accepted" if records else "ignored").inc()
    log.info("security event accepted applied=%s", ",".join(f"{r.scope.value}={r.value[:64]}" for r in records) or "none")
    return JsonResponse({}, status=202)
