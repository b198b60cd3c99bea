"""Bench only: osapp.settings with the middleware change proposed in docs/BENCHMARKS.md.

Django's ASGI handler runs a middleware in async mode when everything below it can; in async
mode each MiddlewareMixin hook (CommonMiddleware, CsrfViewMiddleware, XFrameOptionsMiddleware:
process_request, process_view, process_response) is its own sync_to_async thread hand-off —
ten per page. A sync-only middleware at the very end makes the stack above it synchronous:
it runs in the request's thread, with Django's two unavoidable hand-offs around the view.
WhiteNoise stays where it is, so static files still skip the rest of the stack.
Measured side by side with osapp.settings by `python -m bench.run` and `python -m bench.profile`.
"""

from osapp.settings import *  # noqa: F403
from osapp.settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "bench.middleware.SynchronousStack"]
