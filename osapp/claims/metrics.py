"""Prometheus counters of the claims component, correct across gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it before any worker starts) every
worker writes its counts to files there and `/metrics` sums them (prometheus-client's
multiprocess mode); without it, the counters are per process.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess

REFRESH_OUTCOMES = Counter(
    "osapp_refresh_outcomes_total",
    "Refresh coordinator outcomes: winner, waiter, chained, transient, backoff, lock_timeout, "
    "invalid_grant, rejected, signed_out, backend_unavailable, contention.",
    ["outcome"],
)
ISSUER_CALLS = Counter(
    "osapp_issuer_calls_total", "Outbound calls to the issuer, by endpoint.", ["endpoint"]
)
TOKEN_VERIFICATIONS = Counter(
    "osapp_token_verifications_total",
    "Access tokens verified by signature (cache misses), by result.",
    ["result"],
)
VERIFIED_CACHE = Counter(
    "osapp_verified_claims_cache_total", "Verified-claims cache lookups, by result.", ["result"]
)
# Bound once: `labels()` costs a lock and a dict lookup, and a hit is on every page load.
VERIFIED_CACHE_HIT = VERIFIED_CACHE.labels("hit")
VERIFIED_CACHE_MISS = VERIFIED_CACHE.labels("miss")
WEBSOCKET_ROTATIONS = Counter(
    "osapp_websocket_token_expired_total", "WebSockets closed because the access token expired."
)


def render_metrics() -> bytes:
    """The Prometheus text exposition of all workers (or of this process alone)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(PROCESS_REGISTRY)
