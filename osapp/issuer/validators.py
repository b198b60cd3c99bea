"""The issuer's OAuth2 validator: ID-token claims and a strict refresh-token rotation.

Two things on top of django-oauth-toolkit's validator:

* ID tokens carry ``name``, ``email`` and ``preferred_username`` (granted by the ``profile``
  and ``email`` scopes, OIDC Core §5.4); ``sub`` is DOT's ``str(user.pk)``, as in access tokens.
* A bearer token that looks like a JWT is still looked up as an access token. oauthlib's OIDC
  server routes every ``ey…`` bearer to ``validate_jwt_bearer_token``, which DOT answers by
  accepting an *ID token*: our access tokens are JWTs too, and an ID token must never pass
  for an access token (RFC 9068 §1, OIDC Core §2).
* Two refreshes racing on one refresh token: DOT would hand the loser the winner's tokens
  (its grace-period path). Here the loser is a reuse of a rotated token: the family is
  revoked and the answer is ``invalid_grant`` (RFC 9700 §4.14.2), so a client that presents a
  refresh token twice, even concurrently, finds out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from osapp.issuer.claims import identity_claims

RefreshToken = get_refresh_token_model()


class _RotatedMeanwhile(Exception):
    """The presented refresh token was rotated by a concurrent request."""

    def __init__(self, token_family: uuid.UUID | None) -> None:
        super().__init__("refresh token rotated by a concurrent request")
        self.token_family = token_family


class IssuerOAuth2Validator(OAuth2Validator):
    def validate_redirect_uri(self, client_id: str, redirect_uri: str, request: Request, *args: Any, **kwargs: Any) -> bool:
        # Exactly a registered URI (RFC 6749 §3.1.2.3, OAuth 2.1 §2.3.1). django-oauth-toolkit
        # applies RFC 8252's loopback rule (any port on a registered 127.0.0.1 callback), meant
        # for native apps: with it any local process could receive a signed-in user's code.
        return redirect_uri in request.client.redirect_uris.split()

    def get_additional_claims(self) -> dict[str, Callable[[Request], str]]:
        # The request-agnostic form, so discovery's `claims_supported` lists these too.
        return {
            name: (lambda request, name=name: identity_claims(request.user)[name])
            for name in ("name", "email", "preferred_username")
        }

    def validate_jwt_bearer_token(self, token: str, scopes: list[str], request: Request) -> bool:
        return bool(self.validate_bearer_token(token, scopes, request))

    def save_bearer_token(
        self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any
    ) -> None:
        try:
            super().save_bearer_token(token, request, *args, **kwargs)
        except _RotatedMeanwhile as reuse:
            # Outside the rolled-back transaction, so the revocation sticks.
            RefreshToken.revoke_family(reuse.token_family)
            raise InvalidGrantError(
                description="Refresh token already used.", request=request
            ) from None

    def _save_bearer_token(
        self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any
    ) -> None:
        presented = getattr(request, "refresh_token_instance", None)
        if isinstance(presented, RefreshToken):
            # Re-read under the write lock (the SQLite transaction is IMMEDIATE): the check in
            # validate_refresh_token ran before it, so a concurrent rotation may have won.
            current = RefreshToken.objects.select_for_update().get(pk=presented.pk)
            if current.revoked is not None:
                raise _RotatedMeanwhile(current.token_family)
        super()._save_bearer_token(token, request, *args, **kwargs)
