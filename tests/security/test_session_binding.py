"""DESIGN §6: a refresh is bound to its session, and only `invalid_grant` ends one.

Through the real Django stack (middleware, coordinator on the file backend) with the issuer's
token endpoint answered in-process; the same promises through the real issuer and gunicorn
are in tests/integration/test_refresh_faults.py.
"""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from django.test import Client

from osapp.claims.cookies import RefreshBinding, open_refresh_cookie, seal_refresh_cookie
from tests.security.helpers import token_response
from tests.support import tokens
from tests.support.clients import cookie_client

pytestmark = [pytest.mark.django_db]


def files_under(path) -> set[str]:
    return {str(p) for p in path.rglob("*") if p.is_file()}


def client_with(access_token: str, refresh_cookie: str) -> Client:
    return cookie_client(access_token, refresh_cookie=refresh_cookie)


INFO = b"osapp.claims refresh cookie v1"  # CLAIMS_SESSION["REFRESH_COOKIE_INFO"]'s default


def seal(binding: RefreshBinding) -> str:
    return seal_refresh_cookie(binding, INFO)


def open_(value: str) -> RefreshBinding | None:
    return open_refresh_cookie(value, INFO)


def test_the_seal_is_deterministic_and_tamper_evident():
    # Concurrent requests of one rotation must set byte-identical cookies (one value per
    # binding); any other binding, any flipped byte, another SECRET_KEY or another HKDF info
    # (another deployment sharing the key) opens to nothing.
    binding = RefreshBinding("rt-1", "42", "sid-1")
    sealed = seal(binding)
    assert seal(RefreshBinding("rt-1", "42", "sid-1")) == sealed
    assert open_(sealed) == binding
    assert open_refresh_cookie(sealed, b"another deployment") is None
    others = {seal(RefreshBinding(*b)) for b in (("rt-2", "42", "sid-1"), ("rt-1", "43", "sid-1"),
                                                 ("rt-1", "42", None))}
    assert sealed not in others and len(others) == 3
    assert "rt-1" not in sealed
    raw = base64.urlsafe_b64decode(sealed[3:] + "=" * (-len(sealed[3:]) % 4))
    flipped = [raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:] for i in range(len(raw))]
    opened = [open_("r1." + base64.urlsafe_b64encode(v).decode().rstrip("=")) for v in flipped]
    assert opened == [None] * len(raw)
    from django.test import override_settings

    with override_settings(SECRET_KEY="another-key"):
        assert open_(sealed) is None


def test_a_genuine_expired_token_with_random_refresh_cookies_costs_no_issuer_call_and_no_file(
    fake_issuer, tmp_path
):
    fake_issuer.token_endpoint = lambda request: httpx.Response(200, json=token_response(tokens.access_token(), None))
    expired = tokens.access_token(exp=int(time.time()) - 60)
    Client().get("/readyz")  # the backend's directory exists before we count
    before = files_under(tmp_path)
    statuses = set()
    for n in range(500):
        response = client_with(expired, f"random-refresh-cookie-{n}").get("/")
        statuses.add(response.status_code)
    assert statuses == {200}  # the home page, anonymous
    assert "/token" not in fake_issuer.paths
    assert files_under(tmp_path) == before


def test_a_refresh_cookie_sealed_for_another_subject_is_never_presented(fake_issuer):
    fake_issuer.token_endpoint = lambda request: httpx.Response(200, json=token_response(tokens.access_token(), None))
    mine_expired = tokens.access_token(sub="42", exp=int(time.time()) - 60)
    response = client_with(mine_expired, tokens.refresh_cookie("victims-rotated-token", sub="99")).get("/")
    assert response.status_code == 200
    assert "/token" not in fake_issuer.paths


def test_an_access_token_expired_longer_than_the_bound_never_refreshes(fake_issuer, settings):
    from tests.security.helpers import reconfigure

    reconfigure(settings, fake_issuer, OSAPP_REFRESH_MAX_EXPIRED_AGE="3600")
    fake_issuer.token_endpoint = lambda request: httpx.Response(200, json=token_response(tokens.access_token(), None))
    old = tokens.access_token(exp=int(time.time()) - 7200, iat=int(time.time()) - 9000)
    client_with(old, tokens.refresh_cookie("rt-1")).get("/")
    assert "/token" not in fake_issuer.paths
    fake_issuer.token_endpoint = lambda request: httpx.Response(
        200, json=token_response(tokens.access_token(), None, refresh_token="rt-1-new")
    )
    recent = tokens.access_token(exp=int(time.time()) - 60)
    response = client_with(recent, tokens.refresh_cookie("rt-1")).get("/")
    assert fake_issuer.paths.count("/token") == 1
    # The new refresh cookie is sealed to the same subject.
    binding = open_(response.cookies["osapp_rt"].value)
    assert binding is not None and binding.subject == "42" and binding.refresh_token == "rt-1-new"


@pytest.mark.parametrize(
    "status, body, setting",
    [(401, {"error": "invalid_client"}, "OSAPP_CLIENT_SECRET"),
     (400, {"error": "unauthorized_client"}, "OSAPP_CLIENT_ID"),
     (404, "<html>Not Found</html>", "OSAPP_ISSUER")],
    ids=["invalid_client", "unauthorized_client", "non_oauth_404"],
)
def test_a_settings_fault_at_the_token_endpoint_keeps_the_session(fake_issuer, status, body, setting, caplog):
    def token_endpoint(request):
        if isinstance(body, dict):
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})

    fake_issuer.token_endpoint = token_endpoint
    near_expiry = tokens.access_token(exp=int(time.time()) + 30)
    response = client_with(near_expiry, tokens.refresh_cookie("rt-1")).get("/")
    assert response.status_code == 200 and "Test User" in response.content.decode()
    assert "osapp_rt" not in response.cookies  # the refresh cookie is kept, not cleared
    assert 'data-testid="session-notice"' in response.content.decode()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and setting in errors[0].getMessage()
    ready = Client().get("/readyz")
    assert ready.status_code == 503
    assert setting in json.loads(ready.content)["checks"]["issuer"]
