"""Benchmarks (a)-(c): one authenticated page, osapp against the alternatives, side by side.

    python -m bench.run [--rounds 5] [--seconds 5] [--workers 2] [--connections 8]

Starts one development issuer (1-hour tokens: no refresh during the run) and six gunicorn
servers with the same gunicorn.conf.py and worker count, differing only in
DJANGO_SETTINGS_MODULE:

    osapp       osapp.settings                 the product as shipped
    noauth      bench.settings_noauth          (a) authentication off: a fixed Principal
    nocache     bench.settings_nocache         (b) signature verified on every request
    userinfo    bench.settings_userinfo        (c) the issuer's userinfo on every request
    dbsession   bench.settings_dbsession       (c) a django.contrib.sessions row per request
    asyncstack  bench.settings_asyncstack      the middleware stack before osapp/sync_stack.py

It signs in once through the real flow, then loads each series with wrk (C, one thread, keep-alive
connections; a Lua script counts any answer that is not 200). Rounds interleave the series —
A B C … then … C B A — so drift and neighbours' load fall on all of them alike; a ratio is
computed inside each round and the median over rounds is reported. Besides requests/s it reads
the server's own CPU time (/proc) per request, which other load on the machine barely moves.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stack import cpu_seconds, free_port, issuer_stack, load_average, process_tree
from tests.support.browser import new_browser, sign_in
from tests.support.osapp_server import OsappServer

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_status.lua"
USER = ("carol", "carol-pass", "Carol Chen")  # the demo user with the most claims (3 orgs, 4 projects)
SUMMARY = re.compile(r"^BENCH (.*)$", re.M)

VARIANTS = {
    "osapp": "osapp.settings",
    "noauth": "bench.settings_noauth",
    "nocache": "bench.settings_nocache",
    "userinfo": "bench.settings_userinfo",
    "dbsession": "bench.settings_dbsession",
    # The middleware stack before osapp/sync_stack.py (docs/BENCHMARKS.md §4): before/after.
    "asyncstack": "bench.settings_asyncstack",
}
# (variant, path): every series measured in every round.
SERIES = [
    ("osapp", "/"),
    ("noauth", "/"),
    ("nocache", "/"),
    ("userinfo", "/"),
    ("dbsession", "/"),
    ("osapp", "/api/me"),
    ("noauth", "/api/me"),
    ("asyncstack", "/"),
    ("asyncstack", "/api/me"),
]
# (title, numerator series, denominator series, target): ratios of requests/s.
COMPARISONS = [
    ("(a) page /: auth on / auth off", ("osapp", "/"), ("noauth", "/"), 0.97),
    ("(a) API /api/me: auth on / auth off", ("osapp", "/api/me"), ("noauth", "/api/me"), 0.97),
    ("(b) page /: verified-claims cache / verify every request", ("osapp", "/"), ("nocache", "/"), 1.0),
    ("(c) page /: osapp / per-request userinfo", ("osapp", "/"), ("userinfo", "/"), 1.0),
    ("(c) page /: osapp / DB session per request", ("osapp", "/"), ("dbsession", "/"), 1.0),
    ("§4, page /: sync stack (shipped) / async stack", ("osapp", "/"), ("asyncstack", "/"), 1.0),
    ("§4, /api/me: sync stack (shipped) / async stack", ("osapp", "/api/me"), ("asyncstack", "/api/me"), 1.0),
]


@dataclass
class Sample:
    requests: int
    seconds: float
    not_ok: int
    mean_us: float
    p50_us: int
    p99_us: int
    server_cpu_s: float
    issuer_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * self.server_cpu_s / max(1, self.requests)

    @property
    def total_cpu_us_per_request(self) -> float:
        return 1e6 * (self.server_cpu_s + self.issuer_cpu_s) / max(1, self.requests)


def verified_claims(app: OsappServer, access_token: str) -> dict:
    """The access token's claims, verified with osapp's own code against the baked JWKS."""
    code = (
        "import json, sys, time\n"
        "from osapp.claims import get_runtime\n"
        "from osapp.claims.tokens import verify_access_claims\n"
        "v = get_runtime().verifier\n"
        "print(json.dumps(verify_access_claims(sys.stdin.read(), v.keys, v.policy, now=time.time())))\n"
    )
    env = {**app.env, "DJANGO_SETTINGS_MODULE": "osapp.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import sys, django; django.setup(); exec(sys.argv[1])", code],
        input=access_token, env=env, cwd=BENCH_DIR.parent, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def wrk(url: str, cookie: str, *, seconds: float, connections: int) -> dict[str, float]:
    completed = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(WRK_SCRIPT), "-H", f"Cookie: {cookie}", url],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    match = SUMMARY.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    return {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


def measure(app: OsappServer, issuer_pids: list[int], path: str, cookie: str, *, seconds: float,
            connections: int) -> Sample:
    server_pids = process_tree(app.process.pid)
    cpu_before, issuer_before = cpu_seconds(server_pids), cpu_seconds(issuer_pids)
    out = wrk(app.url + path, cookie, seconds=seconds, connections=connections)
    cpu_after, issuer_after = cpu_seconds(server_pids), cpu_seconds(issuer_pids)
    return Sample(
        requests=int(out["requests"]), seconds=out["duration_us"] / 1e6, not_ok=int(out["not_ok"] + out["errors"]),
        mean_us=out["mean_us"], p50_us=int(out["p50_us"]), p99_us=int(out["p99_us"]),
        server_cpu_s=cpu_after - cpu_before, issuer_cpu_s=issuer_after - issuer_before,
    )


def check_page(url: str, cookie: str, name: str) -> None:
    response = httpx.get(url, headers={"Cookie": cookie}, timeout=30)
    if response.status_code != 200 or name not in response.text:
        raise RuntimeError(f"{url} did not render for {name}: {response.status_code} {response.text[:300]}")


def run(args: argparse.Namespace) -> dict:
    username, password, display_name = USER
    port = free_port()
    started_load = load_average()
    with issuer_stack(ttl=3600, osapp_ports=[port]) as stack:
        apps: dict[str, OsappServer] = {}
        apps["osapp"] = stack.add_app("osapp", workers=args.workers, port=port)
        with new_browser() as browser:
            sign_in(browser, apps["osapp"].url, username, password)
            jar = {
                c.name: c.value for c in browser.cookies.jar
                if c.name in ("osapp_at", "osapp_idt", "osapp_rt", "csrftoken")
            }
        claims = verified_claims(apps["osapp"], jar["osapp_at"])
        token_cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        for name, settings in VARIANTS.items():
            if name == "osapp":
                continue
            env = {"DJANGO_SETTINGS_MODULE": settings}
            if name == "noauth":
                env["BENCH_FIXED_PRINCIPAL_CLAIMS"] = json.dumps(claims)
            apps[name] = stack.add_app(name, workers=args.workers, env=env)
        session_key = subprocess.run(
            [sys.executable, "-m", "bench.make_session"], input=json.dumps(claims), env=apps["dbsession"].env,
            cwd=BENCH_DIR.parent, capture_output=True, text=True, check=True,
        ).stdout.strip()
        cookies = {name: token_cookie for name in VARIANTS}
        # The server-side-session browser carries a session id (and the CSRF cookie) instead of tokens.
        cookies["dbsession"] = f"sessionid={session_key}; csrftoken={jar.get('csrftoken', '')}"
        issuer_pids = process_tree(stack.issuer.process.pid)

        for variant, path in SERIES:
            check_page(apps[variant].url + path, cookies[variant], display_name.split()[0])
            wrk(apps[variant].url + path, cookies[variant], seconds=args.warmup, connections=args.connections)

        samples: dict[tuple[str, str], list[Sample]] = {series: [] for series in SERIES}
        for round_index in range(args.rounds):
            order = SERIES if round_index % 2 == 0 else list(reversed(SERIES))
            for variant, path in order:
                sample = measure(apps[variant], issuer_pids, path, cookies[variant],
                                 seconds=args.seconds, connections=args.connections)
                samples[(variant, path)].append(sample)
                print(f"round {round_index + 1}/{args.rounds} {variant:<10} {path:<8} {sample.rps:8.0f} req/s "
                      f"cpu {sample.cpu_us_per_request:7.0f} µs/req  not-200 {sample.not_ok}", flush=True)
    finished_load = load_average()
    return summarize(samples, args, started_load, finished_load)


def summarize(samples, args, started_load: str, finished_load: str) -> dict:
    series = {}
    for (variant, path), runs in samples.items():
        series[f"{variant} {path}"] = {
            "rps": statistics.median(s.rps for s in runs),
            "us_per_request_wall": 1e6 / statistics.median(s.rps for s in runs),
            "server_cpu_us_per_request": statistics.median(s.cpu_us_per_request for s in runs),
            "total_cpu_us_per_request": statistics.median(s.total_cpu_us_per_request for s in runs),
            "p50_ms": statistics.median(s.p50_us for s in runs) / 1000,
            "p99_ms": statistics.median(s.p99_us for s in runs) / 1000,
            "not_200": sum(s.not_ok for s in runs),
            "rounds_rps": [round(s.rps) for s in runs],
        }
    comparisons = []
    for title, top, bottom, target in COMPARISONS:
        rps_ratios = [a.rps / b.rps for a, b in zip(samples[top], samples[bottom], strict=True)]
        cpu_ratios = [b.total_cpu_us_per_request / a.total_cpu_us_per_request for a, b in zip(samples[top], samples[bottom], strict=True)]
        comparisons.append({
            "title": title,
            "rps_ratio": statistics.median(rps_ratios),
            "rps_ratio_min": min(rps_ratios),
            "rps_ratio_max": max(rps_ratios),
            "cpu_ratio": statistics.median(cpu_ratios),
            "target": target,
        })
    return {
        "config": vars(args),
        "load_average_before": started_load,
        "load_average_after": finished_load,
        "series": series,
        "comparisons": comparisons,
    }


def report(result: dict) -> str:
    c = result["config"]
    lines = [
        f"benchmarks (a)-(c): gunicorn.conf.py, {c['workers']} uvicorn workers per server, wrk -t1 -c{c['connections']}, "
        f"{c['rounds']} interleaved rounds x {c['seconds']} s per series",
        f"load average before {result['load_average_before']}, after {result['load_average_after']}",
        "",
        f"{'series':<18} {'req/s':>8} {'µs/req (wall)':>14} {'server CPU µs/req':>18} {'+issuer CPU µs/req':>19} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'not 200':>8}",
    ]
    for name, s in result["series"].items():
        lines.append(
            f"{name:<18} {s['rps']:>8.0f} {s['us_per_request_wall']:>14.0f} {s['server_cpu_us_per_request']:>18.0f} "
            f"{s['total_cpu_us_per_request']:>19.0f} {s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} {s['not_200']:>8}"
        )
    lines += ["", f"{'comparison':<58} {'req/s ratio':>11} {'(min..max)':>15} {'CPU ratio':>10} {'target':>8}"]
    for comp in result["comparisons"]:
        verdict = "PASS" if comp["rps_ratio"] >= comp["target"] else "FAIL"
        lines.append(
            f"{comp['title']:<58} {comp['rps_ratio']:>11.3f} {comp['rps_ratio_min']:>7.3f}..{comp['rps_ratio_max']:<7.3f}"
            f" {comp['cpu_ratio']:>10.3f} {'≥ ' + format(comp['target'], '.2f'):>8} {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per series and round")
    parser.add_argument("--warmup", type=int, default=2, help="wrk warm-up per series")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="uvicorn workers per server")
    parser.add_argument("--connections", type=int, default=8, help="wrk keep-alive connections")
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run(args)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    errors = sum(s["not_200"] for s in result["series"].values())
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
