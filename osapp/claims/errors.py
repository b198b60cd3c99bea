"""The claims component's exceptions, one small hierarchy callers branch on by meaning."""

from __future__ import annotations


class ClaimsError(Exception):
    """Base of everything the claims component raises on purpose."""


class TokenInvalid(ClaimsError):
    """The token cannot be trusted: garbled, forged, foreign, or of the wrong shape.

    `reason` is safe to log: it never contains the token.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenExpired(TokenInvalid):
    """Signature, issuer and audience verify, only the expiry has passed.

    The one failure that may lead to a refresh (DESIGN §5 step 5). `claims` are the verified
    claims, so the caller knows whose session it is.
    """

    def __init__(self, reason: str, claims: dict) -> None:
        super().__init__(reason)
        self.claims = claims


class KeyFetchRequired(TokenInvalid):
    """The token names an unknown `kid` that a (blocking) JWKS fetch might resolve.

    Raised only when the caller asked not to fetch, so async callers can retry in a thread.
    """


class KeysUnavailable(ClaimsError):
    """No usable JWKS: the baked file is missing or corrupt and no runtime source works."""


class IssuerError(ClaimsError):
    """A call to the issuer failed. The leaves say what the caller must do (DESIGN §6)."""


class IssuerUnavailable(IssuerError):
    """Transport trouble: try again later. The session is kept."""


class IssuerNotReached(IssuerUnavailable):
    """The request cannot have been processed: no connection was made, or the issuer said
    so (503, or 429 with `Retry-After`). Safe to retry at once: nothing was consumed."""


class IssuerOutcomeUnknown(IssuerUnavailable):
    """The request was sent and no usable answer came back (read timeout, reset, 5xx).

    A refresh token may have been consumed: the next attempt waits for the normal backoff,
    never a tight retry (DESIGN §6)."""


class IssuerMisconfigured(IssuerError):
    """The fault is osapp's own settings, not this session: keep the session, log an ERROR
    naming `setting`, report it on /readyz, and recover once the setting is fixed."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class IssuerProtocolError(IssuerMisconfigured):
    """The answer is not what the protocol allows: a non-OAuth 4xx (a wrong URL's 404), a
    malformed 200, an unusable TLS certificate or an unresolvable host name."""


class ClientRejected(IssuerMisconfigured):
    """An OAuth error about the client, not the grant (`invalid_client`,
    `unauthorized_client`, …): the client id, secret or registration is wrong."""

    def __init__(self, error: str, description: str, setting: str) -> None:
        super().__init__(f"{error}: {description}" if description else error, setting)
        self.error = error
        self.description = description


class GrantRejected(IssuerError):
    """`invalid_grant` (RFC 6749 §5.2): the issuer says this grant is over. Never retried;
    the one issuer answer that ends a session."""

    def __init__(self, error: str = "invalid_grant", description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
