"""The JSON API: one Principal from the cookie or a bearer token, the pages' 404 rule, one error shape."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client

from osapp.workspace.models import Event
from tests.support import tokens
from tests.support.clients import cookie_client

pytestmark = pytest.mark.usefixtures("claims_env")

EVENTS = "/api/orgs/acme/projects/website/events"


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def add_events(count: int, project_id: str = "10") -> list[int]:
    return [
        Event.objects.create(
            project_id=project_id,
            org_id="1",
            author_id="42",
            author_name="Test User",
            body=f"event {n}",
        ).pk
        for n in range(count)
    ]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert set(response.json()) == {"error"} and set(error) == {"code", "message"}


def test_openapi_lists_every_endpoint_with_both_security_schemes():
    document = Client().get("/api/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("GET", "/api/me"),
        ("GET", "/api/orgs"),
        ("GET", "/api/orgs/{org}/projects"),
        ("GET", "/api/orgs/{org}/projects/{project}"),
        ("GET", "/api/orgs/{org}/projects/{project}/events"),
        ("POST", "/api/orgs/{org}/projects/{project}/events"),
    }
    for operation in operations.values():
        assert operation["security"] == [{"CookieSession": []}, {"BearerToken": []}]
        assert "401" in operation["responses"]
    schemes = document["components"]["securitySchemes"]
    assert (
        schemes["CookieSession"]["type"] == "apiKey" and schemes["CookieSession"]["in"] == "cookie"
    )
    assert "X-CSRFToken" in schemes["CookieSession"]["description"]
    assert schemes["BearerToken"] == {**schemes["BearerToken"], "type": "http", "scheme": "bearer"}


def test_me_is_the_same_over_bearer_and_cookie():
    token = tokens.access_token()
    by_bearer = Client().get("/api/me", headers=bearer(token))
    by_cookie = cookie_client(token).get("/api/me")
    assert by_bearer.status_code == by_cookie.status_code == 200
    assert by_bearer.json() == by_cookie.json()
    me = by_bearer.json()
    assert me["id"] == "42" and me["name"] == "Test User" and me["email"] == "test@example.test"
    assert me["orgs"] == tokens.ORGS
    assert isinstance(me["expires_at"], int)


@pytest.mark.django_db
def test_events_list_is_the_same_over_bearer_and_cookie():
    add_events(3)
    token = tokens.access_token()
    by_bearer = Client().get(EVENTS, headers=bearer(token))
    by_cookie = cookie_client(token).get(EVENTS)
    assert by_bearer.status_code == by_cookie.status_code == 200
    assert by_bearer.json() == by_cookie.json()
    assert [e["body"] for e in by_bearer.json()["events"]] == ["event 2", "event 1", "event 0"]
    assert by_bearer.json()["next_before"] is None


def test_orgs_and_projects_come_from_the_claims():
    client = cookie_client(tokens.access_token())
    assert client.get("/api/orgs").json() == tokens.ORGS
    assert client.get("/api/orgs/acme/projects").json() == [tokens.PROJECTS[0]]
    assert client.get("/api/orgs/globex/projects/billing").json() == tokens.PROJECTS[1]


@pytest.mark.django_db
def test_cookie_post_without_csrf_token_is_refused():
    client = cookie_client(tokens.access_token(), enforce_csrf_checks=True)
    response = client.post(EVENTS, {"body": "hello"}, content_type="application/json")
    assert_error(response, 403, "csrf_failed")
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_cookie_post_with_csrf_token_appends_the_event():
    client = cookie_client(tokens.access_token(), enforce_csrf_checks=True)
    client.get("/api/docs")  # a page that hands out the CSRF cookie, as the browser would load
    csrf_token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        EVENTS,
        {"body": "  hello  "},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert response.status_code == 201
    event = response.json()
    assert event["body"] == "hello" and event["project_id"] == "10"
    assert event["author"] == {"id": "42", "name": "Test User"}
    assert Event.objects.get().as_dict() == event


@pytest.mark.django_db
def test_bearer_post_needs_no_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        EVENTS,
        {"body": "from a script"},
        content_type="application/json",
        headers=bearer(tokens.access_token()),
    )
    assert response.status_code == 201
    assert response.json()["body"] == "from a script"


def test_no_credentials_is_401_in_the_error_shape():
    response = Client().get("/api/me")
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda: tokens.access_token(iat=int(time.time()) - 900, exp=int(time.time()) - 300),
            id="expired",
        ),
        pytest.param(
            lambda: tokens.sign(tokens.access_claims(), key="other", kid="kid-main"), id="forged"
        ),
        pytest.param(lambda: tokens.access_token(aud="not-osapp"), id="wrong-audience"),
        pytest.param(lambda: "garbage", id="garbage"),
    ],
)
def test_expired_or_untrusted_bearer_is_401(token):
    response = Client().get("/api/me", headers=bearer(token()))
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_expired_cookie_is_401_not_a_redirect():
    expired = tokens.access_token(iat=int(time.time()) - 900, exp=int(time.time()) - 300)
    assert_error(cookie_client(expired).get("/api/me"), 401, "unauthorized")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/orgs/acme/projects/billing/events",  # a project of another org the user is in
        "/api/orgs/globex/projects/website/events",
        "/api/orgs/initech/projects/website/events",  # an org not in the claims
        "/api/orgs/acme/projects/nope/events",
        "/api/orgs/initech/projects",
        "/api/orgs/acme/projects/nope",
    ],
)
def test_anything_not_in_the_claims_is_a_404(path):
    add_events(1, project_id="20")  # billing exists and has events; the URL still does not grant it
    assert_error(cookie_client(tokens.access_token()).get(path), 404, "not_found")


@pytest.mark.django_db
def test_posting_to_a_project_not_in_the_claims_is_a_404():
    response = Client().post(
        "/api/orgs/initech/projects/website/events",
        {"body": "hello"},
        content_type="application/json",
        headers=bearer(tokens.access_token()),
    )
    assert_error(response, 404, "not_found")
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_events_page_back_with_next_before():
    ids = add_events(30)
    client = Client(headers=bearer(tokens.access_token()))
    first = client.get(EVENTS).json()
    assert [e["id"] for e in first["events"]] == ids[::-1][:25]
    assert first["next_before"] == ids[5]
    second = client.get(EVENTS, {"before": first["next_before"], "limit": 3}).json()
    assert [e["id"] for e in second["events"]] == ids[4:1:-1]
    last = client.get(EVENTS, {"before": second["next_before"]}).json()
    assert [e["id"] for e in last["events"]] == ids[1::-1]
    assert last["next_before"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 101}, {"limit": "many"}, {"before": 0}, {"before": 2**63}]
)
def test_out_of_range_paging_is_422_invalid(query):
    response = Client().get(EVENTS, query, headers=bearer(tokens.access_token()))
    assert_error(response, 422, "invalid")


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_blank_or_too_long_event_is_400_invalid(body):
    response = Client().post(
        EVENTS,
        {"body": body},
        content_type="application/json",
        headers=bearer(tokens.access_token()),
    )
    assert_error(response, 400, "invalid")
    assert not Event.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{}", '{"body": 5}', '{"body": null}'])
def test_event_json_of_the_wrong_shape_is_422_invalid(payload):
    response = Client().post(
        EVENTS, payload, content_type="application/json", headers=bearer(tokens.access_token())
    )
    assert_error(response, 422, "invalid")


def test_a_body_that_is_not_json_is_400_invalid():
    response = Client().post(
        EVENTS, "not json", content_type="application/json", headers=bearer(tokens.access_token())
    )
    assert_error(response, 400, "invalid")


def test_docs_page_renders():
    response = Client().get("/api/docs")
    assert response.status_code == 200
    assert "/api/openapi.json" in response.content.decode()
