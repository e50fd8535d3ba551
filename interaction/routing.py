"""WebSocket routes; the streaming consumer comes with the streaming issue."""

from __future__ import annotations

websocket_urlpatterns: list = []
