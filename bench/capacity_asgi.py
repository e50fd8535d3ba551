"""The capacity bench's ASGI app: Parley's own, plus a bare Channels echo consumer beside it.

`bench.capacity` serves this with Daphne (or uvicorn) so that both run in one process, on
the same server, settings and channel layer:

- `/stream/interaction`: Parley's socket, through the same middleware as `config.asgi`;
- `/bench/echo`: the bare consumer, a stock `AsyncWebsocketConsumer` (Channels' own
  dispatch, its stale-connection check before every message included) that speaks just
  enough of the protocol for the same learner script: `start` → `ready`, `ping` → `pong`,
  `stop` → `final`, audio frames taken and dropped. No ORM, no scoring, no ASR: what
  Channels and the server cost by themselves.

Not part of the product.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path, re_path

from config.asgi import application as parley

ECHO_PATH = "bench/echo"


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.seq = 0
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return  # audio: taken, dropped
        message: dict[str, Any] = json.loads(text_data)
        kind = message.get("type")
        if kind == "ping":
            await self.send(text_data=json.dumps({"type": "pong", "t": message.get("t")}))
        elif kind == "start":
            await self._event("ready", status="active", turn={"index": 0, "count": 3})
        elif kind == "stop":
            await self._event("final", outcome="correct", status="active", auto=False)

    async def _event(self, kind: str, **fields: Any) -> None:
        # seq 0: the bare consumer stores nothing, so the bench counts none of these as stored.
        await self.send(text_data=json.dumps({"type": kind, "seq": 0, "session": None, **fields}))


application = ProtocolTypeRouter(
    {
        "http": parley.application_mapping["http"],
        "websocket": URLRouter(
            [
                path(ECHO_PATH, EchoConsumer.as_asgi()),
                re_path(r"", parley.application_mapping["websocket"]),
            ]
        ),
    }
)
