"""DESIGN §7: a WebSocket handshake is judged like a page: same cookies, exact Origin.

Through osapp's real ASGI application (channels routing, SameOriginValidator, claims
middleware, the consumer). The user is authenticated but not a member of SOCKET's project, so
the three outcomes are distinct without waiting: refused before the handshake (Origin),
4401 (no valid token), 4403 (authenticated).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from osapp.asgi import application
from tests.support import tokens

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_issuer")]

SOCKET = "/ws/o/initech/p/tps-reports/"  # not in tests.support.tokens' projects
ORIGIN_REFUSED, UNAUTHENTICATED, AUTHENTICATED = "refused before handshake", 4401, 4403


async def _handshake(headers: list[tuple[bytes, bytes]], scheme: str) -> object:
    scope = {"type": "websocket", "scheme": scheme, "path": SOCKET, "query_string": b"",
             "headers": headers, "subprotocols": []}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    first = await communicator.receive_output(timeout=5)
    message = first if first["type"] != "websocket.accept" else await communicator.receive_output(timeout=5)
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    await communicator.wait(timeout=5)
    assert message["type"] == "websocket.close", message
    return ORIGIN_REFUSED if first["type"] == "websocket.close" else message.get("code")


def handshake(cookie: str, origin: str | None = "http://localhost", host: str = "localhost",
              scheme: str = "ws") -> object:
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode("latin-1"))]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return asyncio.run(_handshake(headers, scheme))


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "outcome"),
    [
        ("http://localhost", "localhost", "ws", AUTHENTICATED),
        ("http://LOCALHOST:80", "localhost", "ws", AUTHENTICATED),
        ("https://localhost", "localhost", "wss", AUTHENTICATED),
        ("http://localhost:8001", "localhost", "ws", ORIGIN_REFUSED),  # another service, same host
        ("https://localhost", "localhost", "ws", ORIGIN_REFUSED),  # another scheme
        ("http://localhost", "localhost", "wss", ORIGIN_REFUSED),
        ("http://evil.example", "localhost", "ws", ORIGIN_REFUSED),
        ("http://evil.example", "evil.example", "ws", ORIGIN_REFUSED),  # Host not allowed
        ("null", "localhost", "ws", ORIGIN_REFUSED),
        (None, "localhost", "ws", ORIGIN_REFUSED),
    ],
)
def test_a_socket_opens_only_from_this_sites_exact_origin(origin, host, scheme, outcome):
    assert handshake(f"osapp_at={tokens.access_token()}", origin, host, scheme) == outcome


def test_with_a_base_url_only_its_origin_opens_a_socket():
    from osapp.claims.websocket import origin_refusal

    scope = {"scheme": "ws", "headers": [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]}
    assert origin_refusal(scope, "http://127.0.0.1:8000") is None
    assert origin_refusal(scope, "http://127.0.0.1:8000/") is None
    assert origin_refusal(scope, "https://app.example") == "Origin is not this site's origin"
    scope["headers"] = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:9000")]
    assert origin_refusal(scope, "http://127.0.0.1:8000") == "Origin is not this site's origin"
    two = {"scheme": "ws", "headers": [(b"origin", b"http://127.0.0.1:8000"), (b"origin", b"http://x")]}
    assert origin_refusal(two, "http://127.0.0.1:8000") == "no single Origin header"


def test_a_cookie_smuggled_into_another_cookies_value_is_that_value_on_sockets_and_pages():
    # A sibling subdomain can set `x=1 osapp_at=<token>`; the page parses it as the value of
    # `x`, so the socket must too, and both see the first `osapp_at` only.
    smuggled = f"osapp_at=junk; x=1 osapp_at={tokens.access_token()}"
    assert handshake(smuggled) == UNAUTHENTICATED
    page = Client().get("/o/acme/p/website/", headers={"Cookie": smuggled})
    assert page.status_code == 302
    assert handshake(f"x=1; osapp_at={tokens.access_token()}") == AUTHENTICATED
