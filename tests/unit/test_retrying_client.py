"""The test suite's browser-like clients: one retry of an idempotent request, nothing more."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from tests.support.retry import AsyncRetryingTransport, RetryingTransport, retries

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class ClosesFirstConnection:
    """A server whose first connection is closed after the request arrives, unanswered (a
    keep-alive connection closed by the server as the client reused it); later ones answer."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.recv(65536)
                if self.connections > 1:
                    conn.sendall(ANSWER)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server():
    s = ClosesFirstConnection()
    yield s
    s.close()


def test_a_get_on_a_connection_closed_unanswered_is_retried_once_and_counted(server):
    before = retries()
    with httpx.Client(transport=RetryingTransport(), timeout=10) as client:
        assert client.get(server.url).text == "ok"
    assert retries() - before == 1 and server.connections == 2


def test_the_async_client_retries_a_get_the_same_way(server):
    import asyncio

    async def get() -> str:
        async with httpx.AsyncClient(transport=AsyncRetryingTransport(), timeout=10) as client:
            return (await client.get(server.url)).text

    before = retries()
    assert asyncio.run(get()) == "ok"
    assert retries() - before == 1


def test_a_post_is_never_retried(server):
    before = retries()
    with httpx.Client(transport=RetryingTransport(), timeout=10) as client, pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post(server.url, content=b"x")
    assert retries() == before and server.connections == 1
