"""The gunicorn worker class: uvicorn (ASGI) with a request-head limit sized for token cookies.

h11's default (16 KiB for the whole request head) is too small once an access token, an ID
token, a refresh token and their chunks ride in the Cookie header (DESIGN §11). The bound stays
finite so a hostile client cannot make a worker buffer an unbounded head.

h11 enforces its own limit only on a head that is still incomplete after a read, so a larger
head that arrives in one read passed (measured: 100 KB served), and a refused one got a 400
followed by a close with unread data, which the client sees as a TCP reset (150 KB and up).
`BoundedHeadH11Protocol` counts the head itself: past MAX_REQUEST_HEAD_BYTES it answers
431 Request Header Fields Too Large (RFC 6585 §5), stops writing, and reads and discards what
the client is still sending before closing, so the client reads the answer instead of a reset.
"""

from __future__ import annotations

import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

log = logging.getLogger("osapp.workers")

# access (≤ OSAPP_MAX_TOKEN_BYTES, 16 KiB) + ID token (≤ 16 KiB) + refresh + CSRF + headers.
MAX_REQUEST_HEAD_BYTES = 64 * 1024
# How long and how much a refused client may keep sending before the connection is closed.
DISCARD_SECONDS = 5.0
DISCARD_BYTES = 16 * 1024 * 1024
HEAD_END = b"\r\n\r\n"
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 37\r\n\r\n"
    b"Request header fields are too large.\n"
)


class BoundedHeadH11Protocol(H11Protocol):
    _head_bytes = 0
    _head_tail = b""
    _discarded: int | None = None  # set once refused: bytes thrown away since

    def data_received(self, data: bytes) -> None:
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > DISCARD_BYTES:
                self.transport.close()
            return
        if self.conn.their_state is h11.IDLE:  # reading a request head
            window = self._head_tail + data
            end = window.find(HEAD_END)
            if end < 0:
                self._head_bytes += len(data)
                self._head_tail = window[-(len(HEAD_END) - 1) :]
            else:
                self._head_bytes += end + len(HEAD_END) - len(self._head_tail)
            if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
                return self._refuse()
            if end >= 0:
                self._head_bytes, self._head_tail = 0, b""
        super().data_received(data)

    def _refuse(self) -> None:
        log.warning("request refused status=431 reason='request head over %d bytes'", MAX_REQUEST_HEAD_BYTES)
        self._discarded = 0
        self.transport.write(TOO_LARGE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(DISCARD_SECONDS, self.transport.close)


class OsappUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "asyncio",
        "http": BoundedHeadH11Protocol,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        "lifespan": "off",
    }
