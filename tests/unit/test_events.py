"""The project event stream on pages: append (PRG), validation, pagination, append-only."""

from __future__ import annotations

import pytest
from django.test import Client

from osapp.claims.websocket import cookies_from_scope
from osapp.workspace.models import Event
from tests.support import tokens
from tests.support.clients import cookie_client

pytestmark = [pytest.mark.usefixtures("claims_env"), pytest.mark.django_db]

PAGE = "/o/acme/p/website/"


def member() -> Client:
    client = cookie_client(tokens.access_token())
    return client


def test_member_appends_an_event_and_is_redirected_to_the_page():
    client = member()
    response = client.post(PAGE, {"body": "  shipped v2  "})
    assert response.status_code == 302 and response["Location"] == PAGE
    event = Event.objects.get()
    assert (event.body, event.author_name, event.project_id) == ("shipped v2", "Test User", "10")
    assert "shipped v2" in client.get(PAGE).content.decode()


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_invalid_event_is_a_400_with_the_draft_kept(body):
    response = member().post(PAGE, {"body": body})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert Event.objects.count() == 0


def test_non_member_cannot_append_to_a_real_project_of_another_org():
    assert member().post("/o/initech/p/tps-reports/", {"body": "hi"}).status_code == 404
    assert Event.objects.count() == 0


def test_events_page_newest_first_with_older_pages():
    for n in range(30):
        Event.objects.create(project_id="10", org_id="1", author_id="42", author_name="T", body=f"event {n}")
    first = member().get(PAGE).content.decode()
    assert "event 29" in first and "event 5" in first and "event 4" not in first
    older_link = first.split('href="?before=')[1].split('"')[0]
    older = member().get(f"{PAGE}?before={older_link}").content.decode()
    assert "event 4" in older and "event 0" in older and "event 5" not in older


def test_events_are_append_only():
    event = Event.objects.create(project_id="10", org_id="1", author_id="42", author_name="T", body="x")
    event.body = "changed"
    with pytest.raises(ValueError):
        event.save()


def test_websocket_cookies_are_joined_across_split_headers():
    scope = {"headers": [(b"cookie", b"a=1; osapp_at=tok"), (b"Cookie", b"osapp_rt=r; bad cookie; z=2")]}
    cookies = cookies_from_scope(scope)
    assert {k: cookies[k] for k in ("a", "osapp_at", "osapp_rt", "z")} == {"a": "1", "osapp_at": "tok", "osapp_rt": "r", "z": "2"}
    # exactly what a page sees for the same header (Django's parser: "bad cookie" has no name)
    from django.test import RequestFactory

    assert cookies == RequestFactory().get("/", headers={"Cookie": "a=1; osapp_at=tok; osapp_rt=r; bad cookie; z=2"}).COOKIES
