"""interaction/ws/routing.py: the socket's one route."""

from __future__ import annotations

from interaction.ws.consumer import InteractionConsumer
from interaction.ws.routing import websocket_urlpatterns


def test_the_stream_route_reaches_the_consumer() -> None:
    match = websocket_urlpatterns[0].resolve("stream/interaction")
    assert match is not None
    assert match.func.consumer_class is InteractionConsumer
    assert websocket_urlpatterns[0].resolve("stream/other") is None
