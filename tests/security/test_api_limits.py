"""The API at its edges: hostile bodies, floods, unknown paths — always the one error shape.

Each of these was a 500 (with a traceback in the log) or an HTML page before; a client must be
able to branch on `error.code` whatever it sent.
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings as django_settings
from django.test import Client

from osapp.workspace.models import Event
from tests.security.test_web import EVENTS_API, csrf_token_of, signed_in
from tests.support import tokens

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claims_env")]


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.access_token()}"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert set(response.json()) == {"error"} and set(error) == {"code", "message"}
    return error


def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE ---------------------------------------------------------


def oversized() -> str:
    return "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)


def test_an_oversized_json_body_is_413_too_large_not_a_500(caplog):
    response = Client().post(
        EVENTS_API, f'{{"body": "{oversized()}"}}', content_type="application/json", headers=bearer()
    )
    assert_error(response, 413, "too_large")
    assert not Event.objects.exists()
    assert no_traceback_logged(caplog)


def test_an_oversized_form_post_with_the_session_cookie_is_413_too_large(caplog):
    # The cookie auth's CSRF check reads the form body first: the limit trips there.
    client = signed_in()
    response = client.post(
        EVENTS_API, f"body={oversized()}", content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": csrf_token_of(client)},
    )
    assert_error(response, 413, "too_large")
    assert no_traceback_logged(caplog)


def test_openapi_documents_413_on_the_event_append():
    document = Client().get("/api/openapi.json").json()
    append = document["paths"]["/api/orgs/{org}/projects/{project}/events"]["post"]
    assert "413" in append["responses"]


# Strings a database cannot store: NUL and lone surrogates ------------------------------------------

UNSTORABLE = {
    "nul": b'{"body": "a\\u0000b"}',
    "lone high surrogate": b'{"body": "\\ud800"}',
    "lone low surrogate": b'{"body": "x\\udc00y"}',
    "reversed pair": b'{"body": "\\ude00\\ud83d"}',
    # Raw bytes too: Python's JSON decoder passes an encoded surrogate through.
    "encoded surrogate": b'{"body": "\xed\xa0\x80"}',
}


@pytest.mark.parametrize("payload", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_a_string_with_nul_or_a_lone_surrogate_is_422_invalid_naming_the_field(payload, caplog):
    response = Client().post(EVENTS_API, payload, content_type="application/json", headers=bearer())
    error = assert_error(response, 422, "invalid")
    assert error["message"].startswith("body.payload.body: ")
    assert not Event.objects.exists()
    assert no_traceback_logged(caplog)


def test_a_surrogate_pair_is_a_character_and_is_stored():
    response = Client().post(
        EVENTS_API, b'{"body": "ship it \\ud83d\\ude80"}', content_type="application/json",
        headers=bearer(),
    )
    assert response.status_code == 201
    assert Event.objects.get().body == "ship it \N{ROCKET}"


# Unknown paths and wrong methods ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/", "/api/nope", "/api/me/", "/api/orgs/acme/projects/website/events/1"]
)
@pytest.mark.parametrize("credentials", ["none", "bearer"])
def test_an_unknown_api_path_is_404_in_the_error_shape(path, credentials):
    response = Client().get(path, headers=bearer() if credentials == "bearer" else {})
    assert_error(response, 404, "not_found")


def test_a_cookie_post_to_an_unknown_api_path_is_404_not_the_html_csrf_page():
    response = signed_in().post("/api/nope", {"body": "x"}, content_type="application/json")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "method, path, allowed",
    [("delete", "/api/me", {"GET"}), ("put", EVENTS_API, {"GET", "POST"}),
     ("patch", "/api/orgs", {"GET"})],
)
def test_a_wrong_method_is_405_in_the_error_shape_with_allow(method, path, allowed):
    response = getattr(Client(), method)(path, headers=bearer())
    assert_error(response, 405, "method_not_allowed")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed
