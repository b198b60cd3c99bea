"""In-process A/B through Django's ASGI handler: the small differences a loaded machine hides.

    python -m bench.ab [--rounds 30] [--batch 60]

wrk against gunicorn (bench/run.py) is the real thing, but on a shared 2-core machine its
round-to-round noise is a few per cent — as large as what benchmark (a) asks about. Here every
variant is an `ASGIHandler` built in the same process (same code, same token, same Principal),
called exactly as uvicorn calls it, minus the socket and HTTP parsing; batches alternate
A B C, C B A, … and each batch is timed in process CPU time (all threads), so a neighbour's
burst costs wall time but hardly CPU time. Reported: CPU µs per request (median over batches)
and the median of the per-round ratios.

    osapp      osapp.settings' MIDDLEWARE, as shipped
    noauth     the same with ClaimsSessionMiddleware replaced by a fixed Principal (auth off)
    asyncstack the same without osapp.sync_stack.SynchronousStack: the stack before it (§4)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

# isort: off
from bench.profile import asgi_page, cookies  # configures Django first (environment, setup)
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.management import call_command
from django.test.utils import override_settings
# isort: on

CLAIMS_MIDDLEWARE = "osapp.claims.middleware.ClaimsSessionMiddleware"
SYNC_STACK = "osapp.sync_stack.SynchronousStack"
PATHS = ("/", "/api/me")


def variants() -> dict[str, list[str]]:
    shipped = list(settings.MIDDLEWARE)
    return {
        "osapp": shipped,
        "noauth": ["bench.middleware.FixedPrincipalMiddleware" if m == CLAIMS_MIDDLEWARE else m for m in shipped],
        "asyncstack": [m for m in shipped if m != SYNC_STACK],
    }


def handler_for(middleware: list[str]) -> ASGIHandler:
    with override_settings(MIDDLEWARE=middleware):
        return ASGIHandler()  # loads (and adapts) the middleware chain now


def isolated_auth_us(jar: dict[str, str]) -> dict[str, float]:
    """µs per request of the claims middleware alone (warm cache) and of the auth-off stand-in,
    each around a view that does nothing — the cost (a) is about, without the page's noise."""
    import timeit

    from django.http import HttpResponse
    from django.test import RequestFactory

    from bench.middleware import FixedPrincipalMiddleware
    from osapp.claims.middleware import ClaimsSessionMiddleware

    response = HttpResponse()
    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    costs = {}
    for name, middleware_class in (("claims", ClaimsSessionMiddleware), ("fixed", FixedPrincipalMiddleware)):
        middleware = middleware_class(lambda request: response)

        def one(middleware=middleware):
            request = factory.get("/")
            request.COOKIES = dict(jar)
            middleware(request)

        one()
        costs[name] = min(timeit.repeat(one, number=2000, repeat=7)) / 2000 * 1e6
    return costs


def batch_cpu_us(loop: asyncio.AbstractEventLoop, load, batch: int) -> float:
    started = time.process_time()
    for _ in range(batch):
        loop.run_until_complete(load())
    return (time.process_time() - started) / batch * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    jar = cookies()
    handlers = {name: handler_for(mw) for name, mw in variants().items()}
    loop = asyncio.new_event_loop()
    result: dict = {"rounds": args.rounds, "batch": args.batch, "paths": {}}
    for path in PATHS:
        loads = {name: asgi_page(path, jar, application=handler) for name, handler in handlers.items()}
        for load in loads.values():  # warm-up
            batch_cpu_us(loop, load, 20)
        samples: dict[str, list[float]] = {name: [] for name in loads}
        for round_index in range(args.rounds):
            order = list(loads) if round_index % 2 == 0 else list(reversed(loads))
            for name in order:
                samples[name].append(batch_cpu_us(loop, loads[name], args.batch))
        per_round = {
            "auth on / auth off (CPU)": [b / a for a, b in zip(samples["osapp"], samples["noauth"], strict=True)],
            "sync stack speed-up (CPU)": [b / a for a, b in zip(samples["osapp"], samples["asyncstack"], strict=True)],
        }
        result["paths"][path] = {
            "cpu_us": {name: round(statistics.median(values)) for name, values in samples.items()},
            "ratios": {k: round(statistics.median(v), 3) for k, v in per_round.items()},
            # The spread of the per-round ratios: what one round's noise looks like.
            "ratio_quartiles": {k: [round(q, 3) for q in statistics.quantiles(v, n=4)] for k, v in per_round.items()},
        }
    loop.close()
    result["isolated_us"] = isolated_auth_us(jar)
    print(f"in-process ASGI A/B, {args.rounds} alternating rounds x {args.batch} requests, CPU µs/request (median)")
    print(f"{'path':<8} {'osapp':>7} {'noauth':>7} {'asyncstack':>10}   {'auth on/off (IQR)':>27} {'sync stack speed-up (IQR)':>27}")
    for path, r in result["paths"].items():
        c, q = r["cpu_us"], r["ratios"]
        iq = r["ratio_quartiles"]
        auth_iq, sync_iq = iq["auth on / auth off (CPU)"], iq["sync stack speed-up (CPU)"]
        print(f"{path:<8} {c['osapp']:>7} {c['noauth']:>7} {c['asyncstack']:>10}   "
              f"{q['auth on / auth off (CPU)']:>11.3f} ({auth_iq[0]:.3f}..{auth_iq[2]:.3f})"
              f" {q['sync stack speed-up (CPU)']:>10.3f} ({sync_iq[0]:.3f}..{sync_iq[2]:.3f})")
    print("auth on/off = requests per CPU-second with auth / without (target ≥ 0.97); speed-up = CPU per "
          "request with the async stack / as shipped; medians of per-round ratios (interquartile range)")
    iso = result["isolated_us"]
    delta = iso["claims"] - iso["fixed"]
    page = result["paths"]["/"]["cpu_us"]["osapp"]
    print(f"isolated, around an empty view: claims middleware {iso['claims']:.1f} µs, auth-off stand-in "
          f"{iso['fixed']:.1f} µs per request: auth costs {delta:.1f} µs, i.e. auth on/off = "
          f"{(page - delta) / page:.3f} on the {page} µs page")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
