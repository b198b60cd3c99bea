"""Shared fixtures. Unit tests configure the claims component with a local test key."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from osapp.claims.config import reset_config
from osapp.claims.verifier import reset_verifier
from tests.support import tokens


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with no throttle counts (the cache is per process, tests are not)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def claims_env(monkeypatch, tmp_path):
    """The claims component configured for a test issuer whose key we hold."""
    for name, value in {
        "OSAPP_ISSUER": tokens.ISSUER,
        "OSAPP_CLIENT_ID": tokens.CLIENT_ID,
        "OSAPP_AUDIENCE": tokens.AUDIENCE,
        "OSAPP_JWKS": tokens.jwks_json("main"),
        "OSAPP_COOKIE_SECURE": "0",
        "OSAPP_STATE_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    reset_config()
    reset_verifier()
    yield
    reset_config()
    reset_verifier()
