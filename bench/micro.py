"""Benchmark (d): what verifying costs as the claims and the JWKS grow, in-process.

    python -m bench.micro [--json FILE]

Tokens are signed with local RSA-2048 keys (as tests/support/tokens.py does) and verified by
osapp's own `Verifier` — the object every request goes through — with prometheus-client in
multiprocess mode, as under gunicorn. For each case it reports µs per operation (median of
repeats) of:

- miss: `Verifier.authenticate` on a token not in the cache — hash, signature, `iss`/`aud`/
  times, building the Principal, storing it (the first request with a new token);
- verify: the signature and claim checks alone (`verify_access_claims`);
- principal: building the Principal from verified claims alone;
- hit: `Verifier.authenticate` on a cached token (every other request).

Sweeps: 1, 10, 100, 1000 projects (with one key), and 1, 4, 16 keys in the JWKS (with 10
projects). OSAPP_MAX_TOKEN_BYTES is raised for the run so the largest tokens can be measured;
the table says which of them osapp's default bound (16 KiB) and the cookie budget refuse.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# prometheus-client reads this at import: count in multiprocess files, as the workers do.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="osapp-micro-prom-"))

from osapp.claims.config import build_config  # noqa: E402
from osapp.claims.cookies import CHUNK_BYTES, MAX_CHUNKS  # noqa: E402
from osapp.claims.keys import KeySet, parse_jwks  # noqa: E402
from osapp.claims.tokens import principal_from_verified, verify_access_claims  # noqa: E402
from osapp.claims.verifier import Verifier  # noqa: E402
from tests.support import tokens  # noqa: E402

DEFAULT_MAX_TOKEN_BYTES = 16384
PROJECT_COUNTS = (1, 10, 100, 1000)
KEY_COUNTS = (1, 4, 16)
ORGS = [
    {"id": str(i), "slug": f"org-{i}", "name": f"Organization {i}", "role": "member"} for i in range(1, 4)
]


def claims_with(projects: int) -> dict:
    return tokens.access_claims(
        exp=int(time.time()) + 3600,
        orgs=ORGS,
        projects=[
            {"id": str(100 + i), "slug": f"project-{i}", "name": f"Project {i}", "org_id": str(1 + i % 3)}
            for i in range(projects)
        ],
    )


def verifier_for(key_names: list[str]) -> Verifier:
    config = build_config({
        "ISSUER": tokens.ISSUER,
        "CLIENT_ID": tokens.CLIENT_ID,
        "CLIENT_SECRET": "bench",
        "AUDIENCE": tokens.AUDIENCE,
        "STATE_DIR": tempfile.mkdtemp(prefix="osapp-micro-"),
        "MAX_TOKEN_BYTES": 1024 * 1024,
    })
    assert not config.errors, config.errors
    keys = KeySet(parse_jwks(tokens.jwks_json(*key_names)), source="bench")
    return Verifier(config, keys=keys)


def per_op_us(operation, *, repeats: int = 7, target_s: float = 0.15) -> float:
    """Median over `repeats` of the mean time of `operation()`, in µs."""
    operation()
    number, elapsed = 1, 0.0
    while True:  # calibrate: enough calls for target_s per repeat
        started = time.perf_counter()
        for _ in range(number):
            operation()
        elapsed = time.perf_counter() - started
        if elapsed >= target_s / 5:
            break
        number *= 4
    number = max(1, int(number * target_s / elapsed))
    results = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            operation()
        results.append((time.perf_counter() - started) / number * 1e6)
    return statistics.median(results)


def measure(projects: int, key_count: int) -> dict:
    key_names = [f"k{i}" for i in range(key_count)]
    verifier = verifier_for(key_names)
    token = tokens.sign(claims_with(projects), key=key_names[-1])
    now = time.time()
    claims = verify_access_claims(token, verifier.keys, verifier.policy, now=now)

    def miss():
        verifier.cache.clear()
        assert verifier.authenticate(token).principal is not None

    def hit():
        assert verifier.authenticate(token).principal is not None

    row = {
        "projects": projects,
        "keys": key_count,
        "token_bytes": len(token),
        "within_default_bound": len(token) <= DEFAULT_MAX_TOKEN_BYTES,
        "cookie_chunks": -(-len(token) // CHUNK_BYTES),
        "fits_cookies": len(token) <= CHUNK_BYTES * MAX_CHUNKS,
        "miss_us": per_op_us(miss),
        "verify_us": per_op_us(lambda: verify_access_claims(token, verifier.keys, verifier.policy, now=now)),
        "principal_us": per_op_us(lambda: principal_from_verified(claims, verifier.policy)),
    }
    verifier.authenticate(token)
    row["hit_us"] = per_op_us(hit)
    return row


def largest_accepted_projects() -> int:
    """How many projects (in the shape above) fit the default OSAPP_MAX_TOKEN_BYTES."""
    low, high = 0, 2000
    while low < high:
        middle = (low + high + 1) // 2
        if len(tokens.sign(claims_with(middle))) <= DEFAULT_MAX_TOKEN_BYTES:
            low = middle
        else:
            high = middle - 1
    return low


def report(rows: list[dict], limit: int) -> str:
    header = (f"{'projects':>8} {'keys':>4} {'token B':>8} {'≤16KiB':>6} {'cookies':>7} "
              f"{'miss µs':>8} {'verify µs':>9} {'principal µs':>12} {'hit µs':>7}")
    lines = ["benchmark (d): Verifier cost by claim size and JWKS size (RS256, RSA-2048, µs/op, median)", header]
    for r in rows:
        lines.append(
            f"{r['projects']:>8} {r['keys']:>4} {r['token_bytes']:>8} {'yes' if r['within_default_bound'] else 'NO':>6} "
            f"{r['cookie_chunks'] if r['fits_cookies'] else 'NO':>7} {r['miss_us']:>8.1f} {r['verify_us']:>9.1f} "
            f"{r['principal_us']:>12.1f} {r['hit_us']:>7.2f}"
        )
    lines.append(f"largest project list within the default OSAPP_MAX_TOKEN_BYTES (16384): {limit} projects")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.split("\n")[0])
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    cases = [(p, 1) for p in PROJECT_COUNTS] + [(10, k) for k in KEY_COUNTS if k != 1]
    rows = [measure(projects, keys) for projects, keys in cases]
    limit = largest_accepted_projects()
    print(report(rows, limit))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "largest_accepted_projects": limit}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
