"""Push to the client: Logout Tokens (OpenID Connect Back-Channel Logout 1.0) and Security
Event Tokens (RFC 8417, pushed per RFC 8935, OpenID CAEP), signed with the issuer's key.

The development issuer has one client; its receivers are configured as space-separated URLs
(several osapp instances): ISSUER_BACKCHANNEL_LOGOUT_URIS and ISSUER_SECURITY_EVENT_URIS.
Each delivery runs in a daemon thread and is retried with backoff while the receiver answers
5xx or cannot be reached (up to ~30 s); a 4xx is final and logged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import httpx
from django.conf import settings
from jwcrypto import jwt

from osapp.issuer.tokens import key_id, signing_key

log = logging.getLogger("osapp.issuer.push")

BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def _signed(claims: dict[str, Any], typ: str) -> str:
    key = signing_key()
    token = jwt.JWT(header={"alg": "RS256", "typ": typ, "kid": key_id(key)}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def _deliver(url: str, **request: Any) -> None:
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS), start=1):
        time.sleep(delay)
        try:
            response = httpx.post(url, timeout=5, **request)
        except httpx.HTTPError as exc:
            log.warning("push to %s failed attempt=%d reason=%s", url, attempt, type(exc).__name__)
            continue
        if response.status_code < 500:
            level = logging.INFO if response.status_code < 300 else logging.WARNING
            log.log(level, "push to %s answered %d attempt=%d", url, response.status_code, attempt)
            return
        log.warning("push to %s answered %d attempt=%d", url, response.status_code, attempt)
    log.error("push to %s given up after %d attempts", url, len(RETRY_DELAYS) + 1)


def _send(urls: tuple[str, ...], **request: Any) -> None:
    for url in urls:
        threading.Thread(target=_deliver, args=(url,), kwargs=request, name="issuer-push", daemon=True).start()


def send_logout(sub: str) -> None:
    """Every session of `sub` ended here: a Logout Token (§2.4) to each back-channel URI."""
    config = settings.ISSUER_CONFIG
    now = int(time.time())
    token = _signed(
        {"iss": config.url, "aud": config.client_id, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex,
         "events": {BACKCHANNEL_LOGOUT: {}}, "sub": sub},
        "logout+jwt",
    )
    _send(config.backchannel_logout_uris, data={"logout_token": token})


def send_claims_change(sub: str) -> None:
    """`sub`'s memberships changed: a CAEP token-claims-change SET to each receiver."""
    config = settings.ISSUER_CONFIG
    now = int(time.time())
    token = _signed(
        {"iss": config.url, "aud": config.client_id, "iat": now, "jti": uuid.uuid4().hex,
         "sub_id": {"format": "iss_sub", "iss": config.url, "sub": sub},
         "events": {TOKEN_CLAIMS_CHANGE: {"event_timestamp": now}}},
        "secevent+jwt",
    )
    _send(config.security_event_uris, content=token, headers={"Content-Type": "application/secevent+jwt"})
