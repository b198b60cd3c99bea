"""Shared fixtures. Unit tests configure the claims component with a local test key."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from osapp.environment import claims_session
from tests.support import tokens

# The test issuer whose key we hold, in osapp's own terms (environment variable -> value).
TEST_ENVIRONMENT = {
    "OSAPP_ISSUER": tokens.ISSUER,
    "OSAPP_CLIENT_ID": tokens.CLIENT_ID,
    "OSAPP_CLIENT_SECRET": "osapp-dev-secret",
    "OSAPP_AUDIENCE": tokens.AUDIENCE,
    "OSAPP_JWKS": tokens.jwks_json("main"),
    "OSAPP_COOKIE_SECURE": "0",
}


def claims_settings(environment: dict[str, str]) -> dict:
    """CLAIMS_SESSION as osapp's settings build it from `environment`."""
    values, errors = claims_session(environment)
    assert not errors, errors
    return {**values, "BASE_TEMPLATE": "base.html"}


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with no throttle counts (the cache is per process, tests are not)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def claims_env(settings, tmp_path):
    """The claims component configured for a test issuer whose key we hold.

    Through Django's settings (pytest-django's `settings` fixture): the change, and its undo,
    rebuild the component's runtime (`setting_changed`). Yields the environment it stands for;
    `reconfigure` (tests/security/helpers.py) changes single variables of it."""
    environment = {**TEST_ENVIRONMENT, "OSAPP_STATE_DIR": str(tmp_path)}
    settings.CLAIMS_SESSION = claims_settings(environment)
    yield environment
