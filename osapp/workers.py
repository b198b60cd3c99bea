"""The gunicorn worker class: uvicorn (ASGI) with a request-head limit sized for token cookies.

h11's default (16 KiB for the whole request head) is too small once an access token, an ID
token, a refresh token and their chunks ride in the Cookie header (DESIGN §11). The bound stays
finite so a hostile client cannot make a worker buffer an unbounded head.
"""

from uvicorn_worker import UvicornWorker

# access (≤ OSAPP_MAX_TOKEN_BYTES, 16 KiB) + ID token (≤ 16 KiB) + refresh + CSRF + headers.
MAX_REQUEST_HEAD_BYTES = 64 * 1024


class OsappUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "asyncio",
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        "lifespan": "off",
    }
