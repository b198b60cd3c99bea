"""Pushed revocations and claim changes through the real development issuer and real gunicorn
workers (DESIGN §12): "sign out of all devices" at the issuer makes the user anonymous on every
worker (and, on Redis, every instance) within 2 s, closes their socket 4401, affects nobody
else and is followed by no refresh; a project created at the issuer reaches the next page
loads through one refresh.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.browser import csrf_token, new_browser, sign_in
from tests.support.concurrent import access_claims, fire, metric, session_cookies, sleep_until
from tests.support.osapp_server import manage
from tests.support.sockets import next_message, open_socket

pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

PAGE = "/o/acme/"
SOCKET = "/ws/o/globex/p/billing/"
BOUND_SECONDS = 2.0


def signed_in_cookies(app_url: str, user: str, password: str) -> dict[str, str]:
    with new_browser() as browser:
        sign_in(browser, app_url, user, password)
        return session_cookies(browser)


def until_all_anonymous(urls: list[str], cookies: dict[str, str], since: float) -> tuple[float, float]:
    """Fire the URLs (one new connection each) until every answer is anonymous; the seconds
    from `since` to the first and to the last rejection."""
    first = None
    deadline = since + 10
    while time.monotonic() < deadline:
        answers = fire(urls, cookies)
        anonymous = [a.status == 302 and (a.location or "").startswith("/auth/login") for a in answers]
        now = time.monotonic() - since
        if any(anonymous) and first is None:
            first = now
        if all(anonymous):
            return first if first is not None else now, now
    pytest.fail("the revoked session was still served after 10 s")


def test_a_logout_pushed_to_one_worker_ends_the_session_on_every_worker_within_2_s(start_system):
    system = start_system(access_token_ttl=600, workers=4)
    app, issuer = system.app, system.issuer
    victim = signed_in_cookies(app.url, "carol", "carol-pass")
    control = signed_in_cookies(app.url, "bob", "bob-pass")
    assert all(a.status == 200 for a in fire([app.url + PAGE] * 8, victim))
    grants_before = system.refresh_grants()
    with open_socket(app.url, SOCKET, victim) as ws:
        pushed = time.monotonic()
        # "Sign out of all devices" at the issuer, which pushes a Logout Token to osapp.
        answer = httpx.post(issuer.url + "/api/sessions/revoke",
                            headers={"Authorization": f"Bearer {victim['osapp_at']}"})
        assert answer.status_code == 200, answer.text
        first, last = until_all_anonymous([app.url + PAGE] * 8, victim, pushed)
        closed = next_message(ws, timeout=BOUND_SECONDS + 3)
        socket_after = time.monotonic() - pushed
    bearer = httpx.get(app.url + "/api/me", headers={"Authorization": f"Bearer {victim['osapp_at']}"})
    print(f"\nsign out of all devices at the issuer -> back-channel logout, 4 workers: first rejection {first:.2f}s, all 8 new connections "
          f"rejected {last:.2f}s, socket closed {socket_after:.2f}s ({closed}), bearer {bearer.status_code}, "
          f"control signed in {all(a.status == 200 for a in fire([app.url + PAGE] * 8, control))}, "
          f"refresh grants since {system.refresh_grants() - grants_before}")
    assert last <= BOUND_SECONDS
    assert closed == {"type": "error", "error": "sessionRevoked"}
    assert socket_after <= BOUND_SECONDS + 0.5
    assert bearer.status_code == 401
    assert all(a.status == 200 and "Bob Brown" in a.body for a in fire([app.url + PAGE] * 8, control))
    assert system.refresh_grants() == grants_before
    # What operators see: /metrics (all workers) and authstatus.
    text = httpx.get(app.url + "/metrics").text
    status = manage(app.env, "authstatus", check=False).stdout
    print(f"metrics: accepted={metric(text, 'osapp_pushed_events_total', outcome='accepted', type='backchannel_logout')}, "
          f"live={metric(text, 'osapp_revocations_live')}, "
          f"lag observations={metric(text, 'osapp_revocation_propagation_seconds_count')}; "
          f"authstatus: {[line for line in status.splitlines() if line.startswith('revocations')]}")
    assert metric(text, "osapp_pushed_events_total", outcome="accepted", type="backchannel_logout") == 1
    assert metric(text, "osapp_revocations_live") == 1
    assert metric(text, "osapp_revocation_propagation_seconds_count") >= 1
    assert "revocations:  1 live" in status


def test_on_redis_a_logout_pushed_to_one_instance_ends_the_session_on_the_other(start_system, redis_url):
    # The issuer pushes to the first instance only: the second learns of it through Redis alone.
    system = start_system(access_token_ttl=600, instances=2, workers=2, push_to=[0],
                          env={"OSAPP_REFRESH_BACKEND": "redis", "OSAPP_REDIS_URL": redis_url})
    first_app, second_app = system.apps
    victim = signed_in_cookies(first_app.url, "carol", "carol-pass")
    assert all(a.status == 200 for a in fire([second_app.url + PAGE] * 4, victim))
    pushed = time.monotonic()
    answer = httpx.post(system.issuer.url + "/api/sessions/revoke",
                        headers={"Authorization": f"Bearer {victim['osapp_at']}"})
    assert answer.status_code == 200, answer.text
    first, last = until_all_anonymous([first_app.url + PAGE, second_app.url + PAGE] * 4, victim, pushed)
    accepted = [metric(httpx.get(app.url + "/metrics").text, "osapp_pushed_events_total",
                       outcome="accepted", type="backchannel_logout") for app in system.apps]
    print(f"\nsign out of all devices at the issuer -> back-channel logout on Redis, 2 instances x 2 workers: "
          f"first rejection {first:.2f}s, all rejected {last:.2f}s; Logout Tokens accepted per instance {accepted}")
    assert last <= BOUND_SECONDS
    assert accepted == [1, 0]


def test_a_claims_change_pushed_makes_the_next_page_loads_renew_once_with_the_new_claims(start_system):
    system = start_system(access_token_ttl=600, workers=4)
    app, issuer = system.app, system.issuer
    carol = signed_in_cookies(app.url, "carol", "carol-pass")
    # Token times are whole seconds (`iat`): the change must come in a later second than the
    # token's issue to be known as after it (a deadline, not a guess).
    sleep_until(access_claims(carol)["iat"] + 1)
    grants_before = system.refresh_grants()
    # A project created at the issuer, not through osapp: the token in the cookie predates it,
    # and the issuer pushes a token-claims-change for its creator.
    pushed = time.monotonic()
    created = httpx.post(issuer.url + "/api/projects", json={"org": "acme", "name": "Pushed Project"},
                         headers={"Authorization": f"Bearer {carol['osapp_at']}"})
    assert created.status_code == 201, created.text
    # Each worker learns of it within a poll of the push; until then a load has the old claims.
    deadline = pushed + 10
    while True:
        answers = fire([app.url + "/"] * 8, carol)
        if all("Pushed Project" in a.body for a in answers) or time.monotonic() > deadline:
            break
    elapsed = time.monotonic() - pushed
    grants = system.refresh_grants() - grants_before
    print(f"\ntoken-claims-change pushed by the issuer, 4 workers: 8 concurrent loads show the new project "
          f"{elapsed:.2f}s after its creation, "
          f"refresh grants={grants}")
    assert all(a.status == 200 and "Pushed Project" in a.body for a in answers), "\n".join(
        line for line in app.output.splitlines()[-60:] if "osapp" in line)
    assert grants == 1


def test_signing_out_in_one_tab_closes_the_other_tabs_socket_and_session(start_system):
    system = start_system(access_token_ttl=600, workers=4)
    app = system.app
    with new_browser() as browser:
        sign_in(browser, app.url, "carol", "carol-pass")
        cookies = session_cookies(browser)  # what every tab of this browser sends
        with open_socket(app.url, SOCKET, cookies) as ws:
            signed_out_at = time.monotonic()
            out = browser.post(app.url + "/auth/logout", data={"csrfmiddlewaretoken": csrf_token(browser)},
                               headers={"Referer": app.url + "/"})
            assert out.status_code == 200
            closed = next_message(ws, timeout=BOUND_SECONDS + 3)
            closed_after = time.monotonic() - signed_out_at
    _, last = until_all_anonymous([app.url + PAGE] * 8, cookies, signed_out_at)
    print(f"\nsign-out in one tab: the other tab's socket closed after {closed_after:.2f}s ({closed}), "
          f"its cookies anonymous on every worker after {last:.2f}s")
    assert closed == {"type": "error", "error": "sessionRevoked"}
    assert closed_after <= BOUND_SECONDS and last <= BOUND_SECONDS
