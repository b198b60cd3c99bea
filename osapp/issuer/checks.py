"""System checks of the development issuer: refuse to serve without a signing key."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from oauth2_provider.settings import oauth2_settings


@register()
def check_signing_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return []
    return [
        Error(
            "The issuer has no RSA signing key.",
            hint="Start it with `python -m osapp.issuer`, which generates "
            "<ISSUER_STATE_DIR>/signing-key.pem on first start.",
            id="issuer.E001",
        )
    ]
