"""`POST /auth/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0, DESIGN §12).

A valid Logout Token ends its session on pages (anonymous, cookies cleared), the API (401)
and sockets (4401) at once, and its refresh token is never presented; everything the spec
refuses is a 400 with a JSON error and leaves the session signed in. Logout tokens are signed
with the local test key; the issuer that would send them is the fake one.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from django.test import Client

from osapp.claims import get_runtime
from osapp.claims.revocation import FileRevocationLog, Revocation, RevocationSet, Scope
from tests.support import tokens
from tests.support.clients import cookie_client

EVENT = "http://schemas.openid.net/event/backchannel-logout"
PAGE = "/o/acme/"  # an organization page: claims only, no database
URL = "/auth/backchannel-logout"


def logout_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tokens.ISSUER,
        "aud": tokens.CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
        "sid": "sid-1",
        "sub": "42",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not tokens.DROP}


def logout_token(key: str = "main", typ: str = "logout+jwt", **overrides: Any) -> str:
    return tokens.sign(logout_claims(**overrides), key=key, typ=typ)


def post(token: str | None, *, content_type: str = "application/x-www-form-urlencoded", body: str | None = None):
    data = body if body is not None else ("" if token is None else f"logout_token={token}")
    return Client().post(URL, data=data, content_type=content_type)


def session_token(**overrides: Any) -> str:
    # Issued a second ago: a logout accepted now refuses it (iat < not_before).
    return tokens.access_token(**{"sid": "sid-1", "iat": int(time.time()) - 1, **overrides})


def signed_in(client: Client) -> bool:
    return client.get(PAGE).status_code == 200


def test_a_logout_token_ends_its_session_on_pages_api_and_refresh(fake_issuer, caplog):
    fake_issuer.token_endpoint = lambda request: pytest.fail("a revoked session must never refresh")
    access = session_token()
    other_session = tokens.access_token(sid="sid-2", iat=int(time.time()) - 1)
    browser = cookie_client(access, refresh_cookie=tokens.refresh_cookie("rt-1", sid="sid-1"))
    assert signed_in(browser) and signed_in(cookie_client(other_session))

    answer = post(logout_token())
    assert (answer.status_code, answer.json()) == (200, {})
    assert answer["Cache-Control"].startswith("max-age=0") or "no-store" in answer["Cache-Control"]

    page = browser.get(PAGE)
    assert page.status_code == 302 and page["Location"].startswith("/auth/login")
    assert page.cookies["osapp_at"].value == "" and page.cookies["osapp_rt"].value == ""
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    # An expired token of the session would have renewed: a revoked one never does.
    expired = tokens.access_token(sid="sid-1", iat=int(time.time()) - 900, exp=int(time.time()) - 60)
    assert cookie_client(expired, refresh_cookie=tokens.refresh_cookie("rt-1", sid="sid-1")).get(PAGE).status_code == 302
    assert "/token" not in fake_issuer.paths
    # Another session of the same user, and a token issued after the logout, stay signed in.
    assert signed_in(cookie_client(other_session))
    assert signed_in(cookie_client(tokens.access_token(sid="sid-1", iat=int(time.time()) + 1)))


def test_a_logout_token_without_sid_ends_every_session_of_the_user(fake_issuer):
    first, second = session_token(), tokens.access_token(sid="sid-9", iat=int(time.time()) - 1)
    stranger = tokens.access_token(sub="43", iat=int(time.time()) - 1)
    assert post(logout_token(sid=tokens.DROP)).status_code == 200
    assert not signed_in(cookie_client(first)) and not signed_in(cookie_client(second))
    assert signed_in(cookie_client(stranger))


def test_a_replayed_logout_token_is_refused(fake_issuer):
    token = logout_token()
    assert post(token).status_code == 200
    again = post(token)
    assert again.status_code == 400 and "jti" in again.json()["error_description"]


HOSTILE = [
    pytest.param(lambda: logout_token(key="other"), id="foreign-key"),
    pytest.param(lambda: logout_token(nonce="n-1"), id="with-nonce"),
    pytest.param(lambda: logout_token(events=tokens.DROP), id="without-events"),
    pytest.param(lambda: logout_token(events={"http://example.com/other": {}}), id="other-event"),
    pytest.param(lambda: logout_token(events={EVENT: "yes"}), id="event-not-an-object"),
    pytest.param(lambda: logout_token(aud="someone-else"), id="wrong-aud"),
    pytest.param(lambda: logout_token(iss="https://evil.test"), id="wrong-iss"),
    pytest.param(lambda: logout_token(iat=int(time.time()) - 3600, exp=int(time.time()) + 60), id="stale-iat"),
    pytest.param(lambda: logout_token(exp=int(time.time()) - 30), id="expired"),
    pytest.param(lambda: logout_token(jti=tokens.DROP), id="without-jti"),
    pytest.param(lambda: logout_token(sid=tokens.DROP, sub=tokens.DROP), id="neither-sid-nor-sub"),
    pytest.param(lambda: logout_token(sid=7), id="sid-not-a-string"),
    pytest.param(lambda: logout_token(typ="at+jwt"), id="typed-as-access-token"),
    pytest.param(lambda: tokens.access_token(sid="sid-1"), id="an-access-token"),
    pytest.param(lambda: tokens.sign(tokens.access_claims(sid="sid-1", nonce="n", aud=tokens.CLIENT_ID), typ="JWT"),
                 id="an-id-token"),
    pytest.param(lambda: "garbage", id="garbage"),
    pytest.param(lambda: "", id="empty"),
    pytest.param(lambda: "a" * (1024 * 1024), id="one-megabyte"),
]


@pytest.mark.parametrize("make", HOSTILE)
def test_what_the_spec_refuses_is_a_400_and_the_session_stays(make, fake_issuer):
    browser = cookie_client(session_token())
    answer = post(make())
    assert answer.status_code == 400, answer.content[:200]
    assert answer.json()["error"] == "invalid_request"
    assert signed_in(browser)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", json.dumps({"logout_token": "x"})), ("text/plain", "logout_token=x"),
     ("application/x-www-form-urlencoded", "")],
    ids=["json", "text", "no-field"],
)
def test_a_wrong_body_is_a_400(fake_issuer, content_type, body):
    answer = post(None, content_type=content_type, body=body)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_only_post(fake_issuer):
    assert Client().get(URL).status_code == 405


def test_an_open_socket_of_the_revoked_session_is_closed_4401(fake_issuer):
    from asgiref.testing import ApplicationCommunicator

    from osapp.asgi import application

    async def scenario() -> tuple[Any, Any]:
        scope = {
            "type": "websocket", "path": "/ws/o/acme/p/website/", "query_string": b"", "subprotocols": [],
            "headers": [(b"host", b"localhost"), (b"origin", b"http://localhost"),
                        (b"cookie", f"osapp_at={session_token()}".encode())],
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.accept"
        answer = await asyncio.to_thread(post, logout_token())
        assert answer.status_code == 200
        message = await communicator.receive_output(timeout=5)
        closed = await communicator.receive_output(timeout=5)
        await communicator.send_input({"type": "websocket.disconnect", "code": 4401})
        await communicator.wait(timeout=5)
        return message, closed

    message, closed = asyncio.run(scenario())
    assert json.loads(message["text"]) == {"type": "error", "error": "sessionRevoked"}
    assert closed == {"type": "websocket.close", "code": 4401}


def test_the_file_log_reaches_another_process_reader(tmp_path):
    # Two runtimes' worth of readers on one log: what one publishes, the other applies.
    log = FileRevocationLog(tmp_path / "revocations.log", poll_seconds=0.01)
    reader = FileRevocationLog(tmp_path / "revocations.log", poll_seconds=0.01)
    live = RevocationSet()
    reader.start(live)
    now = time.time()
    log.publish(Revocation(Scope.SESSION, "sid-1", now, now + 60))
    deadline = time.monotonic() + 5
    while not live.revoked("42", "sid-1", now - 1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.revoked("42", "sid-1", now - 1)
    assert not live.revoked("42", "sid-1", now + 1)  # issued after the revocation
    assert not live.revoked("42", "sid-2", now - 1)


def test_the_revocation_set_check_is_empty_fast_and_expires():
    clock = [1000.0]
    live = RevocationSet(clock=lambda: clock[0])
    assert not live.revoked("42", "sid-1", 10)
    live.apply([Revocation(Scope.USER, "42", 1000.0, 1100.0)])
    assert live.revoked("42", None, 999) and not live.revoked("43", None, 999)
    clock[0] = 1101.0
    assert not live.revoked("42", None, 999)


def test_readiness_reports_the_revocation_log(fake_issuer):
    from osapp.claims import readiness

    assert readiness()["revocations"].startswith("ok (file, 0 live)")
    assert post(logout_token()).status_code == 200
    assert readiness()["revocations"].startswith("ok (file, 1 live)")
    assert get_runtime().revocations.revoked("42", "sid-1", time.time() - 5)



# -- Shared Signals push: POST /auth/security-events (RFC 8417 / 8935, CAEP) ---------------------

SETS_URL = "/auth/security-events"
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"


def security_event(event: str = SESSION_REVOKED, subject: dict | None = None, *, key: str = "main",
                   typ: str = "secevent+jwt", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tokens.ISSUER, "aud": tokens.CLIENT_ID, "iat": now, "jti": uuid.uuid4().hex,
        "sub_id": subject or {"format": "opaque", "id": "sid-1"},
        "events": {event: {"event_timestamp": now}},
    }
    claims.update(overrides)
    return tokens.sign({k: v for k, v in claims.items() if v is not tokens.DROP}, key=key, typ=typ)


def push(body: str, content_type: str = "application/secevent+jwt"):
    return Client().post(SETS_URL, data=body, content_type=content_type)


def test_session_revoked_by_sid_or_by_user_is_accepted_202_and_applied(fake_issuer):
    browser, other = cookie_client(session_token()), cookie_client(tokens.access_token(sid="sid-2", iat=int(time.time()) - 1))
    assert signed_in(browser) and signed_in(other)
    answer = push(security_event())
    assert (answer.status_code, answer.json()) == (202, {})
    assert not signed_in(browser) and signed_in(other)
    by_user = security_event(subject={"format": "iss_sub", "iss": tokens.ISSUER, "sub": "42"})
    assert push(by_user).status_code == 202
    assert not signed_in(other)


def test_a_claims_change_renews_the_next_request_once_though_the_token_is_fresh(fake_issuer):
    issued: list[str] = []

    def token_endpoint(request):
        import httpx

        issued.append(tokens.access_token(sid="sid-1", name="Renamed User"))
        return httpx.Response(200, json={"access_token": issued[-1], "token_type": "Bearer",
                                         "refresh_token": f"rt-{len(issued) + 1}", "expires_in": 600})

    fake_issuer.token_endpoint = token_endpoint
    browser = cookie_client(session_token(), refresh_cookie=tokens.refresh_cookie("rt-1", sid="sid-1"))
    assert "Test User" in browser.get(PAGE).content.decode() and issued == []
    change = security_event(CLAIMS_CHANGE, {"format": "iss_sub", "iss": tokens.ISSUER, "sub": "42"})
    assert push(change).status_code == 202
    renewed = browser.get(PAGE)
    assert "Renamed User" in renewed.content.decode()
    assert len(issued) == 1 and renewed.cookies["osapp_at"].value == issued[0]
    assert "Renamed User" in browser.get(PAGE).content.decode() and len(issued) == 1  # once


SET_HOSTILE = [
    pytest.param(lambda: security_event(key="other"), "invalid_key", id="foreign-key"),
    pytest.param(lambda: security_event(aud="someone-else"), "invalid_audience", id="wrong-aud"),
    pytest.param(lambda: security_event(iss="https://evil.test"), "invalid_issuer", id="wrong-iss"),
    pytest.param(lambda: security_event(typ="JWT"), "invalid_request", id="untyped"),
    pytest.param(lambda: security_event(iat=int(time.time()) - 3600), "invalid_request", id="stale-iat"),
    pytest.param(lambda: security_event(jti=tokens.DROP), "invalid_request", id="without-jti"),
    pytest.param(lambda: security_event(events=tokens.DROP), "invalid_request", id="without-events"),
    pytest.param(lambda: security_event(subject={"format": "email", "email": "a@b.c"}), "invalid_request",
                 id="unknown-subject-format"),
    pytest.param(lambda: security_event(subject={"format": "iss_sub", "iss": "https://evil.test", "sub": "42"}),
                 "invalid_request", id="subject-of-another-issuer"),
    pytest.param(lambda: security_event(CLAIMS_CHANGE), "invalid_request", id="claims-change-of-a-session"),
    pytest.param(lambda: logout_token(), "invalid_request", id="a-logout-token"),
    pytest.param(lambda: tokens.access_token(sid="sid-1"), "invalid_request", id="an-access-token"),
    pytest.param(lambda: "garbage", "invalid_request", id="garbage"),
    pytest.param(lambda: "a" * (1024 * 1024), "invalid_request", id="one-megabyte"),
]


@pytest.mark.parametrize(("make", "err"), SET_HOSTILE)
def test_a_set_the_receiver_refuses_is_a_400_with_its_rfc8935_code_and_the_session_stays(make, err, fake_issuer):
    browser = cookie_client(session_token())
    answer = push(make())
    assert answer.status_code == 400, answer.content[:200]
    assert answer.json()["err"] == err and answer.json()["description"]
    assert signed_in(browser)


def test_a_replayed_set_or_a_wrong_content_type_is_a_400(fake_issuer):
    event = security_event()
    assert push(event).status_code == 202
    assert push(event).json()["err"] == "invalid_request"
    assert push(security_event(), content_type="application/jwt").status_code == 400
    assert push("").status_code == 400


def test_events_the_receiver_does_not_act_on_are_acknowledged_and_change_nothing(fake_issuer):
    browser = cookie_client(session_token())
    other = security_event("https://schemas.openid.net/secevent/caep/event-type/credential-change")
    assert push(other).status_code == 202
    assert signed_in(browser)


def test_a_worker_starting_after_a_revocation_refuses_the_token_on_its_first_request(fake_issuer):
    # A gunicorn worker builds its runtime on its first request: the log is read before that
    # request's token is verified, not a poll later.
    assert post(logout_token()).status_code == 200
    fake_issuer.attach()  # a fresh runtime, as a worker that has served nothing yet
    assert len(get_runtime().revocations) == 1
    assert not signed_in(cookie_client(session_token(iat=int(time.time()) - 5)))


def test_a_delivery_that_could_not_be_stored_is_a_503_and_its_retry_applies(fake_issuer, tmp_path):
    log = get_runtime().revocation_log
    stored_at = log.path
    (tmp_path / "not-a-dir").write_text("")
    log.path = tmp_path / "not-a-dir" / "revocations.log"  # unwritable: the state dir is broken
    token = logout_token()
    browser = cookie_client(session_token())
    failed = post(token)
    assert failed.status_code == 503 and failed.json()["error"] == "temporarily_unavailable"
    assert signed_in(browser)
    log.path = stored_at  # fixed: the transmitter's retry of the same token is applied
    assert post(token).status_code == 200
    assert not signed_in(browser)


def test_signing_out_here_revokes_the_token_for_every_tab_and_worker(fake_issuer):
    # Tabs share the browser's cookies: one tab's sign-out must end the others' sessions and
    # sockets too, not only clear the cookies of the tab that signed out.
    token = tokens.access_token(jti="tab-token")
    tab = cookie_client(token)
    assert signed_in(tab)
    assert cookie_client(token).post("/auth/logout").status_code == 302  # (no CSRF enforced here)
    assert not signed_in(tab)
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert signed_in(cookie_client(tokens.access_token(jti="another-token")))  # another device


def test_a_claims_change_dated_in_the_future_counts_from_the_events_own_issue(fake_issuer):
    now = int(time.time())
    change = tokens.sign({
        "iss": tokens.ISSUER, "aud": tokens.CLIENT_ID, "iat": now, "jti": uuid.uuid4().hex,
        "sub_id": {"format": "iss_sub", "iss": tokens.ISSUER, "sub": "42"},
        "events": {CLAIMS_CHANGE: {"event_timestamp": now + 3600}},
    }, typ="secevent+jwt")
    assert push(change).status_code == 202
    revocations = get_runtime().revocations
    assert revocations.claims_stale("42", now - 1)
    assert not revocations.claims_stale("42", now + 1)  # a token renewed after it is fresh
