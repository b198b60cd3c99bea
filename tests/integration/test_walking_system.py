"""The walking system end to end: real issuer process, real gunicorn, real HTTP."""

from __future__ import annotations

import itertools
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.browser import csrf_token, new_browser, sign_in

pytestmark = pytest.mark.integration


def test_signed_in_page_loads_make_zero_issuer_requests(issuer, osapp):
    assert len(osapp.worker_pids()) >= 2
    # No keep-alive: every request is a new connection, so the load spreads over the workers.
    import httpx

    with new_browser(limits=httpx.Limits(max_keepalive_connections=0)) as browser:
        home = sign_in(browser, osapp.url, "carol", "carol-pass")
        assert "Carol Chen" in home.text and "Initech" in home.text
        before = len(issuer.requests())
        paths = itertools.cycle(["/", "/o/acme/", "/o/initech/", "/o/initech/p/tps-reports/", "/o/globex/p/billing/"])
        statuses = [browser.get(osapp.url + next(paths)).status_code for _ in range(200)]
        issuer_requests_during_loads = issuer.requests()[before:]
    print(f"\npage loads: {len(statuses)}, status 200: {statuses.count(200)}, "
          f"issuer requests during loads: {len(issuer_requests_during_loads)}")
    assert statuses.count(200) == 200
    assert issuer_requests_during_loads == []


def test_foreign_organizations_real_project_is_404(osapp):
    with new_browser() as browser:
        sign_in(browser, osapp.url, "alice", "alice-pass")
        # globex/billing exists at the issuer (bob's and carol's), but not in alice's claims.
        assert browser.get(osapp.url + "/o/globex/p/billing/").status_code == 404
        assert browser.get(osapp.url + "/o/globex/").status_code == 404
        assert browser.get(osapp.url + "/o/acme/p/website/").status_code == 200


def test_sign_in_returns_to_a_safe_next_and_sign_out_ends_the_session(issuer, osapp):
    with new_browser() as browser:
        landed = sign_in(browser, osapp.url, "bob", "bob-pass", next_path="/o/globex/")
        assert str(landed.url) == osapp.url + "/o/globex/"
        revocations_before = sum(1 for r in issuer.requests() if r["path"].startswith("/revoke_token"))
        out = browser.post(osapp.url + "/auth/logout", data={"csrfmiddlewaretoken": csrf_token(browser)},
                           headers={"Referer": osapp.url + "/"})
        assert out.status_code == 200 and str(out.url) == osapp.url + "/"
        assert sum(1 for r in issuer.requests() if r["path"].startswith("/revoke_token")) == revocations_before + 1
        assert not {"osapp_at", "osapp_idt", "osapp_rt"} & {c.name for c in browser.cookies.jar}
        after = browser.get(osapp.url + "/o/globex/", follow_redirects=False)
        assert after.status_code == 302 and after.headers["location"].startswith("/auth/login")


def _issuer_key(issuer) -> rsa.RSAPrivateKey:
    pem = (issuer.state_dir / "signing-key.pem").read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


def _real_claims(osapp, browser) -> tuple[dict, dict]:
    token = next(c.value for c in browser.cookies.jar if c.name == "osapp_at")
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("forgery", ["another-key", "expired", "wrong-audience"])
def test_untrusted_tokens_make_the_request_anonymous_never_500(issuer, osapp, forgery):
    with new_browser() as browser:
        sign_in(browser, osapp.url, "alice", "alice-pass")
        header, claims = _real_claims(osapp, browser)
    now = int(time.time())
    key = _issuer_key(issuer)
    if forgery == "another-key":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif forgery == "expired":
        claims.update(iat=now - 3600, nbf=now - 3600, exp=now - 1800)
    else:
        claims["aud"] = "some-other-api"
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"})
    before = len(issuer.requests())
    with new_browser() as attacker:
        attacker.cookies.set("osapp_at", token, domain="127.0.0.1")
        response = attacker.get(osapp.url + "/o/acme/p/website/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/auth/login?next=/o/acme/p/website/"
    assert issuer.requests()[before:] == []
