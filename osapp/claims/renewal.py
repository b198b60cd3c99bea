"""What an HTTP request does near its access token's expiry (DESIGN §5 steps 4–6).

`renew_if_needed` decides whether to refresh, asks the coordinator, and applies the outcome to
the request (new Principal, a notice for the page, or anonymity); `write_session_cookies` then
applies the cookie change to the response — only ever the chain's newest tokens, and never for
a session a logout has ended meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from .cookies import (
    RefreshBinding,
    clear_token_cookies,
    cookie_names,
    delete_cookie,
    read_refresh_cookie,
    read_token_cookie,
    write_refresh_cookie,
    write_token_cookie,
)
from .oidc import TokenSet
from .principal import Principal
from .refresh import (
    Refreshed,
    RefreshRejected,
    RefreshUnavailable,
    SignedOut,
    get_coordinator,
)
from .verifier import Authentication, Verifier, get_verifier, log_expired_rejection

log = logging.getLogger("osapp.claims.renewal")


@dataclass(frozen=True)
class SessionNotice:
    """Shown quietly on pages: `refresh_failing` or `session_ending` (at `expires_at`)."""

    kind: str
    expires_at: int


@dataclass(frozen=True)
class CookieChange:
    """`set` (to `tokens`, the refresh token sealed to `subject`), `clear` (everything) or
    `drop_refresh`."""

    action: str
    tokens: TokenSet | None = None
    subject: str | None = None
    session_id: str | None = None


def is_websocket_upgrade(request: HttpRequest) -> bool:
    # A 101 response cannot carry Set-Cookie that the page's socket would use: never refresh.
    # META, not request.headers: building HttpHeaders walks every header on every request.
    return "websocket" in request.META.get("HTTP_UPGRADE", "").lower()


def is_sign_out(request: HttpRequest) -> bool:
    # Logout wins (DESIGN §6): a sign-out tombstones the session at once. Renewing first would
    # make it wait for a refresh in flight, whose new tokens another tab's response would carry.
    # Only asked of a request about to refresh, so the URL resolution is rare.
    if request.method != "POST":
        return False
    try:
        return resolve(request.path_info).view_name == "claims:logout"
    except Resolver404:
        return False


def refresh_token_to_present(request: HttpRequest, auth: Authentication) -> RefreshBinding | None:
    """The refresh token this request should renew with, or None (DESIGN §5 step 5, §6).

    Bound to its session: only a refresh cookie sealed by us for this access token's `sub`,
    and only while that token expired no longer than `refresh_max_expired_age_seconds` ago.
    Anything else never reaches the coordinator, so junk cookies cost no issuer call and no
    file.
    """
    verifier = get_verifier()
    config = verifier.config
    if not auth.may_refresh or is_websocket_upgrade(request):
        return None
    now = verifier.clock()
    if auth.principal is not None and auth.principal.expires_at - now > config.refresh_skew_seconds:
        return None
    if is_sign_out(request):
        return None
    names = cookie_names(config)
    if read_token_cookie(request.COOKIES, names.refresh) is None:
        return None
    binding = read_refresh_cookie(request.COOKIES, config)
    if binding is None:
        reason = "refresh cookie not sealed by this deployment"
    elif binding.subject != auth.subject:
        reason = "refresh cookie belongs to another subject"
    elif auth.expires_at is not None and now - auth.expires_at > config.refresh_max_expired_age_seconds:
        reason = "access token expired too long ago to refresh"
    else:
        return binding
    log.warning("refresh refused reason=%r sub=%s", reason, auth.subject)
    return None


def _adopt(request: HttpRequest, principal: Principal, tokens: TokenSet) -> None:
    """This request now runs as the renewed session; its response will set the new cookies."""
    request.principal = principal  # type: ignore[attr-defined]
    request.user = principal  # type: ignore[assignment]
    request.claims_cookie_change = CookieChange(  # type: ignore[attr-defined]
        "set", tokens, principal.user_id, principal.session_id
    )


async def _verified_for(verifier: Verifier, tokens: TokenSet, subject: str) -> Authentication:
    """The refreshed tokens' Authentication; refused when they name another subject."""
    fresh = await verifier.aauthenticate(tokens.access_token, tokens.id_token)
    if fresh.principal is not None and fresh.principal.user_id != subject:
        log.error("refreshed access token names another subject; refused")
        return Authentication(None, "invalid", "refreshed token for another subject")
    return fresh


def _become_anonymous(request: HttpRequest) -> None:
    request.principal = None  # type: ignore[attr-defined]
    request.user = AnonymousUser()


async def renew_if_needed(request: HttpRequest, auth: Authentication) -> None:
    request.claims_cookie_change = None  # type: ignore[attr-defined]
    request.claims_notice = None  # type: ignore[attr-defined]
    binding = refresh_token_to_present(request, auth)
    if binding is None:
        if auth.state == "expired":
            log_expired_rejection(auth)
            request.claims_cookie_change = CookieChange("clear")  # type: ignore[attr-defined]
        return
    verifier = get_verifier()
    coordinator = get_coordinator()
    refresh_token, subject = binding.refresh_token, binding.subject
    outcome = await coordinator.refresh(refresh_token, subject)
    # A chain head older than the skew (a long-idle tab) renews once more, from the head.
    if isinstance(outcome, Refreshed) and outcome.tokens.refresh_token not in (None, refresh_token):
        fresh = await _verified_for(verifier, outcome.tokens, subject)
        if fresh.principal is None or fresh.principal.expires_at - verifier.clock() <= verifier.config.refresh_skew_seconds:
            outcome = await coordinator.refresh(outcome.tokens.refresh_token, subject)
    if isinstance(outcome, Refreshed):
        fresh = await _verified_for(verifier, outcome.tokens, subject)
        if fresh.principal is not None:
            _adopt(request, fresh.principal, outcome.tokens)
            return
        log.error("refreshed access token does not verify reason=%r", fresh.reason)
        outcome = RefreshUnavailable("refreshed access token does not verify")
    if isinstance(outcome, SignedOut):
        _become_anonymous(request)
        request.claims_cookie_change = CookieChange("clear")  # type: ignore[attr-defined]
    elif isinstance(outcome, RefreshRejected):
        # The session is over: serve while the access token is valid, then anonymous.
        if auth.principal is not None:
            request.claims_notice = SessionNotice("session_ending", auth.principal.expires_at)  # type: ignore[attr-defined]
            request.claims_cookie_change = CookieChange("drop_refresh")  # type: ignore[attr-defined]
        else:
            request.claims_cookie_change = CookieChange("clear")  # type: ignore[attr-defined]
    elif auth.principal is not None:
        # Transient or a settings fault (DESIGN §6): tolerated while the token is valid.
        request.claims_notice = SessionNotice("refresh_failing", auth.principal.expires_at)  # type: ignore[attr-defined]


async def write_session_cookies(request: HttpRequest, response: HttpResponse) -> None:
    change: CookieChange | None = getattr(request, "claims_cookie_change", None)
    if change is None:
        return
    config = get_verifier().config
    names = cookie_names(config)
    if change.action == "set" and change.tokens is not None:
        # Logout wins: a refresh that finished after a sign-out must not resurrect it.
        if change.tokens.refresh_token and await get_coordinator().is_signed_out(change.tokens.refresh_token):
            clear_token_cookies(response, request, config)
            return
        write_token_cookie(response, request, config, names.access, change.tokens.access_token)
        if change.tokens.id_token:
            write_token_cookie(response, request, config, names.id_token, change.tokens.id_token)
        if change.tokens.refresh_token and change.subject:
            write_refresh_cookie(
                response,
                request,
                config,
                RefreshBinding(change.tokens.refresh_token, change.subject, change.session_id),
            )
    elif change.action == "drop_refresh":
        delete_cookie(response, names.refresh)
    elif change.action == "clear":
        clear_token_cookies(response, request, config)


def current_tokens(request: HttpRequest) -> tuple[str | None, RefreshBinding | None]:
    """The newest access token and refresh binding this request knows: renewed, else cookies'."""
    change: CookieChange | None = getattr(request, "claims_cookie_change", None)
    if change is not None and change.action == "set" and change.tokens is not None:
        binding = None
        if change.tokens.refresh_token and change.subject:
            binding = RefreshBinding(change.tokens.refresh_token, change.subject, change.session_id)
        return change.tokens.access_token, binding
    config = get_verifier().config
    names = cookie_names(config)
    return read_token_cookie(request.COOKIES, names.access), read_refresh_cookie(request.COOKIES, config)


async def refresh_now(request: HttpRequest, satisfied: Callable[[Principal], bool]) -> Principal | None:
    """Renew through the coordinator now (e.g. after a membership change at the issuer).

    If the chain's head predates the change (`satisfied` says no), renew once more from it.
    On success the request carries the new Principal and the response will set the cookies.
    Only the signed-in user's own refresh cookie is used (DESIGN §6: bound to its session).
    """
    verifier = get_verifier()
    coordinator = get_coordinator()
    principal: Principal | None = getattr(request, "principal", None)
    _, binding = current_tokens(request)
    if principal is None or binding is None or binding.subject != principal.user_id:
        return None
    refresh_token: str | None = binding.refresh_token
    for _ in range(2):
        if refresh_token is None:
            return None
        outcome = await coordinator.refresh(refresh_token, binding.subject)
        if not isinstance(outcome, Refreshed):
            return None
        fresh = await _verified_for(verifier, outcome.tokens, binding.subject)
        if fresh.principal is None:
            return None
        _adopt(request, fresh.principal, outcome.tokens)
        if satisfied(fresh.principal) or outcome.tokens.refresh_token == refresh_token:
            return fresh.principal
        refresh_token = outcome.tokens.refresh_token
    return request.principal  # type: ignore[attr-defined]
