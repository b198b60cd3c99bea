"""The API at its edges: hostile bodies, floods, unknown paths — always the one error shape.

Each of these was a 500 (with a traceback in the log) or an HTML page before; a client must be
able to branch on `error.code` whatever it sent.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from osapp.workspace.models import Event
from tests.security.test_web import EVENTS_API, csrf_token_of, signed_in
from tests.support import tokens
from tests.support.redis_db import require_redis

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


# Event appends throttled per user -----------------------------------------------------------------


def append(headers: dict[str, str], client: Client | None = None):
    return (client or Client()).post(
        EVENTS_API, {"body": "flood"}, content_type="application/json", headers=headers
    )


def test_event_appends_past_the_rate_are_429_throttled_with_retry_after(settings):
    settings.OSAPP_EVENT_RATE = "3/min"
    headers = bearer()
    assert [append(headers).status_code for _ in range(3)] == [201, 201, 201]
    response = append(headers)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Event.objects.count() == 3
    # Reading is not an append; the limit is the user's own.
    assert Client().get(EVENTS_API, headers=headers).status_code == 200
    other = {"Authorization": f"Bearer {tokens.access_token(sub='43')}"}
    assert append(other).status_code == 201


def test_the_cookie_session_and_bearer_tokens_of_one_user_share_the_count(settings):
    settings.OSAPP_EVENT_RATE = "2/min"
    assert append(bearer()).status_code == 201
    assert append(bearer()).status_code == 201  # a fresh token for the same user
    client = signed_in()
    response = append({"X-CSRFToken": csrf_token_of(client)}, client)
    assert_error(response, 429, "throttled")


def test_openapi_documents_429_on_the_event_append():
    document = Client().get("/api/openapi.json").json()
    append_operation = document["paths"]["/api/orgs/{org}/projects/{project}/events"]["post"]
    assert "429" in append_operation["responses"]


@pytest.mark.parametrize("rate", ["60/min", "100/5m", "10/s"])
def test_a_valid_event_rate_passes_the_checks(rate, settings):
    from osapp.workspace.checks import check_event_rate

    settings.OSAPP_EVENT_RATE = rate
    assert check_event_rate() == []


@pytest.mark.parametrize("rate", ["lots", "0/min", "60/", "-1/min", "60/0"])
def test_a_bad_event_rate_fails_the_checks_naming_the_variable(rate, settings):
    from osapp.workspace.checks import check_event_rate

    settings.OSAPP_EVENT_RATE = rate
    [error] = check_event_rate()
    assert error.id == "osapp.E010" and "OSAPP_EVENT_RATE" in error.msg


def test_a_cache_outage_lets_appends_through_and_says_so(settings, monkeypatch, caplog):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    settings.OSAPP_EVENT_RATE = "1/min"
    monkeypatch.setattr(cache, "get", down)
    assert [append(bearer()).status_code for _ in range(2)] == [201, 201]
    assert any("event throttle unavailable" in r.getMessage() for r in caplog.records)


WORKER_PROBE = """
import django; django.setup()
from types import SimpleNamespace
from django.conf import settings
from osapp.claims.principal import Principal
from osapp.workspace.throttling import EventAppendThrottle
principal = Principal(user_id={user!r}, name="", email="", orgs=(), projects=(),
                      scopes=frozenset(), expires_at=0)
print(settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
      EventAppendThrottle().allow_request(SimpleNamespace(auth=principal)))
"""


def test_with_redis_the_count_is_shared_by_every_worker(tmp_path):
    # Each append in its own interpreter, as gunicorn's workers are: one count through Redis.
    url = require_redis(os.environ.get("OSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), flush=False)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "osapp.settings", "OSAPP_REDIS_URL": url,
           "OSAPP_EVENT_RATE": "2/min", "SECRET_KEY": "probe", "OSAPP_STATE_DIR": str(tmp_path)}
    probe = WORKER_PROBE.format(user=f"probe-{uuid.uuid4()}")
    answers = [
        subprocess.run([sys.executable, "-c", probe], env=env, cwd=Path(__file__).parents[2],
                       capture_output=True, text=True, check=True).stdout.split()
        for _ in range(3)
    ]
    assert answers == [["RedisCache", "True"], ["RedisCache", "True"], ["RedisCache", "False"]]


def test_every_api_request_body_derives_from_input():
    # The NUL/surrogate check lives on `Input`: a body schema that skipped it would skip the check.
    from osapp.workspace.api import Input, api

    bodies = [
        field.annotation
        for path_view in api.default_router.path_operations.values()
        for operation in path_view.operations
        for model in operation.models
        if model.__ninja_param_source__ == "body"
        for field in model.model_fields.values()
    ]
    assert bodies, "no request bodies found: has ninja's layout changed?"
    assert all(isinstance(body, type) and issubclass(body, Input) for body in bodies), bodies
