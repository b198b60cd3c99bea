"""WebSocket routes of the workspace."""

from django.urls import path

from .consumers import ProjectEventsConsumer

websocket_urlpatterns = [
    path("ws/o/<slug:org>/p/<slug:project>/", ProjectEventsConsumer.as_asgi()),
]
