"""Web security through the real middleware stack: CSRF, open redirects, the sign-in round trip
(state, nonce, PKCE), cookie attributes and the security headers (CSP with no inline script)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.test import Client

from osapp.claims.views import LOGIN_SALT
from osapp.workspace.models import Event
from tests.security.helpers import (
    DISCOVERY_PATH,
    assert_one_rejection_logged,
    id_token,
    reconfigure,
    start_sign_in,
    token_response,
    warnings_logged,
)
from tests.support import tokens
from tests.support.clients import cookie_client

REPO = Path(__file__).resolve().parents[2]
PROJECT_PAGE = "/o/acme/p/website/"
EVENTS_API = "/api/orgs/acme/projects/website/events"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' {ws}://testserver; base-uri 'none'; frame-ancestors 'none'; "
    "object-src 'none'; form-action 'self' https://issuer.test"
)


def signed_in(*, enforce_csrf_checks: bool = True) -> Client:
    client = cookie_client(tokens.access_token(), enforce_csrf_checks=enforce_csrf_checks)
    client.cookies["osapp_rt"] = tokens.refresh_cookie("rt-1")
    return client


def csrf_token_of(client: Client) -> str:
    """What a browser would have after loading any page with a form."""
    client.get("/")
    return client.cookies[django_settings.CSRF_COOKIE_NAME].value


# CSRF: every unsafe, cookie-authenticated request -----------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("claims_env")
class TestCsrf:
    def test_page_form_post_without_token_is_refused(self):
        client = signed_in()
        assert client.post(PROJECT_PAGE, {"body": "forged"}).status_code == 403
        assert not Event.objects.exists()

    def test_page_form_post_with_token_from_another_origin_is_refused(self):
        client = signed_in()
        token = csrf_token_of(client)
        response = client.post(
            PROJECT_PAGE, {"body": "forged", "csrfmiddlewaretoken": token}, headers={"Origin": "https://evil.test"}
        )
        assert response.status_code == 403
        assert not Event.objects.exists()

    def test_page_form_post_with_token_is_accepted(self):
        client = signed_in()
        response = client.post(PROJECT_PAGE, {"body": "hello", "csrfmiddlewaretoken": csrf_token_of(client)})
        assert response.status_code == 302
        assert Event.objects.get().body == "hello"

    def test_page_form_post_with_nul_is_a_400_with_the_draft_kept_and_nothing_stored(self):
        # PostgreSQL text cannot hold NUL: this was a 500 there (and stored as is on SQLite).
        client = signed_in()
        response = client.post(PROJECT_PAGE, {"body": "a\x00b", "csrfmiddlewaretoken": csrf_token_of(client)})
        assert response.status_code == 400
        assert "cannot contain the NUL character" in response.content.decode()
        assert not Event.objects.exists()

    def test_logout_without_token_is_refused_and_keeps_the_session(self, fake_issuer):
        client = signed_in()
        response = client.post("/auth/logout")
        assert response.status_code == 403
        assert "osapp_at" not in response.cookies
        assert fake_issuer.requests == []  # nothing revoked on a forged request

    def test_logout_with_token_signs_out(self, fake_issuer):
        client = signed_in()
        response = client.post("/auth/logout", {"csrfmiddlewaretoken": csrf_token_of(client)})
        assert response.status_code == 302
        assert response["Location"].startswith("https://issuer.test/logout?")
        assert response.cookies["osapp_at"].value == "" and response.cookies["osapp_rt"].value == ""
        assert "/revoke" in fake_issuer.paths

    def test_logout_near_expiry_revokes_without_refreshing_first(self, fake_issuer):
        # Logout wins (DESIGN §6): a sign-out tombstones the session at once; it neither waits
        # for nor starts a refresh whose new tokens another tab's response would then carry.
        client = signed_in()
        csrf = csrf_token_of(client)
        client.cookies["osapp_at"] = tokens.access_token(exp=int(time.time()) + 30)
        response = client.post("/auth/logout", {"csrfmiddlewaretoken": csrf})
        assert response.status_code == 302
        assert "/token" not in fake_issuer.paths
        assert "/revoke" in fake_issuer.paths

    def test_http_request_asking_for_a_websocket_upgrade_never_refreshes(self, fake_issuer):
        # DESIGN §5: a 101 response cannot set cookies, so an upgrade must not rotate the token.
        client = signed_in()
        client.cookies["osapp_at"] = tokens.access_token(exp=int(time.time()) + 30)
        response = client.get("/", HTTP_UPGRADE="websocket", HTTP_CONNECTION="Upgrade")
        assert response.status_code == 200 and "Test User" in response.content.decode()
        assert "/token" not in fake_issuer.paths
        assert "osapp_rt" not in response.cookies

    @pytest.mark.parametrize(
        "content_type, body",
        [("application/json", '{"body": "forged"}'), ("text/plain", '{"body": "forged"}'),
         ("application/x-www-form-urlencoded", "body=forged")],
    )
    def test_api_post_with_cookie_and_no_token_is_refused(self, content_type, body):
        response = signed_in().post(EVENTS_API, body, content_type=content_type)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        assert not Event.objects.exists()

    def test_api_post_with_cookie_cannot_dodge_csrf_with_a_bearer_header(self):
        response = signed_in().post(
            EVENTS_API, {"body": "forged"}, content_type="application/json",
            headers={"Authorization": "Bearer junk"},
        )
        assert response.status_code == 403
        assert not Event.objects.exists()

    def test_api_post_with_token_from_another_origin_is_refused(self):
        client = signed_in()
        response = client.post(
            EVENTS_API, {"body": "forged"}, content_type="application/json",
            headers={"X-CSRFToken": csrf_token_of(client), "Origin": "https://evil.test"},
        )
        assert response.status_code == 403
        assert not Event.objects.exists()


# Open redirects: `next` through /auth/login and the callback ------------------------------------

HOSTILE_NEXT = [
    "https://evil.test/",
    "http://evil.test",
    "//evil.test",
    "///evil.test",
    "\\\\evil.test",
    "/\\evil.test",
    "\\/evil.test",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "%2F%2Fevil.test",
    "/%2F%2Fevil.test",
    "http:evil.test",
    "http:/evil.test",
    "https:evil.test",
    "/\t/evil.test",
    "/\n/evil.test",
    "\t//evil.test",
    " //evil.test",
    "/\r\n/evil.test",
    "\x00//evil.test",
    "/\x00/evil.test",
    "data:text/html,<script>alert(1)</script>",
    "evil.test",
    "@evil.test",
    "/@evil.test",
    "//evil.test@testserver/",
    "/\u3002/evil.test",
]


def browser_view(location: str) -> str:
    """What a browser navigates to for a Location value (WHATWG URL: tabs and newlines are
    dropped, leading controls and spaces stripped, `\\` read as `/` in http(s) URLs)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(0x21))))
    return cleaned.replace("\\", "/")


def assert_local(location: str) -> None:
    seen = browser_view(location)
    parts = urlsplit(seen)
    assert seen.startswith("/") and not seen.startswith("//"), location
    assert not parts.scheme and not parts.netloc, location


def pending_login(client: Client) -> dict:
    return signing.loads(client.cookies["osapp_login"].value, salt=LOGIN_SALT)


def complete_sign_in(client: Client, fake_issuer, authorization: dict[str, str]):
    fake_issuer.token_endpoint = lambda request: httpx.Response(
        200, json=token_response(tokens.access_token(), id_token(authorization["nonce"]))
    )
    return client.get("/auth/callback", {"code": "the-code", "state": authorization["state"]})


@pytest.mark.parametrize("candidate", HOSTILE_NEXT)
def test_hostile_next_lands_on_a_local_page(candidate, fake_issuer):
    client = Client()
    authorization = start_sign_in(client, candidate)
    stored = pending_login(client)["next"]
    assert_local(stored)
    response = complete_sign_in(client, fake_issuer, authorization)
    assert response.status_code == 302
    assert_local(response["Location"])
    assert "evil" not in urlsplit(browser_view(response["Location"])).netloc


@pytest.mark.parametrize("candidate", ["/", "/o/acme/", "/o/acme/p/website/?before=10"])
def test_local_next_survives_the_round_trip(candidate, fake_issuer):
    client = Client()
    response = complete_sign_in(client, fake_issuer, start_sign_in(client, candidate))
    assert response["Location"] == candidate


def test_a_next_smuggled_into_a_tampered_login_cookie_is_refused(fake_issuer, caplog):
    client = Client()
    authorization = start_sign_in(client)
    _, timestamp, signature = client.cookies["osapp_login"].value.rsplit(":", 2)
    forged = {**pending_login(client), "next": "//evil.test"}
    payload = signing.b64_encode(json.dumps(forged, separators=(",", ":")).encode()).decode()
    client.cookies["osapp_login"] = f"{payload}:{timestamp}:{signature}"
    caplog.clear()
    response = client.get("/auth/callback", {"code": "c", "state": authorization["state"]})
    assert response.status_code == 400
    assert_one_rejection_logged(caplog, "callback")
    assert "/token" not in fake_issuer.paths


# The sign-in round trip: state, nonce, PKCE ------------------------------------------------------


def test_sign_in_uses_pkce_s256_with_a_verifier_that_matches_the_challenge(fake_issuer):
    client = Client()
    authorization = start_sign_in(client)
    assert authorization["code_challenge_method"] == "S256"
    assert authorization["response_type"] == "code"
    seen: dict[str, str] = {}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.update({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        return httpx.Response(200, json=token_response(tokens.access_token(), id_token(authorization["nonce"])))

    fake_issuer.token_endpoint = token_endpoint
    response = client.get("/auth/callback", {"code": "the-code", "state": authorization["state"]})
    assert response.status_code == 302
    verifier = seen["code_verifier"]
    # RFC 7636 §4.1: 43–128 unreserved characters; §4.2: S256 challenge.
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == authorization["code_challenge"]
    assert seen["grant_type"] == "authorization_code" and seen["code"] == "the-code"
    assert seen["redirect_uri"] == "http://testserver/auth/callback"
    # The pending login is single-use: its cookie goes with the successful callback.
    assert response.cookies["osapp_login"].value == ""


def test_every_sign_in_gets_fresh_state_nonce_and_verifier(fake_issuer):
    first, second = Client(), Client()
    a, b = start_sign_in(first), start_sign_in(second)
    assert a["state"] != b["state"] and a["nonce"] != b["nonce"] and a["code_challenge"] != b["code_challenge"]
    assert min(len(a["state"]), len(a["nonce"])) >= 32


@pytest.mark.parametrize(
    "state_of",
    [
        pytest.param(lambda auth: auth["state"] + "x", id="tampered"),
        pytest.param(lambda auth: auth["state"][:-1], id="truncated"),
        pytest.param(lambda auth: "", id="empty"),
        pytest.param(lambda auth: None, id="missing"),
    ],
)
def test_callback_with_a_state_that_does_not_match_is_refused(state_of, fake_issuer, caplog):
    client = Client()
    authorization = start_sign_in(client)
    state = state_of(authorization)
    caplog.clear()
    response = client.get("/auth/callback", {"code": "c"} | ({"state": state} if state is not None else {}))
    assert response.status_code == 400
    assert_one_rejection_logged(caplog, "callback")
    assert "/token" not in fake_issuer.paths  # the code is never exchanged


def test_callback_with_the_state_of_another_sign_in_is_refused(fake_issuer):
    # Login CSRF: an attacker's own authorization response replayed into the victim's browser.
    attacker, victim = Client(), Client()
    attackers = start_sign_in(attacker)
    start_sign_in(victim)
    response = victim.get("/auth/callback", {"code": "attackers-code", "state": attackers["state"]})
    assert response.status_code == 400
    assert "/token" not in fake_issuer.paths


def test_callback_with_an_id_token_for_another_nonce_is_refused(fake_issuer, caplog):
    client = Client()
    authorization = start_sign_in(client)
    fake_issuer.token_endpoint = lambda request: httpx.Response(
        200, json=token_response(tokens.access_token(), id_token("a-nonce-from-another-sign-in"))
    )
    caplog.clear()
    response = client.get("/auth/callback", {"code": "c", "state": authorization["state"]})
    assert response.status_code == 400
    assert "nonce mismatch" in warnings_logged(caplog)[0].getMessage()
    assert "osapp_at" not in response.cookies


def test_callback_the_issuer_refuses_pkce_for_is_a_clean_400(fake_issuer, caplog):
    client = Client()
    authorization = start_sign_in(client)
    fake_issuer.token_endpoint = lambda request: httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "PKCE verification failed"}
    )
    caplog.clear()
    response = client.get("/auth/callback", {"code": "c", "state": authorization["state"]})
    assert response.status_code == 400
    assert len(warnings_logged(caplog)) == 1
    assert "osapp_at" not in response.cookies


def test_callback_reporting_an_issuer_error_is_refused(fake_issuer):
    client = Client()
    authorization = start_sign_in(client)
    response = client.get("/auth/callback", {"error": "access_denied", "state": authorization["state"]})
    assert response.status_code == 400
    assert fake_issuer.paths == [DISCOVERY_PATH]


# Cookie attributes -------------------------------------------------------------------------------


def cookie_attributes(response, name: str) -> dict:
    morsel = response.cookies[name]
    return {
        "secure": bool(morsel["secure"]),
        "httponly": bool(morsel["httponly"]),
        "samesite": morsel["samesite"],
        "path": morsel["path"],
        "domain": morsel["domain"],
    }


@pytest.mark.parametrize(
    "secure, prefix", [pytest.param("1", "__Host-osapp_", id="secure"), pytest.param("0", "osapp_", id="local")]
)
def test_session_cookies_are_httponly_lax_and_host_bound_when_secure(secure, prefix, fake_issuer, settings):
    reconfigure(settings, fake_issuer, OSAPP_COOKIE_SECURE=secure)
    expected = {"secure": secure == "1", "httponly": True, "samesite": "Lax", "path": "/", "domain": ""}
    client = Client()
    login = client.get("/auth/login")
    assert cookie_attributes(login, prefix + "login") == expected
    authorization = {k: v[0] for k, v in parse_qs(urlsplit(login["Location"]).query).items()}
    callback = complete_sign_in(client, fake_issuer, authorization)
    assert callback.status_code == 302
    for name in ("at", "idt", "rt"):
        assert cookie_attributes(callback, prefix + name) == expected
    # Deleting a __Host- cookie needs the same attributes, or the browser keeps it.
    logout = client.post("/auth/logout")
    for name in ("at", "idt", "rt"):
        assert logout.cookies[prefix + name].value == ""
        assert cookie_attributes(logout, prefix + name) | {"httponly": True} == expected


SETTINGS_PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE, "
    "getattr(s, 'SECURE_HSTS_SECONDS', 0), s.SECURE_CONTENT_TYPE_NOSNIFF, s.X_FRAME_OPTIONS]))"
)


@pytest.mark.parametrize(
    "secure, expected",
    [
        pytest.param("1", ["__Host-csrftoken", True, "Lax", 31536000, True, "DENY"], id="secure"),
        pytest.param("0", ["csrftoken", False, "Lax", 0, True, "DENY"], id="local"),
    ],
)
def test_settings_derive_csrf_cookie_and_hsts_from_cookie_secure(secure, expected, tmp_path):
    # settings.py reads OSAPP_COOKIE_SECURE once at import: probe it in a fresh interpreter.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "osapp.settings", "OSAPP_COOKIE_SECURE": secure,
           "SECRET_KEY": "probe", "OSAPP_STATE_DIR": str(tmp_path)}
    env.pop("OSAPP_HSTS_SECONDS", None)
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROBE], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# Security headers --------------------------------------------------------------------------------


@pytest.mark.usefixtures("claims_env")
@pytest.mark.parametrize("path", ["/", "/auth/session", "/api/docs", "/api/me", "/no-such-page", "/static/live.js"])
def test_every_response_carries_the_security_headers(path):
    response = Client().get(path)
    assert response["Content-Security-Policy"] == CSP.format(ws="ws")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if not path.startswith("/static/"):  # WhiteNoise answers before XFrameOptionsMiddleware
        assert response["X-Frame-Options"] == "DENY"


def cache_directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


@pytest.mark.django_db
@pytest.mark.usefixtures("claims_env")
@pytest.mark.parametrize("path", ["/", "/o/acme/", PROJECT_PAGE, "/api/me", EVENTS_API])
def test_a_signed_in_response_is_private_and_varies_on_cookie(path):
    # A shared cache keyed by URL alone would hand one user's page or JSON to the next.
    response = signed_in().get(path)
    assert response.status_code == 200
    assert "private" in cache_directives(response) and "public" not in cache_directives(response)
    assert "Cookie" in {v.strip() for v in response["Vary"].split(",")}


@pytest.mark.usefixtures("claims_env")
def test_a_signed_in_never_cache_response_keeps_no_store_and_adds_private():
    response = signed_in().get("/auth/session")
    assert {"no-store", "no-cache", "must-revalidate", "private"} <= cache_directives(response)
    assert "Cookie" in {v.strip() for v in response["Vary"].split(",")}


@pytest.mark.usefixtures("claims_env")
def test_an_anonymous_response_is_not_marked_private():
    assert "private" not in cache_directives(Client().get("/api/me"))


@pytest.mark.usefixtures("claims_env")
def test_behind_tls_hsts_is_sent_and_sockets_must_be_wss(settings):
    # What settings.py sets when OSAPP_COOKIE_SECURE=1 (see the probe above).
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = Client().get("/", headers={"X-Forwarded-Proto": "https", "Host": "testserver"})
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert response["Content-Security-Policy"] == CSP.format(ws="wss")
    assert "Strict-Transport-Security" not in Client().get("/")  # never over plain HTTP


def test_the_policy_allows_no_inline_script_or_eval():
    directives = dict(d.split(" ", 1) for d in CSP.format(ws="ws").split("; "))
    for directive in ("script-src", "style-src", "default-src"):
        assert directives[directive] == "'self'"
    assert "unsafe" not in CSP


class InlineCode(HTMLParser):
    """Collects what a `script-src 'self'; style-src 'self'` policy would block."""

    DATA_BLOCKS = {"application/json", "application/ld+json"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> event handler")
            if name == "style":
                self.found.append(f"<{tag} style=...> inline style")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script" and not attributes.get("src") and attributes.get("type") not in self.DATA_BLOCKS:
            self._in_script = True

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:40]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.django_db
@pytest.mark.usefixtures("claims_env")
@pytest.mark.parametrize(
    "path, client",
    [
        ("/", Client),
        ("/", lambda: signed_in(enforce_csrf_checks=False)),
        ("/o/acme/", lambda: signed_in(enforce_csrf_checks=False)),
        (PROJECT_PAGE, lambda: signed_in(enforce_csrf_checks=False)),
        ("/projects/new", lambda: signed_in(enforce_csrf_checks=False)),
        ("/no-such-page", Client),
        ("/auth/callback", Client),
        ("/api/docs", Client),
    ],
)
def test_rendered_pages_have_no_inline_script_or_style(path, client):
    response = client().get(path)
    assert response.status_code in (200, 400, 404)
    assert inline_code(response.content.decode()) == []


def test_no_template_has_inline_script_or_style():
    templates = sorted((REPO / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        assert inline_code(template.read_text()) == [], template
