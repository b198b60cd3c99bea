"""Live project streams over real WebSockets on real gunicorn workers, and project creation."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.browser import csrf_token, new_browser, sign_in
from tests.support.concurrent import access_exp, session_cookies, sleep_until
from tests.support.sockets import close_code, holding_pid, next_message, open_socket

pytestmark = pytest.mark.integration

PROJECT_WS = "/ws/o/globex/p/billing/"


def bob_cookies(app_url: str) -> dict[str, str]:
    with new_browser() as browser:
        sign_in(browser, app_url, "bob", "bob-pass")
        return session_cookies(browser)


def test_socket_with_expired_token_closes_4401_without_issuer_call(start_system):
    # 3 s tokens (the first page after sign-in renews them: they are inside the 60 s skew).
    system = start_system(access_token_ttl=3, workers=2, env={"OSAPP_CLOCK_LEEWAY": "0"})
    cookies = bob_cookies(system.app.url)
    sleep_until(access_exp(cookies) + 0.5)
    before = len(system.issuer.requests())
    with open_socket(system.app.url, PROJECT_WS, cookies) as ws:
        code = close_code(ws)
    print(f"\nexpired token socket: close code={code}, issuer calls={len(system.issuer.requests()) - before}")
    assert code == 4401
    assert system.issuer.requests()[before:] == []


def test_socket_inside_refresh_window_connects_without_issuer_call_and_expiry_closes_4401(start_system):
    # Sign-in tokens of 10 s renewed in their last 8 s: inside the window two seconds in.
    system = start_system(access_token_ttl=600, sign_in_ttl=10, workers=2,
                          env={"OSAPP_REFRESH_SKEW": "8", "OSAPP_CLOCK_LEEWAY": "0"})
    cookies = bob_cookies(system.app.url)
    sleep_until(access_exp(cookies) - 8 + 0.2)
    assert access_exp(cookies) - time.time() > 4, "the socket must open on a still-valid token"
    before = len(system.issuer.requests())
    with open_socket(system.app.url, PROJECT_WS, cookies) as ws:
        # Still open (a refused socket would close at once) and no refresh was attempted.
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2)
        assert system.issuer.requests()[before:] == []
        # At the token's exp the server says why and closes with 4401.
        message = next_message(ws, timeout=15)
        assert message == {"type": "error", "error": "tokenExpired"}
        assert close_code(ws) == 4401
    assert system.issuer.requests()[before:] == []


def test_foreign_project_socket_closes_4403(osapp):
    with new_browser() as browser:
        sign_in(browser, osapp.url, "alice", "alice-pass")
        cookies = session_cookies(browser)
    with open_socket(osapp.url, PROJECT_WS, cookies) as ws:
        assert close_code(ws) == 4403


def test_socket_opened_from_a_foreign_origin_is_refused(osapp):
    with new_browser() as browser:
        sign_in(browser, osapp.url, "bob", "bob-pass")
        cookies = session_cookies(browser)
    port = int(osapp.url.rsplit(":", 1)[1])
    # Another site, and another port or scheme on our own host (another service there).
    for origin in ("https://evil.example", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}"):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(osapp.url, PROJECT_WS, cookies, origin=origin)
        assert refused.value.response.status_code == 403, origin
    with open_socket(osapp.url, PROJECT_WS, cookies) as ws:  # our own origin still opens it
        ws.send('{"type": "ping"}')


@pytest.mark.parametrize("broker", ["database-tailer", "channels-redis"])
def test_event_appended_through_one_worker_reaches_sockets_on_every_worker(start_system, broker, request):
    env = {}
    if broker == "channels-redis":
        env = {"OSAPP_REDIS_URL": request.getfixturevalue("redis_url")}
    system = start_system(access_token_ttl=600, workers=2, env=env)
    app = system.app
    cookies = bob_cookies(app.url)
    workers = app.worker_pids()
    holders = {}
    sockets = ExitStack()
    # The kernel gives each new connection to whichever worker accepts first; a busy 2-core
    # machine can favour one for a while. Open sockets until both workers hold one (bounded
    # by time, not by a count), closing the ones that land where we already have one.
    deadline = time.monotonic() + 60
    attempts = 0
    while len(holders) < 2 and time.monotonic() < deadline:
        attempts += 1
        ws = open_socket(app.url, PROJECT_WS, cookies)
        pid = holding_pid(ws, app.port, workers)
        if pid is None or pid in holders:
            with ws:  # closes it
                continue
        holders[pid] = sockets.enter_context(ws)
    assert len(holders) >= 2, f"sockets all on one worker after {attempts} attempts: {holders.keys()}"
    with sockets, new_browser() as browser:
        sign_in(browser, app.url, "carol", "carol-pass")
        appended = browser.post(app.url + "/o/globex/p/billing/", data={
            "csrfmiddlewaretoken": csrf_token(browser), "body": f"deploy via {broker}"},
            headers={"Referer": app.url + "/o/globex/p/billing/"})
        assert appended.status_code == 200
        received = {pid: next_message(ws, timeout=10) for pid, ws in holders.items()}
    print(f"\n{broker}: sockets on workers {sorted(holders)}; each received: "
          f"{[m['event']['body'] for m in received.values()]}")
    for message in received.values():
        assert message["type"] == "event" and message["event"]["body"] == f"deploy via {broker}"
        assert message["event"]["author"]["name"] == "Carol Chen"


def test_user_in_two_orgs_creates_a_project_in_the_second_and_lands_on_it(start_system):
    system = start_system(access_token_ttl=600, workers=2)
    app = system.app
    with new_browser() as browser:
        sign_in(browser, app.url, "bob", "bob-pass")
        form = browser.get(app.url + "/projects/new")
        assert 'name="org"' in form.text and "Acme Corp" in form.text and "Globex Corporation" in form.text
        grants_before = system.refresh_grants()
        logins_before = sum(1 for r in system.issuer.requests() if r["path"].startswith("/accounts/login"))
        landed = browser.post(app.url + "/projects/new", data={
            "csrfmiddlewaretoken": csrf_token(browser), "org": "globex", "name": "Moon Base"},
            headers={"Referer": app.url + "/projects/new"})
        print(f"\ncreate project: landed on {landed.url} ({landed.status_code}), "
              f"refresh grants={system.refresh_grants() - grants_before}")
        assert landed.status_code == 200
        assert str(landed.url) == app.url + "/o/globex/p/moon-base/"
        assert "Moon Base" in landed.text
        home = browser.get(app.url + "/")
        assert "/o/globex/p/moon-base/" in home.text
        assert system.refresh_grants() - grants_before == 1
        assert sum(1 for r in system.issuer.requests() if r["path"].startswith("/accounts/login")) == logins_before

        # A member (not owner/admin) of acme is refused with a clear message, nothing created.
        refused = browser.post(app.url + "/projects/new", data={
            "csrfmiddlewaretoken": csrf_token(browser), "org": "acme", "name": "Sneaky"},
            headers={"Referer": app.url + "/projects/new"})
        assert refused.status_code == 400 and "cannot create projects in Acme Corp" in refused.text
