"""The OAuth 2.0 / OpenID Connect client: every call osapp makes to the issuer goes through here.

Only standard behaviour is relied on (RFC 6749, 7636, 7009, OIDC Core and Discovery), so any
compliant provider works. Each call is counted by endpoint and logged once, without tokens,
codes or secrets.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .config import ClaimsConfig
from .errors import (
    ClientRejected,
    GrantRejected,
    IssuerNotReached,
    IssuerOutcomeUnknown,
    IssuerProtocolError,
)
from .metrics import ClaimsMetrics, metrics_for

log = logging.getLogger("osapp.claims.oidc")

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_TTL_SECONDS = 3600
MAX_RESPONSE_BYTES = 1024 * 1024
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
# RFC 6749 §5.2: the OAuth errors about this grant. Every other error code is about the client
# or the request osapp built, i.e. osapp's settings: it must never end a user's session.
GRANT_ERRORS = ("invalid_grant",)
# The settings an operator should check for a fault of each kind (named in the ERROR log).
CLIENT_SETTINGS = ("CLIENT_ID", "CLIENT_SECRET", "CLIENT_AUTH_METHOD")
SECRET_ERRORS = ("invalid_client",)


def _settings_for_oauth_error(error: str) -> tuple[str, ...]:
    if error in SECRET_ERRORS:
        return ("CLIENT_SECRET",)
    if error in ("unauthorized_client", "unsupported_grant_type"):
        return ("CLIENT_ID",)
    if error == "invalid_scope":
        return ("SCOPES",)
    return CLIENT_SETTINGS


def _connect_failure_is_config(exc: BaseException) -> bool:
    """A DNS or TLS failure is a settings fault (wrong host, wrong CA); a refusal is not."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (socket.gaierror, ssl.SSLError, ssl.CertificateError)):
            return True
        current = current.__cause__ or current.__context__
    text = str(exc).lower()
    return "name or service not known" in text or "certificate" in text or "ssl" in text


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returned (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_in: int | None

    @classmethod
    def from_response(cls, body: Mapping[str, Any], setting: str = 'CLAIMS_SESSION["ISSUER"]') -> TokenSet:
        """`setting`: what to name in a protocol error (the issuer setting)."""
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise IssuerProtocolError("token response without access_token", setting)
        if str(body.get("token_type", "")).lower() != "bearer":
            raise IssuerProtocolError("token response with a token_type other than Bearer", setting)

        def optional_str(name: str) -> str | None:
            value = body.get(name)
            return value if isinstance(value, str) and value else None

        expires_in = body.get("expires_in")
        return cls(
            access_token=access_token,
            refresh_token=optional_str("refresh_token"),
            id_token=optional_str("id_token"),
            expires_in=expires_in if isinstance(expires_in, int) else None,
        )


class IssuerClient:
    """A small, thread-safe client for one issuer and one confidential client."""

    def __init__(
        self,
        config: ClaimsConfig,
        transport: httpx.BaseTransport | None = None,
        *,
        metrics: ClaimsMetrics | None = None,
    ) -> None:
        self.config = config
        self._calls = (metrics or metrics_for(config.metric_prefix)).issuer_calls
        # What an operator sets for the issuer URL (named in every protocol fault).
        self._issuer_setting = config.name_of("ISSUER")
        self._http = httpx.Client(
            timeout=config.issuer_timeout_seconds,
            transport=transport,
            follow_redirects=False,
            # Drop idle connections before the issuer's keep-alive timer does: a token request
            # sent on a connection the server is closing dies in transit and must be retried.
            limits=httpx.Limits(keepalive_expiry=1.0),
        )
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._metadata_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, endpoint: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call; failures raised by what the caller must do (errors.py, DESIGN §6)."""
        self._calls.labels(endpoint).inc()
        started = time.monotonic()
        try:
            response = self._http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never sent: no connection, so nothing can have been consumed.
            if _connect_failure_is_config(exc):
                raise IssuerProtocolError(
                    f"{endpoint}: cannot connect ({type(exc).__name__}: DNS or TLS)", self._issuer_setting
                ) from None
            log.warning("issuer call failed endpoint=%s reason=%s", endpoint, type(exc).__name__)
            raise IssuerNotReached(f"{endpoint}: {type(exc).__name__}") from None
        except httpx.TimeoutException:
            log.warning("issuer call failed endpoint=%s reason=timeout", endpoint)
            raise IssuerOutcomeUnknown(f"{endpoint}: timeout") from None
        except httpx.HTTPError as exc:
            log.warning("issuer call failed endpoint=%s reason=%s", endpoint, type(exc).__name__)
            raise IssuerOutcomeUnknown(f"{endpoint}: {type(exc).__name__}") from None
        log.info(
            "issuer call endpoint=%s status=%s ms=%.0f",
            endpoint,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        # RFC 9110 §15.6.4 / RFC 6585 §4: 503 and 429 say the request was not processed.
        if response.status_code == 503 or (
            response.status_code == 429 and "retry-after" in response.headers
        ):
            raise IssuerNotReached(f"{endpoint}: HTTP {response.status_code}")
        if response.status_code >= 500:
            raise IssuerOutcomeUnknown(f"{endpoint}: HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise IssuerProtocolError(f"{endpoint}: response too large", self._issuer_setting)
        return response

    def _json(self, endpoint: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise IssuerProtocolError(
                f"{endpoint}: HTTP {response.status_code} is not a JSON object", self._issuer_setting
            )
        return body

    def _client_auth(self, form: dict[str, str]) -> dict[str, Any]:
        """RFC 6749 §2.3.1: HTTP Basic (default) or credentials in the form body."""
        if self.config.client_auth_method == "client_secret_post":
            form = {**form, "client_id": self.config.client_id, "client_secret": self.config.client_secret}
            return {"data": form}
        # §2.3.1: client id and secret are form-urlencoded before Basic encoding.
        auth = (quote(self.config.client_id, safe=""), quote(self.config.client_secret, safe=""))
        return {"data": form, "auth": auth}

    # -- discovery ------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document, fetched once per hour per process."""
        with self._metadata_lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL_SECONDS:
                return self._metadata
            response = self._request("discovery", "GET", self.config.issuer + DISCOVERY_PATH)
            if response.status_code != 200:
                raise IssuerProtocolError(f"discovery: HTTP {response.status_code}", self._issuer_setting)
            metadata = self._json("discovery", response)
            missing = [name for name in REQUIRED_METADATA if not isinstance(metadata.get(name), str)]
            if missing:
                raise IssuerProtocolError(f"discovery document lacks {', '.join(missing)}", self._issuer_setting)
            # OIDC Discovery §4.3: the document's issuer must be exactly the one we asked.
            if metadata["issuer"] != self.config.issuer:
                raise IssuerProtocolError(
                    f"discovery issuer {metadata['issuer']!r} is not {self._issuer_setting} {self.config.issuer!r}",
                    self._issuer_setting,
                )
            self._metadata, self._metadata_at = metadata, time.monotonic()
            return metadata

    def fetch_jwks(self) -> dict[str, Any]:
        response = self._request("jwks", "GET", self.metadata()["jwks_uri"])
        if response.status_code != 200:
            raise IssuerProtocolError(f"jwks: HTTP {response.status_code}", self._issuer_setting)
        return self._json("jwks", response)

    # -- token endpoint ----------------------------------------------------------------

    def _token_request(self, endpoint: str, form: dict[str, str]) -> TokenSet:
        response = self._request(
            endpoint, "POST", self.metadata()["token_endpoint"], **self._client_auth(form)
        )
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            error = body.get("error") if isinstance(body, dict) else None
            # RFC 6749 §5.2: an error response is a 400 (401 for client auth) naming the error;
            # anything else (a wrong token URL's 404, an HTML page) is not one.
            if response.status_code not in (400, 401) or not isinstance(error, str):
                raise IssuerProtocolError(
                    f"{endpoint}: HTTP {response.status_code} is not an OAuth answer",
                    f"{self._issuer_setting} (its token_endpoint)",
                )
            description = str(body.get("error_description", ""))[:200] if isinstance(body, dict) else ""
            if error in GRANT_ERRORS:
                raise GrantRejected(error, description)
            names = " / ".join(self.config.name_of(key) for key in _settings_for_oauth_error(error))
            raise ClientRejected(error[:64], description, names)
        return TokenSet.from_response(self._json(endpoint, response), self._issuer_setting)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        """RFC 6749 §4.1.3 with RFC 7636 §4.5 (PKCE)."""
        return self._token_request(
            "token.authorization_code",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        """RFC 6749 §6. The caller must make sure this token is presented at most once."""
        return self._token_request(
            "token.refresh_token", {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def revoke(self, token: str, token_type_hint: str = "refresh_token") -> bool:
        """RFC 7009 §2.1. True when the issuer confirmed; False when it has no endpoint."""
        endpoint = self.metadata().get("revocation_endpoint")
        if not isinstance(endpoint, str):
            log.warning("issuer publishes no revocation_endpoint; refresh token not revoked")
            return False
        response = self._request(
            "revocation",
            "POST",
            endpoint,
            **self._client_auth({"token": token, "token_type_hint": token_type_hint}),
        )
        if response.status_code != 200:
            # RFC 7009 §2.2.1: an error here never changes a session; report it as a fault.
            raise IssuerProtocolError(f"revocation: HTTP {response.status_code}", self._issuer_setting)
        return True

    def end_session_endpoint(self) -> str | None:
        endpoint = self.metadata().get("end_session_endpoint")
        return endpoint if isinstance(endpoint, str) else None
