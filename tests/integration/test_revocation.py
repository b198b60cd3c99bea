"""Back-channel logout through real gunicorn workers: a revoked user is anonymous on every
worker (and, on Redis, every instance) within 2 s, their socket closes 4401, nobody else is
affected, and no refresh follows (DESIGN §12).

The development issuer does not send Logout Tokens yet (issue 11.4); the test signs them as it
would, with its signing key from its state dir and the `kid` its JWKS publishes.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from jwcrypto import jwk

from osapp.issuer.keys import read_signing_key
from tests.support.browser import new_browser, sign_in
from tests.support.concurrent import fire, metric, session_cookies
from tests.support.osapp_server import manage
from tests.support.sockets import next_message, open_socket

pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

EVENT = "http://schemas.openid.net/event/backchannel-logout"
PAGE = "/o/acme/"
SOCKET = "/ws/o/globex/p/billing/"
BOUND_SECONDS = 2.0


def issuer_logout_token(issuer, sub: str) -> str:
    """A Logout Token for every session of `sub`, signed as the issuer signs (RS256, its key)."""
    pem = read_signing_key(issuer.state_dir)
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": "osapp", "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex,
              "events": {EVENT: {}}, "sub": sub}
    kid = jwk.JWK.from_pem(pem.encode()).thumbprint()
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid, "typ": "logout+jwt"})


def issuer_security_event(issuer, event: str, subject: dict) -> str:
    """A Security Event Token (RFC 8417) as the issuer would push it (RFC 8935)."""
    pem = read_signing_key(issuer.state_dir)
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": "osapp", "iat": now, "jti": uuid.uuid4().hex, "sub_id": subject,
              "events": {event: {"event_timestamp": now}}}
    kid = jwk.JWK.from_pem(pem.encode()).thumbprint()
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid, "typ": "secevent+jwt"})


def signed_in_cookies(app_url: str, user: str, password: str) -> dict[str, str]:
    with new_browser() as browser:
        sign_in(browser, app_url, user, password)
        return session_cookies(browser)


def subject_of(cookies: dict[str, str]) -> str:
    return jwt.decode(cookies["osapp_at"], options={"verify_signature": False})["sub"]


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
        answer = httpx.post(app.url + "/auth/backchannel-logout",
                            data={"logout_token": issuer_logout_token(issuer, subject_of(victim))})
        assert (answer.status_code, answer.json()) == (200, {})
        first, last = until_all_anonymous([app.url + PAGE] * 8, victim, pushed)
        closed = next_message(ws, timeout=BOUND_SECONDS + 3)
        socket_after = time.monotonic() - pushed
    bearer = httpx.get(app.url + "/api/me", headers={"Authorization": f"Bearer {victim['osapp_at']}"})
    print(f"\nback-channel logout, 4 workers: first rejection {first:.2f}s, all 8 new connections "
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
    system = start_system(access_token_ttl=600, instances=2, workers=2,
                          env={"OSAPP_REFRESH_BACKEND": "redis", "OSAPP_REDIS_URL": redis_url})
    first_app, second_app = system.apps
    victim = signed_in_cookies(first_app.url, "carol", "carol-pass")
    assert all(a.status == 200 for a in fire([second_app.url + PAGE] * 4, victim))
    pushed = time.monotonic()
    answer = httpx.post(first_app.url + "/auth/backchannel-logout",
                        data={"logout_token": issuer_logout_token(system.issuer, subject_of(victim))})
    assert answer.status_code == 200
    first, last = until_all_anonymous([first_app.url + PAGE, second_app.url + PAGE] * 4, victim, pushed)
    print(f"\nback-channel logout on Redis, 2 instances x 2 workers: first rejection {first:.2f}s, "
          f"all rejected {last:.2f}s")
    assert last <= BOUND_SECONDS


CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"


def test_a_claims_change_pushed_makes_the_next_page_loads_renew_once_with_the_new_claims(start_system):
    system = start_system(access_token_ttl=600, workers=4)
    app, issuer = system.app, system.issuer
    carol = signed_in_cookies(app.url, "carol", "carol-pass")
    # Token times are whole seconds (`iat`): the change must come in a later second than the
    # token's issue to be known as after it (a deadline, not a guess).
    issued_at = jwt.decode(carol["osapp_at"], options={"verify_signature": False})["iat"]
    time.sleep(max(0.0, issued_at + 1 - time.time()))
    # A project created at the issuer, not through osapp: the token in the cookie predates it.
    created = httpx.post(issuer.url + "/api/projects", json={"org": "acme", "name": "Pushed Project"},
                         headers={"Authorization": f"Bearer {carol['osapp_at']}"})
    assert created.status_code == 201, created.text
    assert "Pushed Project" not in fire([app.url + "/"], carol)[0].body
    grants_before = system.refresh_grants()
    event = issuer_security_event(issuer, CLAIMS_CHANGE, {"format": "iss_sub", "iss": issuer.url,
                                                          "sub": subject_of(carol)})
    pushed = time.monotonic()
    answer = httpx.post(app.url + "/auth/security-events", content=event,
                        headers={"Content-Type": "application/secevent+jwt"})
    assert answer.status_code == 202, answer.text
    # Each worker learns of it within a poll; until then a load is served from the old claims.
    deadline = pushed + 10
    while True:
        answers = fire([app.url + "/"] * 8, carol)
        if all("Pushed Project" in a.body for a in answers) or time.monotonic() > deadline:
            break
    elapsed = time.monotonic() - pushed
    grants = system.refresh_grants() - grants_before
    print(f"\ntoken-claims-change, 4 workers: 8 concurrent loads show the new project after {elapsed:.2f}s, "
          f"refresh grants={grants}")
    assert all(a.status == 200 and "Pushed Project" in a.body for a in answers), "\n".join(
        line for line in app.output.splitlines()[-60:] if "osapp" in line)
    assert grants == 1
