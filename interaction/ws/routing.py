"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from interaction.ws.consumer import InteractionConsumer

websocket_urlpatterns = [
    path("stream/interaction", InteractionConsumer.as_asgi()),
]
