"""The development issuer behaves like the strict production issuer osapp must survive.

One real ``python -m osapp.issuer`` process serves the whole module; every test talks to it
over HTTP only.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.issuer import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    IssuerProcess,
    LoginFlowError,
    authorization_code_login,
    discover,
    exchange_code,
    obtain_authorization_code,
    refresh,
)

# osapp's database is only migrated here: the PostgreSQL pass does not repeat these.
pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

AUDIENCE = "osapp"
REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssuerProcess]:
    with IssuerProcess.start(tmp_path_factory.mktemp("issuer"), access_token_ttl=120) as running:
        yield running


def login(issuer: IssuerProcess, username: str) -> dict[str, Any]:
    return authorization_code_login(issuer.url, username, f"{username}-pass")


def refresh_ok(issuer: IssuerProcess, refresh_token: str) -> dict[str, Any]:
    response = refresh(issuer.url, refresh_token, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert response.status_code == 200, response.text
    return dict(response.json())


def verify_access_token(issuer: IssuerProcess, token: str) -> dict[str, Any]:
    return verify_jwt(issuer, token, audience=AUDIENCE)


def verify_id_token(issuer: IssuerProcess, token: str) -> dict[str, Any]:
    return verify_jwt(issuer, token, audience=DEFAULT_CLIENT_ID)


def verify_jwt(issuer: IssuerProcess, token: str, audience: str) -> dict[str, Any]:
    jwks = httpx.get(discover(issuer.url)["jwks_uri"]).json()
    header = jwt.get_unverified_header(token)
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    return dict(
        jwt.decode(
            token,
            key=jwt.PyJWK(jwk).key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer.url,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    )


def create_project(issuer: IssuerProcess, access_token: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return httpx.post(f"{issuer.url}/api/projects", json=body, headers=headers)


def test_discovery_lists_the_endpoints_including_revocation_and_end_session(
    issuer: IssuerProcess,
) -> None:
    document = discover(issuer.url)

    assert document["issuer"] == issuer.url
    assert document["authorization_endpoint"] == f"{issuer.url}/authorize/"
    assert document["token_endpoint"] == f"{issuer.url}/token/"
    assert document["revocation_endpoint"] == f"{issuer.url}/revoke_token/"
    assert document["end_session_endpoint"] == f"{issuer.url}/logout/"
    assert document["jwks_uri"] == f"{issuer.url}/.well-known/jwks.json"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }


def test_jwks_publishes_one_rsa_public_key_with_a_kid(issuer: IssuerProcess) -> None:
    (key,) = httpx.get(f"{issuer.url}/.well-known/jwks.json").json()["keys"]

    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_access_token_is_an_at_jwt_carrying_org_names_and_projects(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "bob")

    header = jwt.get_unverified_header(tokens["access_token"])
    claims = verify_access_token(issuer, tokens["access_token"])
    id_claims = verify_id_token(issuer, tokens["id_token"])

    assert header["typ"] == "at+jwt"
    assert claims["sub"] == id_claims["sub"]
    assert claims["client_id"] == DEFAULT_CLIENT_ID
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert (claims["name"], claims["email"], claims["preferred_username"]) == (
        "Bob Brown",
        "bob@example.test",
        "bob",
    )
    assert [(o["slug"], o["name"], o["role"]) for o in claims["orgs"]] == [
        ("acme", "Acme Corp", "member"),
        ("globex", "Globex Corporation", "owner"),
    ]
    org_ids = {o["slug"]: o["id"] for o in claims["orgs"]}
    assert sorted((p["org_id"], p["slug"], p["name"]) for p in claims["projects"]) == sorted(
        [
            (org_ids["acme"], "website", "Website"),
            (org_ids["globex"], "billing", "Billing"),
            (org_ids["globex"], "analytics", "Analytics"),
        ]
    )


def test_id_token_carries_the_display_claims_for_the_client(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "carol")

    id_claims = verify_id_token(issuer, tokens["id_token"])

    assert (id_claims["name"], id_claims["email"], id_claims["preferred_username"]) == (
        "Carol Chen",
        "carol@example.test",
        "carol",
    )


def test_presenting_a_rotated_refresh_token_revokes_the_family(issuer: IssuerProcess) -> None:
    original = login(issuer, "alice")["refresh_token"]
    newest = refresh_ok(issuer, original)["refresh_token"]
    assert newest != original

    replay = refresh(issuer.url, original, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    after_replay = refresh(issuer.url, newest, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert (after_replay.status_code, after_replay.json()["error"]) == (400, "invalid_grant")


def test_concurrent_presentations_of_one_refresh_token_revoke_the_family(
    issuer: IssuerProcess,
) -> None:
    refresh_token = login(issuer, "bob")["refresh_token"]
    start = threading.Barrier(4)

    def present() -> httpx.Response:
        start.wait()
        return refresh(issuer.url, refresh_token, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: present(), range(4)))
    (winner,) = [r for r in responses if r.status_code == 200]
    after = refresh(
        issuer.url, winner.json()["refresh_token"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    )

    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")


def test_token_endpoint_accepts_client_secret_post(issuer: IssuerProcess) -> None:
    refresh_token = login(issuer, "alice")["refresh_token"]

    response = httpx.post(
        discover(issuer.url)["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )

    assert response.status_code == 200, response.text


def test_revoked_refresh_token_is_unusable(issuer: IssuerProcess) -> None:
    refresh_token = login(issuer, "alice")["refresh_token"]

    # RFC 7009 §2.2: the revocation endpoint answers 200 whether or not the token was valid.
    revoked = httpx.post(
        discover(issuer.url)["revocation_endpoint"],
        data={"token": refresh_token, "token_type_hint": "refresh_token"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    after = refresh(issuer.url, refresh_token, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    assert revoked.status_code == 200
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")


def test_sign_out_of_all_devices_revokes_every_session_of_the_caller_only(issuer: IssuerProcess) -> None:
    first, second, other = login(issuer, "alice"), login(issuer, "alice"), login(issuer, "bob")
    answer = httpx.post(issuer.url + "/api/sessions/revoke",
                        headers={"Authorization": f"Bearer {first['access_token']}"})
    # At least these two: the session-scoped issuer may hold alice's sessions of earlier tests.
    assert answer.status_code == 200 and answer.json()["revoked_refresh_tokens"] >= 2
    for session in (first, second):
        after = refresh(issuer.url, session["refresh_token"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    assert refresh(issuer.url, other["refresh_token"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).status_code == 200
    again = httpx.post(issuer.url + "/api/sessions/revoke",
                       headers={"Authorization": f"Bearer {first['access_token']}"})
    assert again.status_code == 401  # its access token went with the sessions


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:8001/auth/callback", "http://127.0.0.1/auth/callback", "http://127.0.0.1:8000/auth/callback/x"],
)
def test_authorize_redirects_only_to_a_registered_uri_exactly(issuer: IssuerProcess, redirect_uri: str) -> None:
    # django-oauth-toolkit's RFC 8252 loopback rule accepted any port on a registered
    # 127.0.0.1 callback: any local process could have received a signed-in user's code.
    with pytest.raises(LoginFlowError, match=r"authorize \(signed in\): expected a redirect, got 400"):
        obtain_authorization_code(issuer.url, "alice", "alice-pass", DEFAULT_CLIENT_ID, redirect_uri)
    assert obtain_authorization_code(issuer.url, "alice", "alice-pass", DEFAULT_CLIENT_ID, REDIRECT_URI).code


def test_rp_initiated_logout_redirects_to_the_registered_uri(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "alice")

    response = httpx.get(
        discover(issuer.url)["end_session_endpoint"],
        params={
            "id_token_hint": tokens["id_token"],
            "client_id": DEFAULT_CLIENT_ID,
            "post_logout_redirect_uri": "http://127.0.0.1:8000/",
            "state": "after-logout",
        },
    )

    assert response.status_code == 302
    assert response.headers["location"] == "http://127.0.0.1:8000/?state=after-logout"


def test_rp_initiated_logout_refuses_an_unregistered_redirect(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "alice")

    response = httpx.get(
        discover(issuer.url)["end_session_endpoint"],
        params={
            "id_token_hint": tokens["id_token"],
            "client_id": DEFAULT_CLIENT_ID,
            "post_logout_redirect_uri": "http://evil.test/",
        },
    )

    assert response.status_code == 400


def test_request_log_records_token_grants_without_codes_or_tokens(issuer: IssuerProcess) -> None:
    codes_before = issuer.token_grants("authorization_code", status=200)
    refreshes_before = issuer.token_grants("refresh_token", status=200)

    grant = obtain_authorization_code(
        issuer.url, "bob", "bob-pass", DEFAULT_CLIENT_ID, REDIRECT_URI
    )
    tokens = exchange_code(issuer.url, grant, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    refreshed = refresh_ok(issuer, tokens["refresh_token"])

    assert issuer.token_grants("authorization_code", status=200) == codes_before + 1
    assert issuer.token_grants("refresh_token", status=200) == refreshes_before + 1
    log_text = Path(issuer.request_log).read_text(encoding="utf-8")
    secrets_seen = [
        grant.code,
        grant.code_verifier,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        refreshed["refresh_token"],
        "bob-pass",
        DEFAULT_CLIENT_SECRET,
    ]
    assert [s for s in secrets_seen if s in log_text] == []


def test_org_owner_creates_a_project_and_the_next_refresh_carries_it(
    issuer: IssuerProcess,
) -> None:
    tokens = login(issuer, "bob")

    created = create_project(issuer, tokens["access_token"], {"org": "globex", "name": "Rockets"})
    claims = verify_access_token(
        issuer, refresh_ok(issuer, tokens["refresh_token"])["access_token"]
    )

    assert created.status_code == 201, created.text
    project = created.json()
    assert (project["slug"], project["name"]) == ("rockets", "Rockets")
    globex_id = next(o["id"] for o in claims["orgs"] if o["slug"] == "globex")
    assert project["org_id"] == globex_id
    assert project in claims["projects"]


def test_creating_a_project_with_a_taken_slug_is_a_conflict(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "carol")

    response = create_project(
        issuer, tokens["access_token"], {"org": "initech", "name": "Printer 2", "slug": "printer"}
    )

    assert response.status_code == 409
    assert "error" in response.json()


def test_org_member_cannot_create_a_project(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "bob")

    response = create_project(issuer, tokens["access_token"], {"org": "acme", "name": "Sneaky"})

    assert response.status_code == 403
    assert "error" in response.json()


def test_project_api_without_a_token_is_unauthorized(issuer: IssuerProcess) -> None:
    response = create_project(issuer, None, {"org": "acme", "name": "Anonymous"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_project_api_with_a_forged_token_is_unauthorized(issuer: IssuerProcess) -> None:
    segments = login(issuer, "alice")["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4)))
    claims["sub"] = "999"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = ".".join([segments[0], forged_payload, segments[2]])

    response = create_project(issuer, forged, {"org": "acme", "name": "Forged"})

    assert response.status_code == 401


def test_project_api_refuses_an_id_token_as_bearer(issuer: IssuerProcess) -> None:
    tokens = login(issuer, "bob")

    response = create_project(issuer, tokens["id_token"], {"org": "globex", "name": "Via ID token"})

    assert response.status_code == 401


def test_sigterm_stops_the_issuer_cleanly(tmp_path: Path) -> None:
    running = IssuerProcess.start(tmp_path)

    assert running.stop() == 0
