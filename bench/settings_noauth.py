"""Bench only, benchmark (a): osapp with authentication switched OFF (a fixed Principal)."""

from osapp.settings import *  # noqa: F403
from osapp.settings import MIDDLEWARE

MIDDLEWARE = [
    "bench.middleware.FixedPrincipalMiddleware" if m.endswith("ClaimsSessionMiddleware") else m
    for m in MIDDLEWARE
]
