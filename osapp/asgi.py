"""ASGI entry point (gunicorn with uvicorn workers): HTTP through Django, WebSockets through
channels behind an Origin check (cross-site WebSocket hijacking) and claims verification."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osapp.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - after Django setup

from osapp.claims import ClaimsWebSocketMiddleware, SameOriginValidator  # noqa: E402
from osapp.workspace.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            ClaimsWebSocketMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
