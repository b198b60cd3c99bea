"""Prometheus counters of the claims component, correct across gunicorn workers.

With prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before any worker
starts, as osapp's gunicorn.conf.py does) every worker writes its counts to files there and
`render_metrics(multiprocess_dir)` sums them; without it, the counters are per process. The
names start with `CLAIMS_SESSION["METRIC_PREFIX"]` (default `osapp`).
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)


class ClaimsMetrics:
    """The component's counters under one name prefix."""

    def __init__(self, prefix: str) -> None:
        self.refresh_outcomes = Counter(
            f"{prefix}_refresh_outcomes_total",
            "Refresh coordinator outcomes: winner, waiter, chained, transient, backoff, "
            "lock_timeout, invalid_grant, rejected, signed_out, backend_unavailable, contention.",
            ["outcome"],
        )
        self.issuer_calls = Counter(
            f"{prefix}_issuer_calls_total", "Outbound calls to the issuer, by endpoint.", ["endpoint"]
        )
        self.token_verifications = Counter(
            f"{prefix}_token_verifications_total",
            "Access tokens verified by signature (cache misses), by result.",
            ["result"],
        )
        verified_cache = Counter(
            f"{prefix}_verified_claims_cache_total", "Verified-claims cache lookups, by result.", ["result"]
        )
        # Bound once: `labels()` costs a lock and a dict lookup, and a hit is on every page.
        self.verified_cache_hit = verified_cache.labels("hit")
        self.verified_cache_miss = verified_cache.labels("miss")
        self.pushed_events = Counter(
            f"{prefix}_pushed_events_total",
            "Events pushed by the issuer (back-channel logout), by type and outcome.",
            ["type", "outcome"],
        )
        # Every worker holds the same set: across workers the most any holds (multiprocess).
        self.revocations_live = Gauge(
            f"{prefix}_revocations_live", "Live revocations this worker holds.", multiprocess_mode="max"
        )
        self.revocation_lag = Histogram(
            f"{prefix}_revocation_propagation_seconds",
            "From a pushed event's acceptance to its application in a worker.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
        )
        self.websocket_token_expired = Counter(
            f"{prefix}_websocket_token_expired_total", "WebSockets closed because the access token expired."
        )


# Prometheus registers a name once per process: the counters of each prefix are built once.
_BY_PREFIX: dict[str, ClaimsMetrics] = {}
_BY_PREFIX_LOCK = threading.Lock()


def metrics_for(prefix: str) -> ClaimsMetrics:
    with _BY_PREFIX_LOCK:
        if prefix not in _BY_PREFIX:
            _BY_PREFIX[prefix] = ClaimsMetrics(prefix)
        return _BY_PREFIX[prefix]


def render_metrics(multiprocess_dir: str | None = None) -> bytes:
    """The Prometheus text exposition of all workers (multiprocess mode) or of this process."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        return generate_latest(registry)
    return generate_latest(PROCESS_REGISTRY)
