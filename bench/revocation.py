"""The revocation check's cost per request and the revocation logs' propagation lag (DESIGN §12).

    python -m bench.revocation [--events 200] [--readers 4] [--redis redis://127.0.0.1:6379/13]

1. Per request: `Verifier.authenticate` on a cached token (the page-load path) with 0, 10 000
   and 1 000 000 live revocations (none of them this user's), µs per call (median of rounds),
   and the ratio of calls per second to the empty set's.
2. Propagation: `--events` revocations published one at a time; `--readers` RevocationSets,
   each with its own reader of the log (as each gunicorn worker has), record when they apply
   each one; the lag from publish to applied, p50 / p99 / max, for the file and Redis logs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from osapp.claims.config import build_config
from osapp.claims.keys import KeySet, parse_jwks
from osapp.claims.revocation import (
    FileRevocationLog,
    RedisRevocationLog,
    Revocation,
    RevocationSet,
    Scope,
)
from osapp.claims.verifier import Verifier
from tests.support import tokens

PAGE_US = 2000.0  # CPU per authenticated page in process (bench.ab, docs/BENCHMARKS.md §5)


def verifier_with(live: int) -> Verifier:
    config = build_config({"ISSUER": tokens.ISSUER, "CLIENT_ID": tokens.CLIENT_ID, "CLIENT_SECRET": "bench",
                           "AUDIENCE": tokens.AUDIENCE, "STATE_DIR": tempfile.mkdtemp(prefix="osapp-rev-")})
    revocations = RevocationSet()
    now = time.time()
    revocations.apply(
        Revocation(Scope.SESSION if n % 2 else Scope.USER, f"other-{n}", now, now + 3600) for n in range(live)
    )
    keys = KeySet(parse_jwks(tokens.jwks_json("main")), source="bench")
    return Verifier(config, keys=keys, revocations=revocations)


def per_call_us(verifier: Verifier, token: str, *, rounds: int = 9, calls: int = 50_000) -> float:
    verifier.authenticate(token)  # verified once: every call below is a cache hit
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            verifier.authenticate(token)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def check_cost() -> None:
    token = tokens.access_token(sid="sid-bench", exp=int(time.time()) + 3600)
    print("revocation check on the page-load path (Verifier.authenticate, cache hit)")
    print(f"{'live revocations':>18} {'µs per call':>12} {'extra µs':>9} {'ratio, call':>12} "
          f"{'ratio, page':>12}")
    base = None
    for live in (0, 10_000, 1_000_000):
        verifier = verifier_with(live)
        assert verifier.authenticate(token).principal is not None
        cost = per_call_us(verifier, token)
        base = base or cost
        # A page costs ~2 000 µs of CPU (bench.ab): what the check adds, as a share of it.
        print(f"{live:>18,} {cost:>12.3f} {cost - base:>9.3f} {base / cost:>12.3f} "
              f"{PAGE_US / (PAGE_US + cost - base):>12.4f}")


def propagation(name: str, make_log, readers: int, events: int) -> None:
    writer = make_log()
    sets, applied = [], []
    for _ in range(readers):
        into = RevocationSet()
        seen: dict[str, float] = {}
        into.subscribe(lambda record, seen=seen: seen.setdefault(record.value, time.monotonic()))
        make_log().start(into)
        sets.append(into)
        applied.append(seen)
    time.sleep(0.5)  # readers connected / at the end of the log
    lags = []
    for _ in range(events):
        value = f"{name}-{uuid.uuid4().hex}"
        published = time.monotonic()
        writer.publish(Revocation(Scope.SESSION, value, time.time(), time.time() + 600))
        deadline = published + 5
        while not all(value in seen for seen in applied) and time.monotonic() < deadline:
            time.sleep(0.001)
        lags += [(seen[value] - published) * 1000 for seen in applied if value in seen]
        time.sleep(random.uniform(0, 0.1))  # publish at any phase of the readers' 100 ms poll
    lags.sort()
    missing = events * readers - len(lags)
    print(f"{name:>6}: {events} events x {readers} readers: lag p50 {lags[len(lags) // 2]:.1f} ms, "
          f"p99 {lags[int(len(lags) * 0.99) - 1]:.1f} ms, max {lags[-1]:.1f} ms, not applied within 5 s: {missing}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    check_cost()
    print("\npropagation: publish -> applied by every reader")
    directory = Path(tempfile.mkdtemp(prefix="osapp-rev-log-"))
    propagation("file", lambda: FileRevocationLog(directory / "revocations.log"), args.readers, args.events)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    try:
        propagation("redis", lambda: RedisRevocationLog(args.redis, prefix), args.readers, args.events)
    finally:
        import redis

        redis.Redis.from_url(args.redis).delete(f"{prefix}revocations")


if __name__ == "__main__":
    main()
