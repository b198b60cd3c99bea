"""Tokens signed with a local test key, for unit tests only (the issuer path uses the real issuer)."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://issuer.test"
AUDIENCE = "osapp"
CLIENT_ID = "osapp"


@functools.cache
def rsa_key(name: str = "main") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(name: str = "main", kid: str | None = None) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key(name).public_key()))
    jwk.update({"kid": kid or f"kid-{name}", "alg": "RS256", "use": "sig"})
    return jwk


def jwks_json(*names: str) -> str:
    return json.dumps({"keys": [public_jwk(name) for name in (names or ("main",))]})


ORGS = [
    {"id": "1", "slug": "acme", "name": "Acme Corp", "role": "owner"},
    {"id": "2", "slug": "globex", "name": "Globex Corporation", "role": "member"},
]
PROJECTS = [
    {"id": "10", "slug": "website", "name": "Website", "org_id": "1"},
    {"id": "20", "slug": "billing", "name": "Billing", "org_id": "2"},
]


def access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "42",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "scope": "openid profile email",
        "client_id": CLIENT_ID,
        "name": "Test User",
        "email": "test@example.test",
        "orgs": ORGS,
        "projects": PROJECTS,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


DROP = object()


def sign(claims: dict[str, Any], *, key: str = "main", kid: str | None = None, typ: str = "at+jwt",
         headers: dict[str, Any] | None = None) -> str:
    all_headers = {"kid": kid or f"kid-{key}", "typ": typ, **(headers or {})}
    return jwt.encode(claims, rsa_key(key), algorithm="RS256", headers=all_headers)


def access_token(**overrides: Any) -> str:
    return sign(access_claims(**overrides))


def refresh_cookie(refresh_token: str = "rt-1", sub: str = "42", sid: str | None = None) -> str:
    """The refresh cookie osapp would set for `sub` (sealed with this process's SECRET_KEY)."""
    from osapp.claims.config import load_config
    from osapp.claims.cookies import RefreshBinding, seal_refresh_cookie

    return seal_refresh_cookie(RefreshBinding(refresh_token, sub, sid), load_config().refresh_cookie_info)
