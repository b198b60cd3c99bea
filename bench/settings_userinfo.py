"""Bench only, benchmark (c): a per-request call to the issuer's userinfo endpoint."""

from osapp.settings import *  # noqa: F403
from osapp.settings import MIDDLEWARE

MIDDLEWARE = [
    "bench.middleware.UserinfoMiddleware" if m.endswith("ClaimsSessionMiddleware") else m
    for m in MIDDLEWARE
]
