"""Pages authorized from claims alone, through the real middleware stack (local test key)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import tokens
from tests.support.clients import cookie_client

pytestmark = pytest.mark.usefixtures("claims_env")


def test_home_lists_organizations_by_name_and_their_projects():
    response = cookie_client(tokens.access_token()).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme Corp" in body and "Globex Corporation" in body
    assert "/o/acme/p/website/" in body and "/o/globex/p/billing/" in body
    assert "Test User" in body and "Sign out" in body


@pytest.mark.django_db
def test_organization_and_project_pages_render_from_claims():
    client = cookie_client(tokens.access_token())
    assert client.get("/o/acme/").status_code == 200
    response = client.get("/o/acme/p/website/")
    assert response.status_code == 200
    assert "Website" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/o/initech/", "/o/acme/p/billing/", "/o/globex/p/website/", "/o/acme/p/nope/"])
def test_anything_not_in_the_claims_is_a_404(path):
    assert cookie_client(tokens.access_token()).get(path).status_code == 404


def test_a_missing_token_is_anonymous_and_redirected_to_sign_in():
    # Untrusted tokens (another key, expired, another audience, garbage, …) are the hostile
    # matrix's (tests/security/test_hostile_tokens.py), on every channel.
    response = cookie_client(None).get("/o/acme/p/website/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/login?next=/o/acme/p/website/"


def test_anonymous_home_offers_sign_in():
    response = cookie_client(None).get("/")
    assert response.status_code == 200
    assert "/auth/login" in response.content.decode()


def test_session_endpoint_reports_the_principal():
    data = cookie_client(tokens.access_token()).get("/auth/session").json()
    assert data["authenticated"] is True and data["user"]["id"] == "42"
    assert cookie_client(None).get("/auth/session").json() == {"authenticated": False}


def test_logout_requires_post_with_csrf():
    client = cookie_client(tokens.access_token(), enforce_csrf_checks=True)
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 403


def test_callback_without_pending_login_is_refused_not_500():
    response = Client().get("/auth/callback?code=abc&state=xyz")
    assert response.status_code == 400
