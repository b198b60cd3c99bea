"""RFC 9068 JWT access tokens, signed with the key the issuer's JWKS publishes.

django-oauth-toolkit calls ``generate_access_token`` (its ``ACCESS_TOKEN_GENERATOR``) for every
issuance, the authorization-code exchange and each refresh, so the membership claims are read
from the database each time: a refresh after a membership change carries the change.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.common import Request

from osapp.issuer.claims import identity_claims, membership_claims
from osapp.issuer.faults import access_token_ttl

# RFC 9068 §2.1: access tokens are typed `at+jwt` so they cannot pass for ID tokens.
ACCESS_TOKEN_TYPE = "at+jwt"


def signing_key() -> jwk.JWK:
    """The active key, parsed by the same cached helper DOT's ``JwksInfoView`` uses."""
    return jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)


def key_id(key: jwk.JWK) -> str:
    # Exactly the `kid` JwksInfoView publishes: the RFC 7638 thumbprint.
    return key.thumbprint()


def access_token_claims(request: Request, now: int) -> dict[str, Any]:
    """RFC 9068 §2.2 claims plus the identity and membership claims of DESIGN.md §3."""
    user = request.user
    if user is None:
        raise ValueError("access tokens are only issued to a user (no client_credentials grant)")
    config = settings.ISSUER_CONFIG
    # Tests only (ISSUER_ENABLE_FAULTS): a chosen lifetime for this grant's access tokens.
    ttl = access_token_ttl(getattr(request, "grant_type", None))
    return {
        "iss": config.url,
        # Must equal the ID token's `sub` (DOT uses str(user.pk)).
        "sub": str(user.pk),
        "aud": config.audience,
        "exp": now + (ttl if ttl is not None else int(request.expires_in)),
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or ()),
        **identity_claims(user),
        **membership_claims(user),
    }


def generate_access_token(request: Request) -> str:
    """oauthlib token generator: return the signed, serialized access token."""
    key = signing_key()
    token = jwt.JWT(
        header={"alg": "RS256", "typ": ACCESS_TOKEN_TYPE, "kid": key_id(key)},
        claims=access_token_claims(request, now=int(time.time())),
    )
    token.make_signed_token(key)
    return token.serialize()
