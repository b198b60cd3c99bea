"""The load test: N people sign in through the real flow and browse in several tabs at once.

    python -m bench.load --users 50 --tabs 3 --minutes 5 --ttl 60

Starts the development issuer (access tokens living `--ttl` seconds) and osapp under gunicorn
(`--workers` uvicorn workers, OSAPP_REFRESH_SKEW = a quarter of the TTL unless `--skew`), runs
locust headless in-process against them, prints the report and exits non-zero when a target is
missed. Everything binds 127.0.0.1; every loop ends at the deadline by itself.

The model (locust): one locust `User` per person, holding one `HttpSession` — a requests
session, so one cookie jar that follows Set-Cookie and redirects like a browser — shared by
`--tabs` tab greenlets that browse independently (home, organization and project pages,
GET /api/me and the project's events API), each with its own think time. A person is one
User rather than `--tabs` Users so that the jar really is one browser's: every tab sends
whatever cookies the jar holds when it starts its request and every response updates it, so
tabs race on the same refresh token exactly as a browser's tabs do. Sign-in is the real flow:
osapp /auth/login → the issuer's authorize endpoint → its login form (CSRF token, POST) →
authorize → osapp /auth/callback → the page.

Targets: 0 issuer calls per page load outside refresh; refresh grants at the issuer = refresh
token rotations the people saw; 0 invalid_grant; 0 sign-outs (unexpected anonymity); 0 errors;
osapp's /metrics and the issuer's request log agree on every endpoint osapp calls.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after gevent's monkey patching, as locust requires
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import gevent  # noqa: E402
from gevent.lock import Semaphore  # noqa: E402
from gevent.pool import Group  # noqa: E402
from locust import HttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from locust.stats import get_percentile_stats_summary, get_stats_summary  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402
from urllib3.util.retry import Retry  # noqa: E402

from bench.stack import (  # noqa: E402
    default_refresh_skew,
    free_port,
    issuer_calls_metric,
    issuer_endpoint,
    issuer_stack,
    load_average,
    metric_total,
)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REFRESH_COOKIE = "osapp_rt"  # OSAPP_COOKIE_SECURE=0 on plain-http loopback: no __Host- prefix
# The seeded demo users (README): display name, an organization and a project they can open.
ACCOUNTS = [
    ("alice", "alice-pass", "Alice Anders", "acme", "website"),
    ("bob", "bob-pass", "Bob Brown", "globex", "billing"),
    ("carol", "carol-pass", "Carol Chen", "initech", "tps-reports"),
]
SIGN_IN_ATTEMPTS = 3
# RFC 9112 §9.3.1.1: a server may close an idle persistent connection just as the client reuses
# it; browsers then retry an idempotent request once on a new connection, and so does a tab.
# Each retry is counted and reported; a request that fails twice is an error.
BROWSER_RETRY = Retry(
    total=1, connect=1, read=1, redirect=0, status=0, other=0,
    allowed_methods=frozenset({"GET"}), raise_on_status=False, raise_on_redirect=False,
)


@dataclass
class Tally:
    """What every person saw, summed (greenlets share it; no locking needed under gevent)."""

    page_loads: int = 0
    connection_retries: int = 0
    sign_ins: int = 0
    sign_outs: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # One set per signed-in session: every distinct refresh token value it was given.
    families: list[set[str]] = field(default_factory=list)

    @property
    def rotations_per_family(self) -> list[int]:
        return [len(family) - 1 for family in self.families]


class Person(HttpUser):
    """One person: one cookie jar (`self.client`), several tabs browsing concurrently."""

    abstract = True  # concrete subclasses are made by `person_class`
    wait_time = constant(0)
    tabs = 3
    think = (1.0, 2.0)
    deadline = 0.0
    tally: Tally
    sequence = iter(())

    def on_start(self) -> None:
        index = next(self.sequence)
        self.username, self.password, self.display_name, org, project = ACCOUNTS[index % len(ACCOUNTS)]
        self.routes = [
            ("page", "/", "GET /"),
            ("page", f"/o/{org}/", "GET /o/[org]/"),
            ("page", f"/o/{org}/p/{project}/", "GET /o/[org]/p/[project]/"),
            ("me", "/api/me", "GET /api/me"),
            ("events", f"/api/orgs/{org}/projects/{project}/events", "GET /api/orgs/[org]/projects/[project]/events"),
        ]
        self.client.mount("http://", HTTPAdapter(max_retries=BROWSER_RETRY))
        self.sign_in_lock = Semaphore()
        self.generation = 0

    @task
    def live(self) -> None:
        if not self.sign_in(0):
            raise StopUser()
        tabs = Group()
        for index in range(self.tabs):
            tabs.spawn(self.browse_in_tab, index)
        tabs.join()
        raise StopUser()  # the deadline passed: this person is done

    # -- signing in, as a browser does -------------------------------------------------------

    def sign_in(self, generation_seen: int) -> bool:
        """Sign in through the real flow, once for all tabs (a tab that lost the race returns)."""
        with self.sign_in_lock:
            if generation_seen != self.generation:
                return True  # another tab signed in again meanwhile
            for _ in range(SIGN_IN_ATTEMPTS):
                problem = self._sign_in_once()
                if problem is None:
                    self.generation += 1
                    self.tally.sign_ins += 1
                    # A new session: a new family of refresh tokens (this person's, not shared).
                    self.family = {self.client.cookies.get(REFRESH_COOKIE)}
                    self.tally.families.append(self.family)
                    return True
                self.tally.errors.append(f"sign-in: {problem}")
                gevent.sleep(1)
            return False

    def _sign_in_once(self) -> str | None:
        with self.client.get(
            "/auth/login", params={"next": "/"}, name="sign-in 1: /auth/login → issuer form", catch_response=True
        ) as form:
            token = CSRF_INPUT.search(form.text or "")
            if form.status_code != 200 or token is None:
                form.failure(f"expected the issuer's login form, got {form.status_code}")
                return f"login form: HTTP {form.status_code} at {form.url}"
            form.success()
        with self.client.post(
            form.url,
            data={"csrfmiddlewaretoken": token.group(1), "username": self.username, "password": self.password},
            headers={"Referer": form.url},
            name="sign-in 2: POST form → authorize → /auth/callback → /",
            catch_response=True,
        ) as landed:
            if (
                landed.status_code != 200
                or not landed.url.startswith(self.environment.host)
                or self.display_name not in landed.text
                or not self.client.cookies.get(REFRESH_COOKIE)
            ):
                landed.failure(f"sign-in ended at {landed.url} with {landed.status_code}")
                return f"landed on {landed.url} with HTTP {landed.status_code}"
            landed.success()
        return None

    # -- browsing ----------------------------------------------------------------------------

    def browse_in_tab(self, index: int) -> None:
        rng = random.Random()
        gevent.sleep(rng.uniform(0, self.think[1]))  # tabs do not start in lockstep
        while time.monotonic() < self.deadline:
            self.load(*rng.choice(self.routes))
            gevent.sleep(rng.uniform(*self.think))

    def load(self, kind: str, path: str, name: str) -> None:
        generation = self.generation
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            self.tally.page_loads += 1
            self.tally.latencies_ms.append(response.request_meta["response_time"])
            retries = getattr(getattr(response, "raw", None), "retries", None)
            if retries is not None and retries.history:
                self.tally.connection_retries += len(retries.history)
            refresh_token = response.cookies.get(REFRESH_COOKIE) if response.status_code else None
            if refresh_token:
                self.family.add(refresh_token)
            verdict = self.judge(kind, response)
            if verdict == "ok":
                response.success()
                return
            response.failure(verdict)
        if verdict == "signed out":
            self.tally.sign_outs += 1
            self.sign_in(generation)
        else:
            self.tally.errors.append(f"{name}: {verdict}")

    def judge(self, kind: str, response) -> str:
        status = response.status_code
        if status == 0:
            return f"connection error: {type(response.error).__name__}: {str(response.error)[-160:]}"
        if kind == "page":
            if status == 200 and self.display_name in response.text:
                return "ok"
            if status == 302 and "/auth/login" in response.headers.get("Location", ""):
                return "signed out"
            if status == 200 and "Sign in" in response.text:
                return "signed out"  # the anonymous landing page
            return f"HTTP {status}"
        if status == 401:
            return "signed out"
        if status != 200:
            return f"HTTP {status}"
        body = response.json()
        if kind == "me" and body.get("name") != self.display_name:
            return "wrong user"
        if kind == "events" and not isinstance(body.get("events"), list):
            return "not an event page"
        return "ok"


def person_class(*, tabs: int, think: tuple[float, float], deadline: float, tally: Tally) -> type[Person]:
    counter = iter(range(10**9))
    return type(
        "Person",
        (Person,),
        {"abstract": False, "tabs": tabs, "think": think, "deadline": deadline, "tally": tally, "sequence": counter},
    )


# -- the run ---------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(args: argparse.Namespace) -> dict:
    skew = args.skew if args.skew is not None else default_refresh_skew(args.ttl)
    load_before = load_average()
    port = free_port()
    with issuer_stack(ttl=args.ttl, osapp_ports=[port]) as stack:
        app = stack.add_app("load", workers=args.workers, port=port, env={"OSAPP_REFRESH_SKEW": str(skew)})
        metrics_before = issuer_calls_metric(app.url)
        outcomes_before = metric_total(app.url, "osapp_refresh_outcomes_total")
        log_before = len(stack.issuer.requests())

        tally = Tally()
        started = time.monotonic()
        deadline = started + args.minutes * 60
        user_class = person_class(tabs=args.tabs, think=(args.think_min, args.think_max), deadline=deadline, tally=tally)
        environment = Environment(user_classes=[user_class], host=app.url)
        runner = environment.create_local_runner()
        runner.start(args.users, spawn_rate=args.spawn_rate)
        gevent.sleep(1)
        # Every person stops by itself at the deadline (its tabs finish their request first).
        hard_stop = deadline + 60
        while (runner.user_count or runner.spawning_greenlet and not runner.spawning_greenlet.dead) and time.monotonic() < hard_stop:
            gevent.sleep(0.5)
        if runner.user_count:
            tally.errors.append(f"{runner.user_count} people still running 60 s past the deadline")
        runner.quit()
        elapsed = time.monotonic() - started

        gevent.sleep(0.5)  # let the issuer's log catch its last line
        window = stack.issuer.requests()[log_before:]
        metrics_after = issuer_calls_metric(app.url)
        outcomes_after = metric_total(app.url, "osapp_refresh_outcomes_total")
        server_log = app.output
        stats_lines = get_stats_summary(environment.stats, current=False)
        percentile_lines = get_percentile_stats_summary(environment.stats)

    by_endpoint = Counter(issuer_endpoint(entry) for entry in window)
    from_metrics = metrics_after - metrics_before
    # osapp counts an attempt before sending it; the issuer logs what it served. An attempt
    # that dies in transit (e.g. a pooled connection the issuer's keep-alive timer closed just
    # as it was reused) is logged by osapp: attempts = served + failed in transit, exactly.
    failed_in_transit = Counter(re.findall(r"issuer call failed endpoint=(\S+)", server_log))
    osapp_endpoints = sorted({e for e in by_endpoint if not e.startswith(("browser", "other"))} | set(from_metrics))
    refresh_grants = sum(
        1 for e in window if issuer_endpoint(e) == "token.refresh_token" and e["status"] == 200
    )
    invalid_grants = sum(
        1 for e in window if issuer_endpoint(e) == "token.refresh_token" and e["status"] == 400
    )
    code_exchanges = by_endpoint["token.authorization_code"]
    discovery = by_endpoint["discovery"]
    osapp_calls = sum(by_endpoint[e] for e in osapp_endpoints)
    page_path_calls = osapp_calls - by_endpoint["token.refresh_token"] - code_exchanges - discovery
    rotations = sum(tally.rotations_per_family)
    outcomes = {k.split('"')[1]: v - outcomes_before.get(k, 0) for k, v in outcomes_after.items() if v - outcomes_before.get(k, 0)}
    checks = {
        "issuer calls per page load outside refresh = 0": page_path_calls == 0,
        "discovery at most once per worker": discovery <= args.workers,
        "one code exchange per sign-in": code_exchanges == tally.sign_ins,
        "refresh grants = rotations": refresh_grants == rotations,
        "0 invalid_grant": invalid_grants == 0 and by_endpoint["token.refresh_token"] == refresh_grants,
        "0 sign-outs": tally.sign_outs == 0,
        "0 errors": not tally.errors,
        "no gunicorn worker restarted": server_log.count("Booting worker") <= args.workers,
        "osapp /metrics = issuer log + calls failed in transit, on every osapp endpoint": all(
            by_endpoint[e] + failed_in_transit[e] == from_metrics[e] for e in osapp_endpoints
        ),
        f"at least {args.min_rotations} rotations per user": bool(tally.families)
        and min(tally.rotations_per_family) >= args.min_rotations,
        "every person signed in": tally.sign_ins >= args.users,
    }
    return {
        "config": {
            "users": args.users, "tabs": args.tabs, "minutes": args.minutes, "ttl": args.ttl,
            "refresh_skew": skew, "workers": args.workers, "think_s": [args.think_min, args.think_max],
            "spawn_rate": args.spawn_rate,
        },
        "elapsed_s": round(elapsed, 1),
        "load_average_before": load_before,
        "load_average": load_average(),
        "page_loads": tally.page_loads,
        "page_loads_per_s": round(tally.page_loads / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies_ms, 0.50), 1),
        "p99_ms": round(percentile(tally.latencies_ms, 0.99), 1),
        "mean_ms": round(statistics.fmean(tally.latencies_ms), 1) if tally.latencies_ms else 0.0,
        "max_ms": round(max(tally.latencies_ms, default=0.0), 1),
        "connection_retries": tally.connection_retries,
        "sign_ins": tally.sign_ins,
        "sign_outs": tally.sign_outs,
        "errors": tally.errors[:20],
        "error_count": len(tally.errors),
        "issuer_log_by_endpoint": dict(sorted(by_endpoint.items())),
        "osapp_metrics_by_endpoint": dict(sorted(from_metrics.items())),
        "osapp_endpoints": osapp_endpoints,
        "failed_in_transit_by_endpoint": dict(sorted(failed_in_transit.items())),
        "refresh_grants": refresh_grants,
        "rotations": rotations,
        "rotations_per_user_min": min(tally.rotations_per_family, default=0),
        "rotations_per_user_max": max(tally.rotations_per_family, default=0),
        "invalid_grant": invalid_grants,
        "refresh_outcomes": outcomes,
        "page_path_issuer_calls": page_path_calls,
        "issuer_calls_per_page_load_outside_refresh": page_path_calls / max(1, tally.page_loads),
        "checks": checks,
        "server_warnings": [
            line for line in server_log.splitlines()
            if any(word in line for word in (
                "WORKER TIMEOUT", "Traceback", " ERROR ", "CRITICAL",
                # an osapp -> issuer call that failed in transit, and what the coordinator did
                "issuer call failed", "refresh retry", "outcome=transient", "outcome=lock_timeout",
            ))
        ][:40],
        "worker_restarts": max(0, server_log.count("Booting worker") - args.workers),
        "locust_stats": stats_lines,
        "locust_percentiles": percentile_lines,
    }


def report(result: dict) -> str:
    c = result["config"]
    lines = [
        f"osapp load test: {c['users']} users x {c['tabs']} tabs, {c['minutes']} min, access-token TTL {c['ttl']} s, "
        f"OSAPP_REFRESH_SKEW {c['refresh_skew']} s, gunicorn {c['workers']} uvicorn workers, think {c['think_s'][0]}-{c['think_s'][1]} s",
        f"elapsed {result['elapsed_s']} s, load average before {result['load_average_before']}, "
        f"after {result['load_average']}",
        "",
        f"page loads            {result['page_loads']}  ({result['page_loads_per_s']}/s; pages and API, every tab)",
        f"latency               p50 {result['p50_ms']} ms   p99 {result['p99_ms']} ms   mean {result['mean_ms']} ms   max {result['max_ms']} ms",
        f"sign-ins              {result['sign_ins']}",
        f"sign-outs             {result['sign_outs']}  (unexpected anonymity: 302 to /auth/login, 401, landing page)",
        f"errors                {result['error_count']}",
        f"connection retries    {result['connection_retries']}  (a GET retried once after the server closed an idle "
        "keep-alive connection under it, as browsers do)",
        "",
        "issuer requests during the run, by endpoint    issuer log   osapp /metrics   failed in transit (osapp log)",
    ]
    endpoints = sorted(set(result["issuer_log_by_endpoint"]) | set(result["osapp_metrics_by_endpoint"]))
    for endpoint in endpoints:
        by_browser = endpoint.startswith(("browser", "other"))
        metric = result["osapp_metrics_by_endpoint"].get(endpoint, "-" if by_browser else 0)
        failed = "-" if by_browser else result["failed_in_transit_by_endpoint"].get(endpoint, 0)
        lines.append(
            f"  {endpoint:<44} {result['issuer_log_by_endpoint'].get(endpoint, 0):>10}   {metric:>14}   {failed:>10}"
        )
    lines += [
        "",
        f"refresh grants        {result['refresh_grants']}  (issuer: POST /token/ grant_type=refresh_token, 200)",
        f"rotations             {result['rotations']}  (distinct refresh tokens each user saw, minus one, summed; "
        f"per user {result['rotations_per_user_min']}..{result['rotations_per_user_max']})",
        f"invalid_grant         {result['invalid_grant']}",
        f"refresh outcomes      {json.dumps(result['refresh_outcomes'], sort_keys=True)}  (osapp /metrics)",
        f"issuer calls per page load outside refresh: {result['page_path_issuer_calls']} / {result['page_loads']}"
        f" = {result['issuer_calls_per_page_load_outside_refresh']:.4f}",
        "",
        "locust request statistics:",
        *result["locust_stats"],
        *result["locust_percentiles"],
        "",
        "targets:",
        *(f"  [{'PASS' if ok else 'FAIL'}] {name}" for name, ok in result["checks"].items()),
    ]
    if result["errors"]:
        lines += ["first errors:", *(f"  {e}" for e in result["errors"])]
    if result["server_warnings"]:
        lines += ["osapp log lines worth a look:", *(f"  {w}" for w in result["server_warnings"])]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ttl", type=int, default=60, help="access-token lifetime at the issuer, seconds")
    parser.add_argument("--skew", type=int, default=None, help="OSAPP_REFRESH_SKEW (default: TTL/4, at least 5)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn uvicorn workers")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="people starting per second")
    parser.add_argument("--think-min", type=float, default=1.0, help="seconds a tab waits between loads, at least")
    parser.add_argument("--think-max", type=float, default=2.0, help="... and at most")
    parser.add_argument("--min-rotations", type=int, default=None,
                        help="rotations every user must see (default: one per TTL of the run, minus one)")
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    if args.min_rotations is None:
        args.min_rotations = max(0, int(args.minutes * 60 // args.ttl) - 1)
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    result = run(args)
    print(report(result), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2, default=list)
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
