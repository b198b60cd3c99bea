"""Access-token verification: what is accepted, and that everything else is TokenInvalid."""

from __future__ import annotations

import base64
import json
import time

import pytest

from osapp.claims.errors import TokenExpired, TokenInvalid
from osapp.claims.keys import KeySet, parse_jwks
from osapp.claims.tokens import VerifyPolicy, verify_access_token, verify_id_token
from tests.support import tokens

POLICY = VerifyPolicy(issuer=tokens.ISSUER, audience=tokens.AUDIENCE, client_id=tokens.CLIENT_ID)


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return KeySet(parse_jwks(tokens.jwks_json("main")))


def verify(token: str, keys: KeySet, now: float | None = None):
    return verify_access_token(token, keys, POLICY, now=now if now is not None else time.time())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_token_becomes_a_principal_with_orgs_and_projects(keys):
    principal = verify(tokens.access_token(), keys)
    assert principal.user_id == "42"
    assert [org.name for org in principal.orgs] == ["Acme Corp", "Globex Corporation"]
    assert principal.project_in("acme", "website")[1].name == "Website"
    assert principal.project_in("acme", "billing") is None  # billing belongs to globex


def test_token_signed_by_another_key_is_invalid(keys):
    forged = tokens.sign(tokens.access_claims(), key="other", kid="kid-main")
    with pytest.raises(TokenInvalid, match="bad signature"):
        verify(forged, keys)


def test_expired_token_raises_expired_with_verified_claims(keys):
    now = time.time()
    token = tokens.access_token(iat=int(now) - 700, exp=int(now) - 100)
    with pytest.raises(TokenExpired) as caught:
        verify(token, keys, now)
    assert caught.value.claims["sub"] == "42"


def test_expired_token_with_wrong_audience_is_invalid_not_expired(keys):
    now = time.time()
    token = tokens.access_token(aud="someone-else", exp=int(now) - 100)
    with pytest.raises(TokenInvalid) as caught:
        verify(token, keys, now)
    assert not isinstance(caught.value, TokenExpired)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"aud": "someone-else"}, "audience mismatch"),
        ({"iss": "https://issuer.test/"}, "issuer mismatch"),
        ({"iss": "https://evil.test"}, "issuer mismatch"),
        ({"aud": ["osapp", "evil"], "client_id": "another-client"}, "several audiences"),
        ({"nbf": int(time.time()) + 3600}, "nbf"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"exp": None}, "exp"),
        ({"exp": "soon"}, "exp"),
        ({"exp": [1]}, "exp"),
        ({"exp": tokens.DROP}, "missing claim 'exp'"),
        ({"sub": tokens.DROP}, "missing claim 'sub'"),
        ({"orgs": "acme"}, "not a list"),
        ({"projects": [1, 2]}, "non-object"),
        ({"nonce": "n"}, "ID token"),
    ],
)
def test_token_failing_a_rule_is_invalid(keys, overrides, reason):
    with pytest.raises(TokenInvalid, match=reason):
        verify(tokens.access_token(**overrides), keys)


def test_several_audiences_accepted_when_issued_to_us(keys):
    token = tokens.access_token(aud=["osapp", "https://api.other"], azp="osapp")
    assert verify(token, keys).user_id == "42"


def test_alg_none_is_refused(keys):
    header = b64(json.dumps({"alg": "none", "kid": "kid-main"}).encode())
    payload = b64(json.dumps(tokens.access_claims()).encode())
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{payload}.", keys)
    with pytest.raises(TokenInvalid, match="not accepted"):
        verify(f"{header}.{payload}.AAAA", keys)


def test_hs256_signed_with_the_public_key_is_refused(keys):
    from cryptography.hazmat.primitives import serialization

    pem = tokens.rsa_key("main").public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": "kid-main", "typ": "JWT"}).encode())
    payload = b64(json.dumps(tokens.access_claims()).encode())
    import hashlib
    import hmac

    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    with pytest.raises(TokenInvalid, match="not accepted"):
        verify(f"{header}.{payload}.{signature}", keys)


def test_deeply_nested_header_is_invalid_not_a_crash(keys):
    nested = "[" * 5000 + "]" * 5000
    token = f"{b64(nested.encode())}.{b64(b'{}')}.{b64(b'sig')}"
    with pytest.raises(TokenInvalid):
        verify(token, keys)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c.d", "!!!.???.***", "x" * 20000])
def test_garbage_is_invalid(keys, garbage):
    with pytest.raises(TokenInvalid):
        verify(garbage, keys)


def test_crit_header_is_refused(keys):
    token = tokens.sign(tokens.access_claims(), headers={"crit": ["exp"]})
    with pytest.raises(TokenInvalid, match="crit"):
        verify(token, keys)


def test_id_token_type_in_access_slot_is_refused(keys):
    with pytest.raises(TokenInvalid, match="type"):
        verify(tokens.sign(tokens.access_claims(), typ="id+jwt"), keys)


def test_access_token_is_not_accepted_as_id_token(keys):
    with pytest.raises(TokenInvalid, match="type"):
        verify_id_token(tokens.access_token(), keys, POLICY, now=time.time())


def test_unknown_kid_without_runtime_source_is_invalid(keys):
    with pytest.raises(TokenInvalid, match="unknown 'kid'"):
        verify(tokens.sign(tokens.access_claims(), kid="nope"), keys)


# The guarded refetch for unknown kids (once per interval, whatever the kid; never for an
# algorithm we do not accept) is tested through every channel in
# tests/security/test_hostile_tokens.py.


def test_async_callers_learn_a_fetch_is_needed_instead_of_blocking():
    from osapp.claims.errors import KeyFetchRequired

    calls = []
    keys = KeySet({}, fetch_jwks=lambda: calls.append(1) or json.loads(tokens.jwks_json("main")),
                  refetch_interval_seconds=300)
    with pytest.raises(KeyFetchRequired):
        keys.get("kid-main", "RS256", fetch=False)
    assert calls == []
    assert keys.get("kid-main", "RS256").kid == "kid-main"  # the (threaded) retry fetches once
    assert keys.get("kid-other", "RS256", fetch=False) is None  # not due again: plain unknown
    assert calls == [1]


# Issue 9.7: an ID token whose `aud` is our client id, with no `nonce` or `at_hash`, must not
# pass for an access token when the access audience is the client id too.
SAME_AUDIENCE = VerifyPolicy(issuer=tokens.ISSUER, audience=tokens.CLIENT_ID, client_id=tokens.CLIENT_ID)


def id_token_shaped(**overrides):
    claims = tokens.access_claims(aud=tokens.CLIENT_ID, **overrides)
    claims.pop("client_id")
    claims.pop("scope")
    return claims


@pytest.mark.parametrize("typ", ["JWT", "jwt", None])
def test_untyped_token_without_client_id_or_scope_is_not_an_access_token(keys, typ):
    headers = {"typ": None} if typ is None else {}
    token = tokens.sign(id_token_shaped(), typ=typ or "JWT", headers=headers)
    with pytest.raises(TokenInvalid, match="client_id' or 'scope"):
        verify_access_token(token, keys, SAME_AUDIENCE, now=time.time())


def test_an_expired_id_token_in_the_access_slot_is_invalid_not_expired(keys):
    now = int(time.time())
    token = tokens.sign(id_token_shaped(iat=now - 700, exp=now - 100), typ="JWT")
    with pytest.raises(TokenInvalid) as caught:
        verify_access_token(token, keys, SAME_AUDIENCE, now=time.time())
    assert not isinstance(caught.value, TokenExpired)


@pytest.mark.parametrize(
    ("typ", "claims"),
    [("at+jwt", {}), ("JWT", {"scope": "openid"}), ("JWT", {"client_id": tokens.CLIENT_ID})],
)
def test_typed_or_rfc9068_shaped_tokens_are_access_tokens(keys, typ, claims):
    token = tokens.sign({**id_token_shaped(), **claims}, typ=typ)
    assert verify_access_token(token, keys, SAME_AUDIENCE, now=time.time()).user_id == "42"
