"""The issuer's configuration, read once from the environment into a frozen value.

Every variable is optional; its default is documented next to where it is read. A wrong value
stops the process at start with a message that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
DEFAULT_REDIRECT_URIS = "http://127.0.0.1:8000/auth/callback http://localhost:8000/auth/callback"
DEFAULT_POST_LOGOUT_REDIRECT_URIS = "http://127.0.0.1:8000/ http://localhost:8000/"


class IssuerConfigError(ValueError):
    """An environment variable holds a value the issuer cannot run with."""


@dataclass(frozen=True)
class IssuerConfig:
    url: str
    state_dir: Path
    access_token_ttl: int
    id_token_ttl: int
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    audience: str
    request_log: Path
    secret_key: str
    enable_faults: bool = False
    backchannel_logout_uris: tuple[str, ...] = ()
    security_event_uris: tuple[str, ...] = ()

    @property
    def database_path(self) -> Path:
        return self.state_dir / "issuer.sqlite3"

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or DEFAULT_HOST

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> IssuerConfig:
        # ISSUER_STATE_DIR [./var/issuer]: database, signing key and request log live here.
        state_dir = Path(environ.get("ISSUER_STATE_DIR", "./var/issuer")).resolve()
        return cls(
            # ISSUER_URL [http://127.0.0.1:8001]: the public base URL and the exact `iss`.
            url=_issuer_url(environ.get("ISSUER_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")),
            state_dir=state_dir,
            # ISSUER_ACCESS_TOKEN_TTL [1800]: lifetime of access tokens, in seconds.
            access_token_ttl=_seconds(environ, "ISSUER_ACCESS_TOKEN_TTL", 1800),
            # ISSUER_ID_TOKEN_TTL [3600]: lifetime of ID tokens, in seconds.
            id_token_ttl=_seconds(environ, "ISSUER_ID_TOKEN_TTL", 3600),
            # ISSUER_CLIENT_ID [osapp] / ISSUER_CLIENT_SECRET [osapp-dev-secret]: the one client.
            client_id=_non_empty(environ, "ISSUER_CLIENT_ID", "osapp"),
            client_secret=_non_empty(environ, "ISSUER_CLIENT_SECRET", "osapp-dev-secret"),
            # ISSUER_REDIRECT_URIS: space-separated, matched exactly (RFC 9700 §4.1.3).
            redirect_uris=_uris(environ, "ISSUER_REDIRECT_URIS", DEFAULT_REDIRECT_URIS),
            # ISSUER_POST_LOGOUT_REDIRECT_URIS: space-separated, for RP-initiated logout.
            post_logout_redirect_uris=_uris(
                environ, "ISSUER_POST_LOGOUT_REDIRECT_URIS", DEFAULT_POST_LOGOUT_REDIRECT_URIS
            ),
            # ISSUER_AUDIENCE [osapp]: the access tokens' `aud` (an RFC 9068 resource indicator).
            audience=_non_empty(environ, "ISSUER_AUDIENCE", "osapp"),
            # ISSUER_REQUEST_LOG [<state-dir>/requests.log]: one JSON line per request.
            request_log=Path(
                environ.get("ISSUER_REQUEST_LOG", str(state_dir / "requests.log"))
            ).resolve(),
            # ISSUER_SECRET_KEY [fixed dev value]: signs the issuer's own session cookies.
            secret_key=environ.get("ISSUER_SECRET_KEY", "osapp-issuer-development-only-secret-key"),
            # ISSUER_ENABLE_FAULTS [0]: expose /_faults so tests can make /token/ fail.
            enable_faults=environ.get("ISSUER_ENABLE_FAULTS", "0") == "1",
            # ISSUER_BACKCHANNEL_LOGOUT_URIS / ISSUER_SECURITY_EVENT_URIS: where Logout Tokens
            # and Security Event Tokens are pushed (space-separated; none by default).
            backchannel_logout_uris=_uris(environ, "ISSUER_BACKCHANNEL_LOGOUT_URIS", ""),
            security_event_uris=_uris(environ, "ISSUER_SECURITY_EVENT_URIS", ""),
        )


def _issuer_url(value: str) -> str:
    url = value.rstrip("/")
    parts = urlsplit(url)
    # OIDC Discovery §3: the issuer is an URL with no query or fragment.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise IssuerConfigError(f"ISSUER_URL must be an http(s) URL with no query: {value!r}")
    if parts.path:
        raise IssuerConfigError(f"ISSUER_URL must not have a path (served at the root): {value!r}")
    return url


def _seconds(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise IssuerConfigError(f"{name} must be a whole number of seconds: {raw!r}") from None
    if value <= 0:
        raise IssuerConfigError(f"{name} must be positive: {raw!r}")
    return value


def _non_empty(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default).strip()
    if not value:
        raise IssuerConfigError(f"{name} must not be empty")
    return value


def _uris(environ: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    uris = tuple(environ.get(name, default).split())
    for uri in uris:
        if urlsplit(uri).scheme not in ("http", "https"):
            raise IssuerConfigError(f"{name} holds a URI that is not http(s): {uri!r}")
    return uris
