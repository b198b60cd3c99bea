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
    clear_token_cookies,
    cookie_names,
    delete_cookie,
    read_token_cookie,
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
from .verifier import Authentication, get_verifier, log_expired_rejection

log = logging.getLogger("osapp.claims.renewal")


@dataclass(frozen=True)
class SessionNotice:
    """Shown quietly on pages: `refresh_failing` or `session_ending` (at `expires_at`)."""

    kind: str
    expires_at: int


@dataclass(frozen=True)
class CookieChange:
    """`set` (to `tokens`), `clear` (everything) or `drop_refresh`."""

    action: str
    tokens: TokenSet | None = None


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


def refresh_token_to_present(request: HttpRequest, auth: Authentication) -> str | None:
    """The refresh token this request should renew with, or None (DESIGN §5 step 5)."""
    verifier = get_verifier()
    config = verifier.config
    if not auth.may_refresh or is_websocket_upgrade(request):
        return None
    if auth.principal is not None and auth.principal.expires_at - verifier.clock() > config.refresh_skew_seconds:
        return None
    if is_sign_out(request):
        return None
    return read_token_cookie(request.COOKIES, cookie_names(config).refresh)


def _adopt(request: HttpRequest, principal: Principal, tokens: TokenSet) -> None:
    """This request now runs as the renewed session; its response will set the new cookies."""
    request.principal = principal  # type: ignore[attr-defined]
    request.user = principal  # type: ignore[assignment]
    request.claims_cookie_change = CookieChange("set", tokens)  # type: ignore[attr-defined]


def _become_anonymous(request: HttpRequest) -> None:
    request.principal = None  # type: ignore[attr-defined]
    request.user = AnonymousUser()  # type: ignore[assignment]


async def renew_if_needed(request: HttpRequest, auth: Authentication) -> None:
    request.claims_cookie_change = None  # type: ignore[attr-defined]
    request.claims_notice = None  # type: ignore[attr-defined]
    refresh_token = refresh_token_to_present(request, auth)
    if refresh_token is None:
        if auth.state == "expired":
            log_expired_rejection(auth)
            request.claims_cookie_change = CookieChange("clear")  # type: ignore[attr-defined]
        return
    verifier = get_verifier()
    coordinator = get_coordinator()
    outcome = await coordinator.refresh(refresh_token)
    # A chain head older than the skew (a long-idle tab) renews once more, from the head.
    if isinstance(outcome, Refreshed) and outcome.tokens.refresh_token != refresh_token:
        fresh = await verifier.aauthenticate(outcome.tokens.access_token, outcome.tokens.id_token)
        if fresh.principal is None or fresh.principal.expires_at - verifier.clock() <= verifier.config.refresh_skew_seconds:
            outcome = await coordinator.refresh(outcome.tokens.refresh_token)  # type: ignore[arg-type]
    if isinstance(outcome, Refreshed):
        fresh = await verifier.aauthenticate(outcome.tokens.access_token, outcome.tokens.id_token)
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
        # Transient: tolerated while the access token is still valid.
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
        if change.tokens.refresh_token:
            write_token_cookie(response, request, config, names.refresh, change.tokens.refresh_token)
    elif change.action == "drop_refresh":
        delete_cookie(response, names.refresh)
    elif change.action == "clear":
        clear_token_cookies(response, request, config)


def current_tokens(request: HttpRequest) -> tuple[str | None, str | None]:
    """The newest (access, refresh) tokens this request knows: renewed ones, else the cookies'."""
    change: CookieChange | None = getattr(request, "claims_cookie_change", None)
    if change is not None and change.action == "set" and change.tokens is not None:
        return change.tokens.access_token, change.tokens.refresh_token
    names = cookie_names(get_verifier().config)
    return read_token_cookie(request.COOKIES, names.access), read_token_cookie(request.COOKIES, names.refresh)


async def refresh_now(request: HttpRequest, satisfied: Callable[[Principal], bool]) -> Principal | None:
    """Renew through the coordinator now (e.g. after a membership change at the issuer).

    If the chain's head predates the change (`satisfied` says no), renew once more from it.
    On success the request carries the new Principal and the response will set the cookies.
    """
    verifier = get_verifier()
    coordinator = get_coordinator()
    _, refresh_token = current_tokens(request)
    for _ in range(2):
        if refresh_token is None:
            return None
        outcome = await coordinator.refresh(refresh_token)
        if not isinstance(outcome, Refreshed):
            return None
        fresh = await verifier.aauthenticate(outcome.tokens.access_token, outcome.tokens.id_token)
        if fresh.principal is None:
            return None
        _adopt(request, fresh.principal, outcome.tokens)
        if satisfied(fresh.principal) or outcome.tokens.refresh_token == refresh_token:
            return fresh.principal
        refresh_token = outcome.tokens.refresh_token
    return request.principal  # type: ignore[attr-defined]
