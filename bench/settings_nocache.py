"""Bench only, benchmark (b): osapp verifying the access token's signature on every request."""

from osapp.settings import *  # noqa: F403
from osapp.settings import MIDDLEWARE

MIDDLEWARE = [
    "bench.middleware.NoVerifiedCacheMiddleware" if m.endswith("ClaimsSessionMiddleware") else m
    for m in MIDDLEWARE
]
