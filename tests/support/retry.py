"""Test clients that behave like browsers on a closed keep-alive connection.

A server may close an idle keep-alive connection just as the client reuses it; the request
then dies with no response. Browsers retry an idempotent request once in that case (RFC 9112
§9.3.1.1), so these transports do too, for GET and HEAD only, and count every retry so a test
can print how many it needed. Anything else (a 5xx, a timeout, a failure on a fresh retry) is
the test's to see.
"""

from __future__ import annotations

import threading

import httpx

IDEMPOTENT = {"GET", "HEAD"}
_lock = threading.Lock()
_retries = 0


def retries() -> int:
    """How many requests were retried on a closed connection, in this process so far."""
    return _retries


def _closed_before_answer(exc: Exception) -> bool:
    if isinstance(exc, httpx.RemoteProtocolError):
        return "without sending a response" in str(exc)
    return isinstance(exc, (httpx.ReadError, httpx.WriteError)) and any(
        word in str(exc) for word in ("reset", "Broken pipe", "EOF")
    )


def _count() -> None:
    global _retries
    with _lock:
        _retries += 1


class RetryingTransport(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if request.method not in IDEMPOTENT or not _closed_before_answer(exc):
                raise
            _count()
            return super().handle_request(request)


class AsyncRetryingTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if request.method not in IDEMPOTENT or not _closed_before_answer(exc):
                raise
            _count()
            return await super().handle_async_request(request)
