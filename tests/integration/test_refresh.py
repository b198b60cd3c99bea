"""Refresh through the real path: development issuer (strict rotation), gunicorn, HTTP.

Every test counts refresh grants in the issuer's own request log, not in osapp's view of it.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.browser import new_browser, sign_in
from tests.support.concurrent import access_exp, fire, metric, session_cookies, sleep_until

# osapp's database is only migrated here: the PostgreSQL pass does not repeat these.
pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]

# Access tokens live 60 s and are renewed in their last 50 s; sign-in issues 52 s ones, so two
# seconds after sign-in they are "about to expire" while still valid, and a renewed token stays
# outside the window for 10 s.
SKEW = 50
NEAR_EXPIRY = {"access_token_ttl": 60, "sign_in_ttl": SKEW + 2}
NEAR_EXPIRY_ENV = {"OSAPP_REFRESH_SKEW": str(SKEW)}


def signed_in_cookies(system, user="carol", password="carol-pass", app=None) -> dict[str, str]:
    with new_browser() as browser:
        sign_in(browser, (app or system.app).url, user, password)
        return session_cookies(browser)


def wait_until_renewable(cookies: dict[str, str]) -> None:
    """Until the access token is inside the refresh window (a deadline from its `exp`)."""
    sleep_until(access_exp(cookies) - SKEW + 0.5)


def refresh_grants(system, status=None) -> int:
    return system.issuer.token_grants("refresh_token", status=status)


def test_64_concurrent_requests_share_one_refresh(start_system):
    system = start_system(**NEAR_EXPIRY, workers=4, env=NEAR_EXPIRY_ENV)
    cookies = signed_in_cookies(system)
    wait_until_renewable(cookies)
    grants_before = refresh_grants(system)
    answers = fire([system.app.url + "/"] * 64, cookies)
    grants = refresh_grants(system) - grants_before
    authenticated = sum(1 for a in answers if a.status == 200 and "Carol Chen" in a.body)
    new_refresh_tokens = {a.set_cookies["osapp_rt"] for a in answers if "osapp_rt" in a.set_cookies}
    invalid_grants = refresh_grants(system, status=400)
    print(f"\n64 concurrent: refresh grants={grants}, authenticated={authenticated}/64, "
          f"responses setting osapp_rt={sum('osapp_rt' in a.set_cookies for a in answers)}, "
          f"distinct osapp_rt values={len(new_refresh_tokens)}, invalid_grant={invalid_grants}")
    assert grants == 1
    assert authenticated == 64
    assert len(new_refresh_tokens) == 1 and cookies["osapp_rt"] not in new_refresh_tokens
    assert invalid_grants == 0

    fresh = {**cookies, **{k: v for k, v in answers[0].set_cookies.items() if k in cookies}}
    issuer_requests_before = len(system.issuer.requests())
    again = fire([system.app.url + "/o/acme/"], fresh)[0]
    assert again.status == 200 and "osapp_rt" not in again.set_cookies
    assert system.issuer.requests()[issuer_requests_before:] == []

    # osapp's own counters agree with the issuer's log.
    text = httpx.get(system.app.url + "/metrics").text
    assert metric(text, "osapp_issuer_calls_total", endpoint="token.refresh_token") == grants
    assert metric(text, "osapp_refresh_outcomes_total", outcome="winner") == 1
    shared = sum(metric(text, "osapp_refresh_outcomes_total", outcome=o) for o in ("waiter", "chained"))
    assert shared == 63


def test_two_instances_on_redis_share_one_refresh(start_system, redis_url):
    system = start_system(
        **NEAR_EXPIRY,
        instances=2,
        workers=2,
        env={**NEAR_EXPIRY_ENV, "OSAPP_REFRESH_BACKEND": "redis", "OSAPP_REDIS_URL": redis_url},
    )
    first, second = system.apps
    assert first.state_dir != second.state_dir
    cookies = signed_in_cookies(system, app=first)
    wait_until_renewable(cookies)
    grants_before = refresh_grants(system)
    answers = fire([first.url + "/", second.url + "/"] * 32, cookies)
    grants = refresh_grants(system) - grants_before
    new_refresh_tokens = {a.set_cookies["osapp_rt"] for a in answers if "osapp_rt" in a.set_cookies}
    print(f"\nredis, 2 instances x 2 workers, 64 requests: refresh grants={grants}, "
          f"200s={sum(a.status == 200 for a in answers)}, distinct osapp_rt={len(new_refresh_tokens)}")
    assert grants == 1
    assert all(a.status == 200 and "Carol Chen" in a.body for a in answers)
    assert len(new_refresh_tokens) == 1


def test_previous_refresh_token_after_rotation_gets_newest_tokens_without_issuer_call(start_system):
    # Sign-in tokens of 10 s, renewed ones 30 s, renewed in the last 8 s, no clock leeway: the
    # rotation happens 2.5 s in; the old access token expires at 10 s, while the newest stays
    # outside the renewal window until 22 s after the rotation, so the late request (old exp
    # + 1 s) falls 8.5 s after the rotation, 13.5 s before that window.
    system = start_system(access_token_ttl=30, sign_in_ttl=10, workers=2,
                          env={"OSAPP_REFRESH_SKEW": "8", "OSAPP_CLOCK_LEEWAY": "0"})
    old = signed_in_cookies(system)
    old_exp = access_exp(old)
    sleep_until(old_exp - 7.5)
    rotated = fire([system.app.url + "/"], old)[0]
    assert rotated.status == 200 and rotated.set_cookies["osapp_rt"] != old["osapp_rt"]
    newest_exp = access_exp({"osapp_at": rotated.set_cookies["osapp_at"]})
    sleep_until(old_exp + 1)
    assert time.time() < newest_exp - 8, "the machine was too slow to land inside the window"
    before = len(system.issuer.requests())
    late = fire([system.app.url + "/o/acme/"], old)[0]
    print(f"\nold refresh token after rotation, its access token expired: status={late.status}, "
          f"issuer calls={len(system.issuer.requests()) - before}")
    assert late.status == 200 and "Carol Chen" in late.body
    assert late.set_cookies["osapp_rt"] == rotated.set_cookies["osapp_rt"]
    assert late.set_cookies["osapp_at"] == rotated.set_cookies["osapp_at"]
    assert system.issuer.requests()[before:] == []


def test_issuer_503_then_timeout_keeps_pages_up_with_a_banner_then_recovers(start_system):
    system = start_system(
        **NEAR_EXPIRY,
        workers=2,
        env={**NEAR_EXPIRY_ENV, "OSAPP_ISSUER_TIMEOUT": "2", "OSAPP_REFRESH_LOCK_WAIT": "5",
             "OSAPP_REFRESH_BACKOFF": "3"},
    )
    cookies = signed_in_cookies(system)
    wait_until_renewable(cookies)
    loads = []
    for mode, seconds in (("error503", 0), ("hang", 4)):
        system.set_fault(mode, seconds)
        for _ in range(6):
            loads.append(fire([system.app.url + "/"], cookies)[0])
            time.sleep(0.5)
    served = sum(1 for a in loads if a.status == 200 and "Carol Chen" in a.body)
    bannered = sum(1 for a in loads if 'data-testid="session-notice"' in a.body)
    failed_grants = refresh_grants(system, status=503)
    print(f"\nissuer failing: page loads={len(loads)}, served={served}, with banner={bannered}, "
          f"failed refresh attempts at the issuer={failed_grants}, slowest={max(a.elapsed for a in loads):.1f}s")
    assert served == len(loads)
    assert bannered == len(loads)
    assert all("osapp_rt" not in a.set_cookies for a in loads)
    assert max(a.elapsed for a in loads) < 6  # lock wait 5 s, never the gunicorn timeout

    system.set_fault("ok")
    time.sleep(3.5)  # the backoff interval passes
    grants_before = refresh_grants(system, status=200)
    recovered = fire([system.app.url + "/"], cookies)[0]
    assert recovered.status == 200 and 'data-testid="session-notice"' not in recovered.body
    assert "osapp_rt" in recovered.set_cookies
    assert refresh_grants(system, status=200) == grants_before + 1


def _lock_holder_pid(lock_dir: Path) -> int | None:
    inodes = {p.stat().st_ino for p in lock_dir.glob("*.lock")}
    for line in Path("/proc/locks").read_text().splitlines():
        # e.g. "1: FLOCK  ADVISORY  WRITE 12345 fd:01:67890 0 EOF"
        fields = line.split()
        if "FLOCK" in fields and int(fields[-3].split(":")[-1]) in inodes:
            return int(fields[4]) if fields[1] == "FLOCK" else int(fields[5])
    return None


def test_killing_the_worker_that_holds_the_file_lock_does_not_hang_others(start_system):
    system = start_system(**NEAR_EXPIRY, workers=4, env={**NEAR_EXPIRY_ENV, "OSAPP_REFRESH_LOCK_WAIT": "15"})
    cookies = signed_in_cookies(system)
    wait_until_renewable(cookies)
    system.set_fault("delay", 8)  # the winner's refresh call hangs at the issuer
    results = []
    firing = threading.Thread(target=lambda: results.extend(fire([system.app.url + "/"] * 16, cookies)))
    started = time.monotonic()
    firing.start()
    holder = None
    while holder is None and time.monotonic() - started < 5:
        holder = _lock_holder_pid(system.app.state_dir / "refresh")
        time.sleep(0.05)
    assert holder in system.app.worker_pids(), "a gunicorn worker holds the refresh lock"
    os.kill(holder, signal.SIGKILL)
    # A second wave on new connections reaches the surviving workers (the first wave's
    # connections may all have been accepted by the worker that was killed).
    second_wave = fire([system.app.url + "/"] * 8, cookies)
    firing.join(timeout=60)
    elapsed = time.monotonic() - started
    answered = [a for a in results + second_wave if a.error is None]
    dropped = [a for a in results if a.error is not None]
    print(f"\nkill -9 of lock holder pid {holder}: answered={len(answered)} "
          f"(statuses {sorted({a.status for a in answered})}), dropped with the killed worker={len(dropped)}, "
          f"slowest={max(a.elapsed for a in answered):.1f}s, all done in {elapsed:.1f}s")
    assert not firing.is_alive()
    assert all(a.error is None for a in second_wave), "the surviving workers answered"
    assert all(a.status == 200 and "Carol Chen" in a.body for a in answered)
    assert max(a.elapsed for a in answered) < 15 + 10 + 2  # lock wait + issuer timeout + margin
    assert not re.search(r"Traceback|Internal Server Error", system.app.output)


def test_logout_during_an_inflight_refresh_never_resurrects_the_session(start_system):
    system = start_system(**NEAR_EXPIRY, workers=2, env=NEAR_EXPIRY_ENV)
    with new_browser() as browser:
        sign_in(browser, system.app.url, "bob", "bob-pass")
        cookies = session_cookies(browser)
        wait_until_renewable(cookies)
        system.set_fault("delay", 3)  # the refresh is in flight for 3 s
        inflight = []
        tab = threading.Thread(target=lambda: inflight.extend(fire([system.app.url + "/"], cookies)))
        tab.start()
        time.sleep(1)
        csrf = next(c.value for c in browser.cookies.jar if c.name == "csrftoken")
        out = browser.post(system.app.url + "/auth/logout", data={"csrfmiddlewaretoken": csrf},
                           headers={"Referer": system.app.url + "/"})
        tab.join(timeout=30)
        answer = inflight[0]
        # The in-flight response sets no session cookie (it may only delete them).
        revived = {name: value for name, value in answer.set_cookies.items()
                   if name in ("osapp_at", "osapp_rt", "osapp_idt") and value not in ("", '""')}
        print(f"\nlogout during refresh: logout status={out.status_code}, in-flight status={answer.status}, "
              f"cookies it set={sorted(revived)}, refresh grants={refresh_grants(system)}")
        assert out.status_code == 200
        assert revived == {}
        assert "osapp_rt" not in {c.name for c in browser.cookies.jar}
        after = browser.get(system.app.url + "/o/acme/", follow_redirects=False)
        assert after.status_code == 302 and after.headers["location"].startswith("/auth/login")
        # The old refresh token (as a stale tab still holds it) gets nothing either.
        stale = fire([system.app.url + "/"], {"osapp_rt": cookies["osapp_rt"], "osapp_at": cookies["osapp_at"]})[0]
        assert "osapp_rt" not in stale.set_cookies or stale.set_cookies["osapp_rt"] in ("", '""')
