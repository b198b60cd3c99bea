"""DESIGN §6 through the real issuer and gunicorn: a settings fault never costs a session.

A deploy with a wrong OSAPP_CLIENT_SECRET makes the issuer answer `invalid_client`: users keep
their sessions (banner while their access tokens are valid), their refresh cookies are kept,
/readyz names the variable, and a deploy with the right secret refreshes every session on its
next request with no new sign-in.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import new_browser, sign_in
from tests.support.concurrent import fire, session_cookies
from tests.support.osapp_server import OsappServer

# osapp's database is only migrated here: the PostgreSQL pass does not repeat these.
pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

# Tokens live 120 s and every request in their last 119 s renews: the whole test runs
# inside the refresh window with valid tokens, without waiting for it.
USERS = [("alice", "alice-pass"), ("bob", "bob-pass"), ("carol", "carol-pass"),
         ("alice", "alice-pass"), ("bob", "bob-pass")]


def redeploy(system, secret: str) -> OsappServer:
    """Stop the instance and start it again on its port and state with another secret."""
    old = system.apps[0]
    old.stop()
    env = {k: v for k, v in old.env.items() if k in ("OSAPP_REFRESH_SKEW",)}
    env["OSAPP_CLIENT_SECRET"] = secret
    app = OsappServer.start(old.env["OSAPP_ISSUER"], old.state_dir, workers=2, port=old.port, env=env)
    system.apps[0] = app
    return app


def test_a_wrong_client_secret_keeps_every_session_and_a_fixed_one_recovers_them(start_system):
    system = start_system(access_token_ttl=120, workers=2, env={"OSAPP_REFRESH_SKEW": "119"})
    sessions = []
    for user, password in USERS:
        with new_browser() as browser:
            sign_in(browser, system.app.url, user, password)
            sessions.append(session_cookies(browser))
    sign_ins = system.issuer.token_grants("authorization_code")
    assert sign_ins == len(USERS)

    app = redeploy(system, "a-wrong-secret")
    answers = [answer for _ in range(4) for cookies in sessions for answer in fire([app.url + "/"], cookies)]
    bannered = sum('data-testid="session-notice"' in a.body for a in answers)
    kept = sum("osapp_rt" not in a.set_cookies for a in answers)
    ready = httpx.get(app.url + "/readyz", timeout=10)
    print(f"\nwrong secret: {len(answers)} page loads, 200s={sum(a.status == 200 for a in answers)}, "
          f"with banner={bannered}, refresh cookie kept={kept}, "
          f"invalid_client at issuer={system.issuer.token_grants('refresh_token', status=401)}, "
          f"/readyz={ready.status_code} {ready.json()['checks'].get('issuer')}")
    assert [a.status for a in answers] == [200] * 20
    assert bannered == 20 and kept == 20
    assert ready.status_code == 503 and "OSAPP_CLIENT_SECRET" in ready.json()["checks"]["issuer"]

    app = redeploy(system, "osapp-dev-secret")
    recovered = [fire([app.url + "/"], cookies)[0] for cookies in sessions]
    ready = httpx.get(app.url + "/readyz", timeout=10)
    print(f"right secret: {sum('osapp_rt' in a.set_cookies for a in recovered)}/{len(sessions)} sessions "
          f"refreshed on their next request, new sign-ins="
          f"{system.issuer.token_grants('authorization_code') - sign_ins}, /readyz={ready.status_code}")
    assert all(a.status == 200 and "osapp_rt" in a.set_cookies for a in recovered)
    assert all('data-testid="session-notice"' not in a.body for a in recovered)
    assert system.issuer.token_grants("authorization_code") == sign_ins
    assert ready.status_code == 200
