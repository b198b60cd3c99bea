"""OIDC discovery document: DOT's, plus what a strict relying party looks for.

DOT's ``ConnectDiscoveryInfoView`` omits the revocation endpoint; osapp revokes its refresh
token at logout (RFC 7009), so the document advertises it (RFC 8414 §2, which OIDC Discovery
metadata may carry).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import ConnectDiscoveryInfoView

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class IssuerDiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        document.update(
            {
                "revocation_endpoint": self._get_endpoint_url(
                    request, "revoke-token", required=True
                ),
                "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
                # Every client here is RS256 (seed.py); DOT lists HS256 whenever it could.
                "id_token_signing_alg_values_supported": ["RS256"],
                "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "response_modes_supported": ["query"],
            }
        )
        response.content = json.dumps(document).encode()
        return response
