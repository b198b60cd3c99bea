"""One HTTP request's claims session: resolved once, carried as one value, applied once.

`resolve_session` turns the verified access token into a `SessionResolution` — the Principal
the request runs as, a notice for the page, and the cookie plan for the response (DESIGN §5
steps 4–6). Near expiry it renews through the coordinator; whether to renew is decided once,
by `refresh_token_to_present`. `write_cookie_plan` then writes the plan to the response — only
ever the chain's newest tokens, and never for a session a logout has ended meanwhile. The
request carries the value as `request.claims` (with `request.principal` and `request.user`
beside it, set from it); `refresh_now` replaces it when a view renews on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from .config import ClaimsConfig
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
from .refresh import Refreshed, RefreshRejected, RefreshUnavailable, SignedOut
from .runtime import ClaimsRuntime, get_runtime
from .verifier import EXPIRED, REVOKED, Authentication, AuthState, log_expired_rejection

log = logging.getLogger("osapp.claims.session")

SIGN_OUT_VIEW_ATTRIBUTE = "claims_sign_out"


class NoticeKind(StrEnum):
    REFRESH_FAILING = "refresh_failing"  # renewal failing, the access token still valid
    SESSION_ENDING = "session_ending"  # the issuer ended the grant: signed in until `exp`


@dataclass(frozen=True)
class SessionNotice:
    """Shown quietly on pages (the `session_notice` tag): what is wrong, and until when."""

    kind: NoticeKind
    expires_at: int


class CookieAction(StrEnum):
    SET = "set"  # to `tokens`, the refresh token sealed to `binding`'s subject and sid
    CLEAR = "clear"  # every session cookie
    DROP_REFRESH = "drop_refresh"  # the refresh cookie only (the grant is over)


@dataclass(frozen=True)
class CookiePlan:
    action: CookieAction
    tokens: TokenSet | None = None
    binding: RefreshBinding | None = None


@dataclass(frozen=True)
class SessionResolution:
    """What this request runs as, what the page should say, and what the response sets."""

    principal: Principal | None
    notice: SessionNotice | None = None
    cookies: CookiePlan | None = None


ANONYMOUS = SessionResolution(None)
CLEAR = CookiePlan(CookieAction.CLEAR)


def attach(request: HttpRequest, resolution: SessionResolution) -> SessionResolution:
    """Make `resolution` this request's session: `request.claims`, `.principal`, `.user`."""
    request.claims = resolution  # type: ignore[attr-defined]
    request.principal = resolution.principal  # type: ignore[attr-defined]
    request.user = resolution.principal or AnonymousUser()  # type: ignore[assignment]
    return resolution


def resolution_of(request: HttpRequest) -> SessionResolution:
    """The request's session (anonymous when the middleware did not run)."""
    resolution = getattr(request, "claims", None)
    return resolution if isinstance(resolution, SessionResolution) else ANONYMOUS


def principal_of(request: HttpRequest) -> Principal | None:
    """Who this request runs as (None: anonymous)."""
    return resolution_of(request).principal


def is_websocket_upgrade(request: HttpRequest) -> bool:
    # A 101 response cannot carry Set-Cookie that the page's socket would use: never refresh.
    # META, not request.headers: building HttpHeaders walks every header on every request.
    return "websocket" in request.META.get("HTTP_UPGRADE", "").lower()


def is_sign_out(request: HttpRequest) -> bool:
    # Logout wins (DESIGN §6): a sign-out tombstones the session at once. Renewing first would
    # make it wait for a refresh in flight, whose new tokens another tab's response would carry.
    # The view is recognised by a mark, not a URL name: any namespace, any path. Only asked of
    # a request about to refresh, so the URL resolution is rare.
    if request.method != "POST":
        return False
    try:
        return bool(getattr(resolve(request.path_info).func, SIGN_OUT_VIEW_ATTRIBUTE, False))
    except Resolver404:
        return False


def refresh_token_to_present(
    request: HttpRequest, auth: Authentication, runtime: ClaimsRuntime
) -> RefreshBinding | None:
    """The refresh token this request should renew with, or None (DESIGN §5 step 5, §6).

    Bound to its session: only a refresh cookie sealed by us for this access token's `sub`,
    and only while that token expired no longer than `refresh_max_expired_age_seconds` ago.
    Anything else never reaches the coordinator, so junk cookies cost no issuer call and no
    file.
    """
    config = runtime.config
    if not auth.may_refresh:
        return None
    now = runtime.clock()
    principal = auth.principal
    if (
        principal is not None
        and principal.expires_at - now > config.refresh_skew_seconds
        # DESIGN §12: claims changed at the issuer since this token: renew now, single flight.
        and not runtime.revocations.claims_stale(principal.user_id, principal.issued_at)
    ):
        return None
    if is_websocket_upgrade(request) or is_sign_out(request):
        return None
    if read_token_cookie(request.COOKIES, cookie_names(config).refresh) is None:
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


def resolve_session(
    request: HttpRequest, auth: Authentication, runtime: ClaimsRuntime
) -> SessionResolution | RefreshBinding:
    """The session of a verified token, or the binding to renew with (then call `renew`)."""
    binding = refresh_token_to_present(request, auth, runtime)
    if binding is not None:
        return binding
    if auth.state is EXPIRED:
        log_expired_rejection(auth)
        return SessionResolution(None, cookies=CLEAR)
    if auth.state is REVOKED:  # signed out at the issuer: this browser's session is over
        return SessionResolution(None, cookies=CLEAR)
    return SessionResolution(auth.principal) if auth.principal is not None else ANONYMOUS


def _renewed(principal: Principal, tokens: TokenSet) -> SessionResolution:
    """The request now runs as the renewed session; its response will set the new cookies."""
    binding = None
    if tokens.refresh_token:
        binding = RefreshBinding(tokens.refresh_token, principal.user_id, principal.session_id)
    return SessionResolution(principal, cookies=CookiePlan(CookieAction.SET, tokens, binding))


async def _verified_for(runtime: ClaimsRuntime, tokens: TokenSet, subject: str) -> Authentication:
    """The refreshed tokens' Authentication; refused when they name another subject."""
    fresh = await runtime.verifier.aauthenticate(tokens.access_token, tokens.id_token)
    if fresh.principal is not None and fresh.principal.user_id != subject:
        log.error("refreshed access token names another subject; refused")
        return Authentication(None, AuthState.INVALID, "refreshed token for another subject")
    return fresh


async def renew(auth: Authentication, binding: RefreshBinding, runtime: ClaimsRuntime) -> SessionResolution:
    """Renew through the coordinator and say what the request becomes (DESIGN §6)."""
    coordinator = runtime.coordinator
    refresh_token, subject = binding.refresh_token, binding.subject
    outcome = await coordinator.refresh(refresh_token, subject)
    # A chain head older than the skew (a long-idle tab) renews once more, from the head.
    if isinstance(outcome, Refreshed) and outcome.tokens.refresh_token not in (None, refresh_token):
        fresh = await _verified_for(runtime, outcome.tokens, subject)
        if (
            fresh.principal is None
            or fresh.principal.expires_at - runtime.clock() <= runtime.config.refresh_skew_seconds
            or runtime.revocations.claims_stale(fresh.principal.user_id, fresh.principal.issued_at)
        ):
            outcome = await coordinator.refresh(outcome.tokens.refresh_token, subject)
    if isinstance(outcome, Refreshed):
        fresh = await _verified_for(runtime, outcome.tokens, subject)
        if fresh.principal is not None:
            return _renewed(fresh.principal, outcome.tokens)
        log.error("refreshed access token does not verify reason=%r", fresh.reason)
        outcome = RefreshUnavailable("refreshed access token does not verify")
    if isinstance(outcome, SignedOut):
        return SessionResolution(None, cookies=CLEAR)
    if isinstance(outcome, RefreshRejected):
        # The session is over: serve while the access token is valid, then anonymous.
        if auth.principal is None:
            return SessionResolution(None, cookies=CLEAR)
        return SessionResolution(
            auth.principal,
            SessionNotice(NoticeKind.SESSION_ENDING, auth.principal.expires_at),
            CookiePlan(CookieAction.DROP_REFRESH),
        )
    if auth.principal is None:
        return ANONYMOUS
    # Transient or a settings fault (DESIGN §6): tolerated while the token is valid.
    return SessionResolution(auth.principal, SessionNotice(NoticeKind.REFRESH_FAILING, auth.principal.expires_at))


async def ended_by_logout(plan: CookiePlan, runtime: ClaimsRuntime) -> bool:
    """Logout wins: a refresh that finished after a sign-out must not resurrect it."""
    tokens = plan.tokens
    if plan.action is not CookieAction.SET or tokens is None or not tokens.refresh_token:
        return False
    return await runtime.coordinator.is_signed_out(tokens.refresh_token)


def write_cookie_plan(
    request: HttpRequest, response: HttpResponse, config: ClaimsConfig, plan: CookiePlan, *, ended: bool = False
) -> None:
    """Write `plan` to the response (the one place that does); `ended`: see ended_by_logout."""
    names = cookie_names(config)
    if plan.action is CookieAction.SET and plan.tokens is not None and not ended:
        write_token_cookie(response, request, config, names.access, plan.tokens.access_token)
        if plan.tokens.id_token:
            write_token_cookie(response, request, config, names.id_token, plan.tokens.id_token)
        if plan.binding is not None:
            write_refresh_cookie(response, request, config, plan.binding)
    elif plan.action is CookieAction.DROP_REFRESH:
        delete_cookie(response, names.refresh)
    else:
        clear_token_cookies(response, request, config)


def current_tokens(request: HttpRequest) -> tuple[str | None, RefreshBinding | None]:
    """The newest access token and refresh binding this request knows: renewed, else cookies'."""
    plan = resolution_of(request).cookies
    if plan is not None and plan.action is CookieAction.SET and plan.tokens is not None:
        return plan.tokens.access_token, plan.binding
    config = get_runtime().config
    return read_token_cookie(request.COOKIES, cookie_names(config).access), read_refresh_cookie(request.COOKIES, config)


async def refresh_now(request: HttpRequest, satisfied: Callable[[Principal], bool]) -> Principal | None:
    """Renew through the coordinator now (e.g. after a membership change at the issuer).

    If the chain's head predates the change (`satisfied` says no), renew once more from it.
    On success the request carries the new Principal and the response will set the cookies.
    Only the signed-in user's own refresh cookie is used (DESIGN §6: bound to its session).
    """
    runtime = get_runtime()
    principal = resolution_of(request).principal
    _, binding = current_tokens(request)
    if principal is None or binding is None or binding.subject != principal.user_id:
        return None
    refresh_token: str | None = binding.refresh_token
    for _ in range(2):
        if refresh_token is None:
            return None
        outcome = await runtime.coordinator.refresh(refresh_token, binding.subject)
        if not isinstance(outcome, Refreshed):
            return None
        fresh = await _verified_for(runtime, outcome.tokens, binding.subject)
        if fresh.principal is None:
            return None
        attach(request, _renewed(fresh.principal, outcome.tokens))
        if satisfied(fresh.principal) or outcome.tokens.refresh_token == refresh_token:
            return fresh.principal
        refresh_token = outcome.tokens.refresh_token
    return resolution_of(request).principal
