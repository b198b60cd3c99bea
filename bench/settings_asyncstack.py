"""Bench only: osapp.settings without `osapp.sync_stack.SynchronousStack` — the stack before it.

Without it, Django's ASGI handler runs every middleware below WhiteNoise in async mode, and
each MiddlewareMixin hook (CommonMiddleware, CsrfViewMiddleware, XFrameOptionsMiddleware:
process_request, process_view, process_response) becomes its own sync_to_async thread
hand-off. `python -m bench.run` and `python -m bench.ab` measure the shipped stack against it,
so the gain that justified the change stays reproducible.
"""

from osapp.settings import *  # noqa: F403
from osapp.settings import MIDDLEWARE

SYNC_STACK = "osapp.sync_stack.SynchronousStack"

MIDDLEWARE = [m for m in MIDDLEWARE if m != SYNC_STACK]
