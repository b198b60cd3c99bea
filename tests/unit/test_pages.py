"""Pages authorized from claims alone, through the real middleware stack (local test key)."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from osapp.claims.views import safe_next
from tests.support import tokens

pytestmark = pytest.mark.usefixtures("claims_env")


def client_with(access_token: str | None) -> Client:
    client = Client()
    if access_token:
        client.cookies["osapp_at"] = access_token
    return client


def test_home_lists_organizations_by_name_and_their_projects():
    response = client_with(tokens.access_token()).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme Corp" in body and "Globex Corporation" in body
    assert "/o/acme/p/website/" in body and "/o/globex/p/billing/" in body
    assert "Test User" in body and "Sign out" in body


@pytest.mark.django_db
def test_organization_and_project_pages_render_from_claims():
    client = client_with(tokens.access_token())
    assert client.get("/o/acme/").status_code == 200
    response = client.get("/o/acme/p/website/")
    assert response.status_code == 200
    assert "Website" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/o/initech/", "/o/acme/p/billing/", "/o/globex/p/website/", "/o/acme/p/nope/"])
def test_anything_not_in_the_claims_is_a_404(path):
    assert client_with(tokens.access_token()).get(path).status_code == 404


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: tokens.sign(tokens.access_claims(), key="other", kid="kid-main"), id="other-key"),
        pytest.param(lambda: tokens.access_token(iat=int(time.time()) - 900, exp=int(time.time()) - 300), id="expired"),
        pytest.param(lambda: tokens.access_token(aud="not-osapp"), id="wrong-audience"),
        pytest.param(lambda: "garbage.cookie.value", id="garbage"),
        pytest.param(lambda: None, id="absent"),
    ],
)
def test_untrusted_or_missing_token_is_anonymous_and_redirected_to_sign_in(token):
    response = client_with(token()).get("/o/acme/p/website/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/login?next=/o/acme/p/website/"


def test_anonymous_home_offers_sign_in():
    response = client_with(None).get("/")
    assert response.status_code == 200
    assert "/auth/login" in response.content.decode()


def test_session_endpoint_reports_the_principal():
    data = client_with(tokens.access_token()).get("/auth/session").json()
    assert data["authenticated"] is True and data["user"]["id"] == "42"
    assert client_with(None).get("/auth/session").json() == {"authenticated": False}


def test_logout_requires_post_with_csrf():
    client = Client(enforce_csrf_checks=True)
    client.cookies["osapp_at"] = tokens.access_token()
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 403


def test_sign_in_with_issuer_down_is_a_clear_503(settings):
    from tests.support.issuer import free_port

    settings.CLAIMS_SESSION = {
        **settings.CLAIMS_SESSION, "ISSUER": f"http://127.0.0.1:{free_port()}", "ISSUER_TIMEOUT": 2,
    }
    response = Client().get("/auth/login")
    assert response.status_code == 503
    assert "cannot be reached" in response.content.decode()


def test_callback_without_pending_login_is_refused_not_500():
    response = Client().get("/auth/callback?code=abc&state=xyz")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "candidate",
    ["https://evil.test/", "//evil.test", "/\\evil.test", "\\\\evil.test", "javascript:alert(1)",
     "http:/evil.test", "", None, "/%2F%2Fevil.test"],
)
def test_unsafe_next_falls_back_to_home(candidate):
    assert safe_next(candidate) in ("/", "/%2F%2Fevil.test")


@pytest.mark.parametrize("candidate", ["/", "/o/acme/", "/o/acme/p/website/?tab=events"])
def test_local_next_is_kept(candidate):
    assert safe_next(candidate) == candidate
