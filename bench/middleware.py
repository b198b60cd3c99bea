"""Bench-only stand-ins for ClaimsSessionMiddleware: the comparisons of docs/BENCHMARKS.md.

Each attaches what the pages read (`request.principal`, `request.user`, no notice, no cookie
change) by another means, so the same osapp views and templates render the same page:

- `FixedPrincipalMiddleware`: auth OFF — one fixed Principal for every request (a).
- `NoVerifiedCacheMiddleware`: osapp's middleware with the verified-claims cache replaced by
  one that never hits, so every request verifies the signature (b).
- `UserinfoMiddleware`: the "ask the issuer every time" design — GET the issuer's userinfo
  endpoint with the access token on every request (c).
- `SessionPrincipalMiddleware`: the "server-side session" design — the claims stored in a
  django.contrib.sessions row at sign-in, read from the database on every request (c).

None of this is importable from osapp and none of it is installed with the package
(pyproject includes `osapp*` only). The auth-off middleware also refuses to start unless
BENCH_FIXED_PRINCIPAL_CLAIMS is set, which only bench/run.py does.
"""

from __future__ import annotations

import base64
import json
import os

import httpx
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured

from osapp.claims.cookies import cookie_names, read_token_cookie
from osapp.claims.middleware import ClaimsSessionMiddleware
from osapp.claims.principal import Principal, principal_from_claims
from osapp.claims.runtime import get_runtime
from osapp.claims.session import SessionResolution
from osapp.claims.session import attach as attach_resolution


def attach(request, principal: Principal | None) -> None:
    """What ClaimsSessionMiddleware leaves on a request, for a given Principal."""
    attach_resolution(request, SessionResolution(principal))


class _BothModes:
    """Runs natively in the sync and the async stack, like ClaimsSessionMiddleware."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)


class FixedPrincipalMiddleware(_BothModes):
    """Auth OFF, for benchmark (a) only: the same Principal for every request, no cookie read."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        raw = os.environ.get("BENCH_FIXED_PRINCIPAL_CLAIMS")
        if not raw:
            raise ImproperlyConfigured("bench only: BENCH_FIXED_PRINCIPAL_CLAIMS is not set")
        self.principal = principal_from_claims(json.loads(raw))

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        attach(request, self.principal)
        return self.get_response(request)

    async def __acall__(self, request):
        attach(request, self.principal)
        return await self.get_response(request)


class NeverHitCache:
    """A verified-claims cache that never hits: every request verifies the signature (b)."""

    def get(self, token: str, now: float) -> None:
        return None

    def put(self, token: str, principal: Principal) -> None:
        pass

    def clear(self) -> None:
        pass

    def __len__(self) -> int:
        return 0


class NoVerifiedCacheMiddleware(ClaimsSessionMiddleware):
    """osapp's middleware, unchanged, over a verifier whose cache never hits (b)."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        get_runtime().verifier.cache = NeverHitCache()  # type: ignore[assignment]


def _payload(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


class UserinfoMiddleware(_BothModes):
    """The per-request userinfo design (c): the issuer answers "who is this?" on every request.

    The issuer authenticates the access token (its 200 is the only check made here). The dev
    issuer's userinfo carries the identity claims only, so the organizations and projects are
    read from the token the issuer just accepted; the page then renders the same Principal.
    """

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        runtime = get_runtime()
        self.cookie = cookie_names(runtime.config).access
        self.endpoint = runtime.issuer.metadata()["userinfo_endpoint"]
        self._async_client: httpx.AsyncClient | None = None
        self._sync_client: httpx.Client | None = None

    def _principal(self, token: str, response: httpx.Response) -> Principal | None:
        if response.status_code != 200:
            return None
        return principal_from_claims({**_payload(token), **response.json()})

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        token = read_token_cookie(request.COOKIES, self.cookie)
        principal = None
        if token:
            self._sync_client = self._sync_client or httpx.Client(timeout=10)
            response = self._sync_client.get(self.endpoint, headers={"Authorization": f"Bearer {token}"})
            principal = self._principal(token, response)
        attach(request, principal)
        return self.get_response(request)

    async def __acall__(self, request):
        token = read_token_cookie(request.COOKIES, self.cookie)
        principal = None
        if token:
            # One pooled client per worker (uvicorn runs one event loop per process).
            self._async_client = self._async_client or httpx.AsyncClient(timeout=10)
            response = await self._async_client.get(self.endpoint, headers={"Authorization": f"Bearer {token}"})
            principal = self._principal(token, response)
        attach(request, principal)
        return await self.get_response(request)


class SessionPrincipalMiddleware:
    """The server-side session design (c): claims from the session row, every request.

    Sync-only on purpose: it sits right after WhiteNoise, inside the part of the stack that
    already runs synchronously, so it adds no sync/async hop (the cheapest placement).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        claims = request.session.get("claims")  # SessionMiddleware: one SELECT on django_session
        attach(request, principal_from_claims(claims) if claims else None)
        return self.get_response(request)

