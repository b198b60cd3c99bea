"""The verified-claims cache is bounded by bytes as well as by entries (issue 9.8)."""

from __future__ import annotations

import time
import tracemalloc

from osapp.claims.cache import VerifiedClaimsCache, principal_bytes
from osapp.claims.principal import principal_from_claims
from tests.support import tokens


def big_principal(user: int, projects: int = 200):
    claims = tokens.access_claims(
        sub=str(user),
        projects=[{"id": f"p{user}-{i}", "slug": f"project-{i}", "name": f"Project number {i}", "org_id": tokens.ORGS[0]["id"]}
                  for i in range(projects)],
    )
    return principal_from_claims(claims)


def test_the_measured_size_is_not_below_what_the_principal_really_holds():
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [big_principal(n) for n in range(20)]
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    measured = sum(principal_bytes(p) for p in kept)
    print(f"\n200 projects: measured {measured // 20} B/principal, tracemalloc {grown // 20} B/principal")
    assert measured >= 0.8 * grown


def test_large_principals_are_evicted_by_bytes_long_before_the_entry_limit():
    one = principal_bytes(big_principal(0))
    cache = VerifiedClaimsCache(max_entries=10_000, max_bytes=50 * one)
    for n in range(200):
        cache.put(f"token-{n}", big_principal(n))
    assert cache.bytes <= 50 * one and 45 <= len(cache) <= 50
    assert cache.get("token-199", time.time()) is not None  # the newest stay
    assert cache.get("token-0", time.time()) is None  # the oldest went


def test_an_entry_larger_than_the_whole_budget_is_not_cached():
    cache = VerifiedClaimsCache(max_entries=10, max_bytes=1000)
    cache.put("small", principal_from_claims(tokens.access_claims(projects=[])))
    cache.put("huge", big_principal(1))
    assert cache.get("huge", time.time()) is None
    assert len(cache) <= 1 and cache.bytes <= 1000
