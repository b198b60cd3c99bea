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
    """A call to the issuer failed."""


class IssuerUnavailable(IssuerError):
    """Transient: network error, timeout or 5xx. Worth retrying later."""


class IssuerRejected(IssuerError):
    """The issuer answered with an OAuth error (e.g. `invalid_grant`). Never retried."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
