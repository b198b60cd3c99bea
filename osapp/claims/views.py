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
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
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
from .errors import GrantRejected, IssuerError, IssuerMisconfigured, TokenInvalid
from .principal import Principal
from .refresh import BackendUnavailable
from .revocation import Revocation, Scope
from .runtime import ClaimsRuntime, get_runtime
from .session import SIGN_OUT_VIEW_ATTRIBUTE, resolution_of

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
    _revoke_here(runtime, principal)
    log.info("signed out sub=%s", principal.user_id if principal is not None else None)
    return response


def _revoke_here(runtime: ClaimsRuntime, principal: Principal | None) -> None:
    """This browser's other tabs hold the same cookies, and their open sockets the same token:
    revoke the token (and its issuer session, when the tokens name one) on every worker, so
    those sockets close within the propagation bound (DESIGN §12)."""
    if principal is None:
        return
    now = runtime.clock()
    records = []
    if principal.token_id is not None:
        # The token with this `jti`: refused whatever its `iat` (which precedes its `exp`).
        expires = float(principal.expires_at)
        records.append(Revocation(Scope.TOKEN, principal.token_id, expires + 1, expires + 60, now))
    if principal.session_id is not None:
        records.append(Revocation(Scope.SESSION, principal.session_id, now, now + SESSION_MAX_AGE_SECONDS, now))
    try:
        runtime.publish_revocations(records)
    except BackendUnavailable as exc:
        log.warning("sign-out could not revoke the session on other workers: %s", exc)


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
