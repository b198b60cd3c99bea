"""Helpers for the security tests: a fake issuer that records, and log assertions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client

from osapp.claims.config import load_config
from osapp.claims.runtime import ClaimsRuntime, install_runtime
from tests.conftest import claims_settings
from tests.support import tokens

METADATA = {
    "issuer": tokens.ISSUER,
    "authorization_endpoint": f"{tokens.ISSUER}/authorize",
    "token_endpoint": f"{tokens.ISSUER}/token",
    "jwks_uri": f"{tokens.ISSUER}/jwks",
    "revocation_endpoint": f"{tokens.ISSUER}/revoke",
    "end_session_endpoint": f"{tokens.ISSUER}/logout",
}
DISCOVERY_PATH = "/.well-known/openid-configuration"


class FakeIssuer:
    """The issuer's endpoints, answered in-process; every request osapp makes is recorded."""

    def __init__(self, environment: dict[str, str]) -> None:
        """`environment`: the OSAPP_* variables the component is configured with (claims_env)."""
        self.environment = dict(environment)
        self.requests: list[httpx.Request] = []
        self.jwks: dict = json.loads(tokens.jwks_json("main"))
        # Set by a test that exercises the code exchange: request -> response.
        self.token_endpoint: Callable[[httpx.Request], httpx.Response] | None = None
        # Seconds the JWKS endpoint takes (callers arriving meanwhile must wait, not fetch).
        self.jwks_delay = 0.0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host != httpx.URL(tokens.ISSUER).host:
            return httpx.Response(599)  # never reached: recorded, and the test says so
        if path == DISCOVERY_PATH:
            return httpx.Response(200, json=METADATA)
        if path == "/jwks":
            if self.jwks_delay:
                time.sleep(self.jwks_delay)
            return httpx.Response(200, json=self.jwks)
        if path == "/token" and self.token_endpoint is not None:
            return self.token_endpoint(request)
        if path == "/revoke":
            return httpx.Response(200)
        return httpx.Response(404, json={"error": "not_found"})

    def attach(self, **runtime_options: Any) -> FakeIssuer:
        """Serve with a runtime from the current settings whose every issuer call (discovery,
        JWKS, token, revocation; the coordinator's included) comes to us. `runtime_options`:
        more of ClaimsRuntime's injections (a clock)."""
        transport = runtime_options.pop("transport", None) or httpx.MockTransport(self.handle)
        install_runtime(ClaimsRuntime(load_config(), transport=transport, **runtime_options))
        return self

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def reconfigure(settings: Any, fake: FakeIssuer, **env: str) -> None:
    """Change OSAPP_* variables of this test's environment and rebuild the claims component
    around `fake`, as osapp's settings would map them (`settings`: pytest-django's fixture)."""
    fake.environment = {**fake.environment, **env}
    settings.CLAIMS_SESSION = claims_settings(fake.environment)
    fake.attach()


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """osapp's WARNING-or-worse records since the last `caplog.clear()`."""
    return [r for r in caplog.records if r.name.startswith("osapp") and r.levelno >= logging.WARNING]


def assert_one_rejection_logged(caplog: pytest.LogCaptureFixture, where: str) -> None:
    records = warnings_logged(caplog)
    lines = [f"{r.name}: {r.getMessage()[:200]}" for r in records]
    assert len(records) == 1, f"{where}: expected one rejection line, got {lines}"
    assert records[0].name.startswith("osapp.claims"), f"{where}: {lines}"
    assert "reason=" in records[0].getMessage(), f"{where}: no reason in {lines}"


def id_token_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": tokens.ISSUER, "sub": "42", "aud": tokens.CLIENT_ID, "iat": now, "exp": now + 600,
              "nonce": "n-0S6_WzA2Mj", "name": "Test User", "email": "test@example.test"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not tokens.DROP}


def id_token(nonce: str, **overrides: Any) -> str:
    return tokens.sign(id_token_claims(nonce=nonce, **overrides), typ="JWT")


def start_sign_in(client: Client, next_: str | None = "/o/acme/") -> dict[str, str]:
    """GET /auth/login; the authorization request's query parameters."""
    response = client.get("/auth/login", {"next": next_} if next_ is not None else {})
    assert response.status_code == 302, response
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def token_response(access_token: str, id_token_: str | None, refresh_token: str = "rt-1") -> dict[str, Any]:
    body = {"access_token": access_token, "token_type": "Bearer", "refresh_token": refresh_token, "expires_in": 600}
    if id_token_ is not None:
        body["id_token"] = id_token_
    return body
