"""The RefreshCoordinator contract, run against every backend (local, file, redis).

The issuer is a fake here on purpose: these tests pin the coordinator's own rules. The real
issuer path is covered by tests/integration/test_refresh.py.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from osapp.claims.errors import (
    ClientRejected,
    GrantRejected,
    IssuerNotReached,
    IssuerOutcomeUnknown,
    IssuerProtocolError,
)
from osapp.claims.oidc import TokenSet
from osapp.claims.refresh import (
    CoordinatorSettings,
    RefreshCoordinator,
    Refreshed,
    RefreshRejected,
    RefreshUnavailable,
    SignedOut,
)
from osapp.claims.refresh.base import RESULT
from osapp.claims.refresh.file import FileBackend
from osapp.claims.refresh.local import LocalBackend
from osapp.claims.refresh.sealed import seal, store_key, unseal
from tests.support.redis_db import require_redis

REDIS_URL = os.environ.get("OSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_backend():
    from osapp.claims.refresh.redis import RedisBackend

    return RedisBackend(require_redis(REDIS_URL, flush=True))


SUB = "user-alice"


@pytest.fixture(params=["local", "file", "redis"])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalBackend()
    if request.param == "file":
        return FileBackend(tmp_path / "refresh")
    return redis_backend()


class FakeIssuer:
    """Rotates like a strict issuer: a rotated token presented again is invalid_grant."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.presented: list[str] = []
        self.failures: list[Exception] = []
        self.omit_refresh_token = False
        self._lock = threading.Lock()
        self._used: set[str] = set()

    def __call__(self, refresh_token: str) -> TokenSet:
        time.sleep(self.delay)
        with self._lock:
            self.presented.append(refresh_token)
            if self.failures:
                raise self.failures.pop(0)
            if refresh_token in self._used:
                raise GrantRejected("invalid_grant", "reused")
            self._used.add(refresh_token)
            n = len(self.presented)
        return TokenSet(
            access_token=f"at-{n}",
            refresh_token=None if self.omit_refresh_token else f"rt-{n}",
            id_token=f"idt-{n}",
            expires_in=60,
        )


def coordinator(backend, issuer, **settings) -> RefreshCoordinator:
    defaults = {"lock_wait_seconds": 3, "issuer_timeout_seconds": 1, "retry_base_seconds": 0.01,
                "backoff_seconds": 1, "poll_interval_seconds": 0.005}
    return RefreshCoordinator(backend, issuer, CoordinatorSettings(**{**defaults, **settings}))


async def gather(n, make):
    return await asyncio.gather(*(make() for _ in range(n)))


def test_concurrent_callers_share_one_presentation(backend):
    issuer = FakeIssuer()
    coord = coordinator(backend, issuer)
    outcomes = asyncio.run(gather(32, lambda: coord.refresh("rt-0", SUB)))
    assert issuer.presented == ["rt-0"]
    assert all(isinstance(o, Refreshed) for o in outcomes)
    assert {o.tokens.refresh_token for o in outcomes} == {"rt-1"}
    assert sorted({o.role for o in outcomes}) in (["waiter", "winner"], ["chained", "waiter", "winner"])
    assert [o.role for o in outcomes].count("winner") == 1


def test_concurrent_callers_in_several_threads_share_one_presentation(backend):
    issuer = FakeIssuer(delay=0.2)
    coord = coordinator(backend, issuer)
    results: list = []

    def worker():
        results.extend(asyncio.run(gather(8, lambda: coord.refresh("rt-0", SUB))))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert issuer.presented == ["rt-0"]
    assert {o.tokens.refresh_token for o in results} == {"rt-1"}


def test_an_older_token_follows_the_chain_to_the_newest_set(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer)
    first = asyncio.run(coord.refresh("rt-0", SUB))
    second = asyncio.run(coord.refresh(first.tokens.refresh_token, SUB))
    assert second.tokens.refresh_token == "rt-2"
    stale = asyncio.run(coord.refresh("rt-0", SUB))
    assert isinstance(stale, Refreshed) and stale.role == "chained"
    assert stale.tokens.refresh_token == "rt-2"
    assert issuer.presented == ["rt-0", "rt-1"]


def test_invalid_grant_is_shared_and_never_retried(backend):
    issuer = FakeIssuer()
    issuer.failures = [GrantRejected("invalid_grant")]
    coord = coordinator(backend, issuer)
    outcomes = asyncio.run(gather(8, lambda: coord.refresh("rt-0", SUB)))
    assert all(isinstance(o, RefreshRejected) and o.error == "invalid_grant" for o in outcomes)
    assert asyncio.run(coord.refresh("rt-0", SUB)) == RefreshRejected("invalid_grant")
    assert issuer.presented == ["rt-0"]


def test_transient_failures_are_retried_inside_the_winner(backend):
    issuer = FakeIssuer(delay=0)
    issuer.failures = [IssuerNotReached("HTTP 503"), IssuerNotReached("connect timeout")]
    coord = coordinator(backend, issuer, max_attempts=3)
    outcome = asyncio.run(coord.refresh("rt-0", SUB))
    assert isinstance(outcome, Refreshed) and outcome.role == "winner"
    assert issuer.presented == ["rt-0"] * 3


def test_exhausted_retries_back_off_for_everyone(backend):
    issuer = FakeIssuer(delay=0)
    issuer.failures = [IssuerNotReached("HTTP 503")] * 2
    coord = coordinator(backend, issuer, max_attempts=2, backoff_seconds=1)
    assert isinstance(asyncio.run(coord.refresh("rt-0", SUB)), RefreshUnavailable)
    again = asyncio.run(coord.refresh("rt-0", SUB))
    assert isinstance(again, RefreshUnavailable) and again.kind == "backoff"
    assert len(issuer.presented) == 2
    time.sleep(1.1)
    assert isinstance(asyncio.run(coord.refresh("rt-0", SUB)), Refreshed)
    assert len(issuer.presented) == 3


def test_a_response_without_refresh_token_keeps_the_old_one(backend):
    issuer = FakeIssuer(delay=0)
    issuer.omit_refresh_token = True
    coord = coordinator(backend, issuer)
    outcome = asyncio.run(coord.refresh("rt-0", SUB))
    assert outcome.tokens.refresh_token == "rt-0" and outcome.tokens.access_token == "at-1"
    assert asyncio.run(coord.refresh("rt-0", SUB)).tokens.access_token == "at-1"  # no loop, no call


def test_a_waiter_that_times_out_never_presents_the_token(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer, lock_wait_seconds=0.3)

    async def scenario():
        held = await backend.try_lock(store_key("rt-0"), 5)
        assert held is not None
        try:
            return await coord.refresh("rt-0", SUB)
        finally:
            await backend.unlock(held)

    outcome = asyncio.run(scenario())
    assert isinstance(outcome, RefreshUnavailable) and outcome.kind == "lock_timeout"
    assert issuer.presented == []


def test_signed_out_session_never_refreshes(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer)
    asyncio.run(coord.refresh("rt-0", SUB))
    assert asyncio.run(coord.end_session("rt-0")) == "rt-1"  # the newest token gets revoked
    assert isinstance(asyncio.run(coord.refresh("rt-0", SUB)), SignedOut)
    assert isinstance(asyncio.run(coord.refresh("rt-1", SUB)), SignedOut)
    assert issuer.presented == ["rt-0"]


def test_logout_during_an_inflight_refresh_wins(backend):
    revoked: list[str] = []
    issuer = FakeIssuer(delay=0.3)
    coord = RefreshCoordinator(backend, issuer, CoordinatorSettings(lock_wait_seconds=3, poll_interval_seconds=0.005),
                               revoke=revoked.append)

    async def scenario():
        refresh = asyncio.create_task(coord.refresh("rt-0", SUB))
        await asyncio.sleep(0.1)
        await coord.end_session("rt-0")
        return await refresh

    assert isinstance(asyncio.run(scenario()), SignedOut)
    assert revoked == ["rt-1"]  # the token minted after the logout is revoked, not left live
    assert isinstance(asyncio.run(coord.refresh("rt-0", SUB)), SignedOut)


def test_stored_results_are_sealed_to_the_old_token(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer)
    asyncio.run(coord.refresh("rt-0", SUB))
    blob = asyncio.run(backend.get(store_key("rt-0"), RESULT))
    assert b"rt-1" not in blob and b"at-1" not in blob
    assert unseal("rt-0", blob)["refresh_token"] == "rt-1"
    assert unseal("another-token", blob) is None


def test_sealed_blob_is_bound_to_its_key():
    blob = seal("rt-a", {"status": "ok"})
    assert unseal("rt-a", blob) == {"status": "ok"}
    assert unseal("rt-a", blob[:-1] + bytes([blob[-1] ^ 1])) is None


# DESIGN §6: what ends a session is the issuer saying so about this grant ----------------------


@pytest.mark.parametrize(
    "fault",
    [ClientRejected("invalid_client", "bad secret", "OSAPP_CLIENT_SECRET"),
     ClientRejected("unauthorized_client", "", "OSAPP_CLIENT_ID"),
     IssuerProtocolError("token.refresh_token: HTTP 404 is not an OAuth answer", "OSAPP_ISSUER")],
    ids=["invalid_client", "unauthorized_client", "non_oauth_404"],
)
def test_a_settings_fault_keeps_the_session_and_is_reported_until_the_settings_change(backend, fault, caplog):
    issuer = FakeIssuer(delay=0)
    issuer.failures = [fault]
    wrong = coordinator(backend, issuer, config_fingerprint="wrong-secret")
    outcome = asyncio.run(wrong.refresh("rt-0", SUB))
    assert isinstance(outcome, RefreshUnavailable) and outcome.kind == "misconfigured"
    assert issuer.presented == ["rt-0"]  # a 4xx is final for this attempt: no tight retry
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
    assert fault.setting in caplog.text
    reported = asyncio.run(wrong.issuer_fault())
    assert reported is not None and reported.setting == fault.setting
    # Still the wrong settings: backing off, the token is not presented again.
    assert asyncio.run(wrong.refresh("rt-0", SUB)).kind == "backoff"
    # The operator fixes the setting (a restart: other settings); the same cookie refreshes.
    fixed = coordinator(backend, issuer, config_fingerprint="right-secret")
    assert asyncio.run(fixed.issuer_fault()) is None
    recovered = asyncio.run(fixed.refresh("rt-0", SUB))
    assert isinstance(recovered, Refreshed) and recovered.role == "winner"
    assert asyncio.run(wrong.issuer_fault()) is None  # a success clears the record for all


def test_an_unknown_outcome_is_not_retried_at_once(backend):
    issuer = FakeIssuer(delay=0)
    issuer.failures = [IssuerOutcomeUnknown("read timeout")]
    coord = coordinator(backend, issuer, max_attempts=3)
    outcome = asyncio.run(coord.refresh("rt-0", SUB))
    assert isinstance(outcome, RefreshUnavailable) and outcome.kind == "transient"
    assert issuer.presented == ["rt-0"]
    assert asyncio.run(coord.refresh("rt-0", SUB)).kind == "backoff"
    assert issuer.presented == ["rt-0"]


def test_the_chain_is_followed_only_for_its_own_subject(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer)
    assert isinstance(asyncio.run(coord.refresh("rt-0", SUB)), Refreshed)
    # Another user's access token with the victim's rotated refresh token gets nothing.
    stolen = asyncio.run(coord.refresh("rt-0", "user-mallory"))
    assert stolen == RefreshRejected("subject_mismatch")
    assert issuer.presented == ["rt-0"]


def test_refresh_attempts_are_rate_limited_per_subject(backend):
    issuer = FakeIssuer(delay=0)
    coord = coordinator(backend, issuer, rate_limit_attempts=3, rate_limit_window_seconds=60)
    outcomes = [asyncio.run(coord.refresh(f"random-{n}", SUB)) for n in range(5)]
    assert [type(o).__name__ for o in outcomes[:3]] == ["Refreshed"] * 3
    assert [getattr(o, "kind", None) for o in outcomes[3:]] == ["rate_limited"] * 2
    assert len(issuer.presented) == 3
    # Another subject has its own budget.
    assert isinstance(asyncio.run(coord.refresh("random-9", "user-bob")), Refreshed)
