"""Profile one authenticated page on the hot path, in-process (pyinstrument).

    python -m bench.profile [--requests 3000] [--path /] [--output docs/profile-authenticated-page.txt]

osapp.settings as deployed (the full middleware stack, prometheus-client in multiprocess mode
as under gunicorn), a token signed with a local key (tests/support/tokens.py) carrying the
claims of the demo user with the most memberships, the verified-claims cache warm — i.e. the
state of every request but the first of a token. Two measurements:

- the profile, through Django's test client (everything on one thread, which is what
  pyinstrument samples), written as text to `--output`;
- µs per request through the ASGI application itself (as uvicorn calls it, no socket),
  because that path adds the sync/async hand-offs the test client does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

STATE = Path(tempfile.mkdtemp(prefix="osapp-profile-"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(STATE / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from tests.support import tokens  # noqa: E402

os.environ.update({
    "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "osapp.settings"),
    "OSAPP_ISSUER": tokens.ISSUER,
    "OSAPP_CLIENT_ID": tokens.CLIENT_ID,
    "OSAPP_CLIENT_SECRET": "bench-only",  # osapp has no default; no issuer call is made here
    "OSAPP_AUDIENCE": tokens.AUDIENCE,
    "OSAPP_JWKS": tokens.jwks_json("main"),
    "OSAPP_COOKIE_SECURE": "0",
    "OSAPP_STATE_DIR": str(STATE),
    "DATABASE_URL": f"sqlite:///{STATE / 'osapp.sqlite3'}",
})
os.environ.pop("OSAPP_JWKS_FILE", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

# The demo user with the most memberships (carol): 3 organizations, 4 projects.
CLAIMS = {
    "name": "Carol Chen",
    "email": "carol@example.test",
    "orgs": [
        {"id": "1", "slug": "acme", "name": "Acme Corp", "role": "admin"},
        {"id": "2", "slug": "globex", "name": "Globex Corporation", "role": "member"},
        {"id": "3", "slug": "initech", "name": "Initech", "role": "owner"},
    ],
    "projects": [
        {"id": "2", "slug": "mobile-app", "name": "Mobile App", "org_id": "1"},
        {"id": "3", "slug": "billing", "name": "Billing", "org_id": "2"},
        {"id": "5", "slug": "tps-reports", "name": "TPS Reports", "org_id": "3"},
        {"id": "6", "slug": "printer", "name": "Printer", "org_id": "3"},
    ],
}


TOKEN_CLAIMS = tokens.access_claims(exp=int(time.time()) + 3600, **CLAIMS)
# Only read by bench.settings_noauth (auth off, for comparison): the same Principal, fixed.
os.environ.setdefault("BENCH_FIXED_PRINCIPAL_CLAIMS", json.dumps(TOKEN_CLAIMS))


def cookies() -> dict[str, str]:
    token = tokens.sign(TOKEN_CLAIMS)
    return {"osapp_at": token, "osapp_rt": "r" * 43, "csrftoken": "c" * 32}


def client_page(path: str, jar: dict[str, str]):
    client = Client(HTTP_HOST="127.0.0.1")
    for name, value in jar.items():
        client.cookies[name] = value

    def load():
        response = client.get(path)
        assert response.status_code == 200 and b"Carol Chen" in response.content, response.status_code
    return load


def asgi_page(path: str, jar: dict[str, str], application=None):
    if application is None:
        from osapp.asgi import application

    cookie = "; ".join(f"{k}={v}" for k, v in jar.items()).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }

    async def load():
        sent = []
        pending = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if pending:
                return pending.pop()
            await asyncio.Event().wait()  # no disconnect: the handler cancels this when done

        async def send(message):
            sent.append(message)

        await application(dict(scope), receive, send)
        assert sent[0]["status"] == 200, sent[0]
    return load


def time_per_request(load, requests: int, *, is_async: bool) -> tuple[float, float]:
    """(CPU µs, wall µs) per request, medians of 5 batches. CPU is the whole process's, every
    thread included, so it counts the sync work the ASGI path runs in worker threads."""
    cpu, wall = [], []
    loop = asyncio.new_event_loop() if is_async else None
    try:
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(requests // 5):
                loop.run_until_complete(load()) if loop else load()
            cpu.append((time.process_time() - started_cpu) / (requests // 5) * 1e6)
            wall.append((time.perf_counter() - started) / (requests // 5) * 1e6)
    finally:
        if loop:
            loop.close()
    return statistics.median(cpu), statistics.median(wall)


def hand_offs_per_request(load, requests: int = 50) -> dict[str, float]:
    """How often one ASGI request crosses between the event loop and threads."""
    import threading

    from asgiref import sync

    counts = {"sync_to_async": 0, "async_to_sync": 0, "threads_started": 0}
    originals = (sync.SyncToAsync.__call__, sync.AsyncToSync.__call__, threading.Thread.start)

    def counting(name, original):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return wrapper

    sync.SyncToAsync.__call__ = counting("sync_to_async", originals[0])
    sync.AsyncToSync.__call__ = counting("async_to_sync", originals[1])
    threading.Thread.start = counting("threads_started", originals[2])
    loop = asyncio.new_event_loop()
    try:
        for _ in range(requests):
            loop.run_until_complete(load())
    finally:
        sync.SyncToAsync.__call__, sync.AsyncToSync.__call__, threading.Thread.start = originals
        loop.close()
    return {name: count / requests for name, count in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--path", default="/")
    parser.add_argument("--output", default="docs/profile-authenticated-page.txt")
    parser.add_argument("--no-profile", action="store_true", help="only time the page")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    jar = cookies()
    load = client_page(args.path, jar)
    for _ in range(200):  # warm: caches, templates, the verified-claims cache
        load()
    asgi_load = asgi_page(args.path, jar)
    for _ in range(50):
        asyncio.run(asgi_load())
    client_cpu, client_wall = time_per_request(load, args.requests, is_async=False)
    asgi_cpu, asgi_wall = time_per_request(asgi_load, args.requests, is_async=True)
    hops = hand_offs_per_request(asgi_load)
    timings = {
        "settings": os.environ["DJANGO_SETTINGS_MODULE"],
        "path": args.path,
        "test_client_cpu_us": round(client_cpu), "test_client_wall_us": round(client_wall),
        "asgi_cpu_us": round(asgi_cpu), "asgi_wall_us": round(asgi_wall),
        **{f"asgi_{k}_per_request": v for k, v in hops.items()},
    }
    print(json.dumps(timings))
    if args.no_profile:
        return 0
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.requests):
        load()
    profiler.stop()
    header = (
        f"# pyinstrument profile: GET {args.path} x {args.requests}, authenticated (warm verified-claims cache),\n"
        f"# osapp.settings, Django test client, in-process. python -m bench.profile\n"
        f"# CPU µs/request (process, all threads): test client {client_cpu:.0f}, ASGI application {asgi_cpu:.0f}\n"
        f"# per ASGI request: {hops['sync_to_async']:.0f} sync_to_async + {hops['async_to_sync']:.0f} async_to_sync "
        f"hand-offs, {hops['threads_started']:.0f} threads started\n"
    )
    # Django's own frames are what a page spends its time in: show the template engine, URL
    # reversing, CSRF and the middleware (pyinstrument hides library frames by default).
    options = {
        "show_regex": r".*(osapp/|django/(template|urls|middleware|utils/deprecation|core/handlers)).*",
        "filter_threshold": 0.01,
    }
    tree = profiler.output_text(unicode=True, color=False, time="percent_of_total", processor_options=options)
    text = tree
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(header + text)
    print(text[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
