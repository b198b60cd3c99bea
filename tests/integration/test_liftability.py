"""The claims component lifted into another Django project (tests/liftproj) with settings alone.

Its own settings (CLAIMS_SESSION from `LIFT_*` variables, other cookie, Redis and metric
prefixes, another HKDF info), its own URLconf (the component under `accounts/`, instance
namespace `accounts`), one view, served by gunicorn's own threaded WSGI worker — against the
real development issuer: sign-in → page → near-expiry refresh → sign-out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from tests.support.browser import csrf_token, new_browser, sign_in
from tests.support.issuer import DEFAULT_CLIENT_SECRET, REPO_ROOT, IssuerProcess, free_port

# osapp's database is only migrated here: the PostgreSQL pass does not repeat these.
pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

TOKEN_TTL = 20
SKEW = 17  # inside the refresh window 3 s after the token was issued


def lift_env(issuer_url: str, state_dir, port: int) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OSAPP_", "ISSUER_", "LIFT_"))}
    environ.update({
        "PYTHONPATH": str(REPO_ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.liftproj.settings",
        "LIFT_ISSUER": issuer_url,
        "LIFT_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "LIFT_BASE_URL": f"http://127.0.0.1:{port}",
        "LIFT_STATE_DIR": str(state_dir),
        "LIFT_REFRESH_SKEW": str(SKEW),
    })
    return environ


def django_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "django", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def lifted(tmp_path):
    port = free_port()
    issuer = IssuerProcess.start(
        tmp_path / "issuer",
        access_token_ttl=TOKEN_TTL,
        redirect_uris=[f"http://127.0.0.1:{port}/accounts/callback"],
        post_logout_redirect_uris=[f"http://127.0.0.1:{port}/"],
    )
    try:
        env = lift_env(issuer.url, tmp_path / "lift", port)
        baked = django_admin(env, "bake_jwks")
        assert baked.returncode == 0, baked.stderr
        checked = django_admin(env, "check")
        assert checked.returncode == 0 and "claims." not in checked.stderr, checked.stderr
    except BaseException:
        issuer.stop()
        raise
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "4", "tests.liftproj.wsgi:application"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "gunicorn exited"
            try:
                if httpx.get(url + "/", timeout=2).status_code == 302:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the lifted project did not answer within 60 s"
            time.sleep(0.1)
        yield issuer, url, baked.stdout.strip()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
        issuer.stop()


def test_another_project_signs_in_renews_near_expiry_and_signs_out_with_settings_alone(lifted):
    issuer, url, baked = lifted
    with new_browser() as browser:
        # An anonymous visit goes to the component's login view, wherever it is mounted.
        assert browser.get(url + "/", follow_redirects=False).headers["location"].startswith("/accounts/login")
        page = sign_in(browser, url, "carol", "carol-pass", login_path="/accounts/login")
        assert "Signed in as Carol Chen" in page.text
        names = sorted(cookie.name for cookie in browser.cookies.jar if cookie.domain.startswith("127.0.0.1"))
        assert {"lift_at", "lift_idt", "lift_rt"} <= set(names), names
        first = browser.cookies.get("lift_at", domain="127.0.0.1")
        exp = jwt.decode(first, options={"verify_signature": False})["exp"]

        # A page load makes no issuer call while the token is outside the refresh window ...
        before = len(issuer.requests())
        assert "Signed in as Carol Chen" in browser.get(url + "/").text
        assert issuer.requests()[before:] == []
        grants = issuer.token_grants("refresh_token")
        # ... and renews it once inside (SKEW before exp; a deadline, not a guess).
        time.sleep(max(0.0, exp - SKEW + 0.5 - time.time()))
        renewed = browser.get(url + "/")
        assert "Signed in as Carol Chen" in renewed.text
        assert issuer.token_grants("refresh_token") == grants + 1
        second = browser.cookies.get("lift_at", domain="127.0.0.1")
        assert second != first

        # Sign-out: revoked at the issuer, cookies cleared, anonymous again.
        signed_out = browser.post(url + "/accounts/logout", data={"csrfmiddlewaretoken": csrf_token(browser)},
                                  headers={"Referer": url + "/"}, follow_redirects=False)
        assert signed_out.status_code == 302
        assert browser.cookies.get("lift_at", domain="127.0.0.1") is None
        revocations = [r for r in issuer.requests() if "revoke" in r["path"]]
        assert len(revocations) == 1
        assert browser.get(url + "/", follow_redirects=False).status_code == 302
    print(f"\nlifted project: {baked}; refresh grants in the session=1; cookies {names}; "
          f"sign-out revoked={len(revocations)}")
