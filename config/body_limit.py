"""An ASGI guard for the request-size limit, for servers that stream bodies to the app.

Daphne buffers whole bodies before the application runs, so under Daphne the limit lives in
config.server. A server that streams the body (uvicorn, hypercorn) reaches the application
first; this guard then refuses a declared `Content-Length` over `PARLEY_MAX_REQUEST_BYTES`
before reading anything, and ends a streamed body the moment it passes the limit (Django reads
the whole body before it answers, so the 413 is the only response).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

Scope = dict[str, Any]


def _too_large(limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps(
        {
            "detail": f"The request body is larger than the limit of {limit:,} bytes.",
            "code": "request_too_large",
        }
    ).encode()
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodySizeLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(settings.PARLEY_MAX_REQUEST_BYTES)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            for message in _too_large(limit):
                await send(message)
            return
        received = 0
        refused = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    for reply in _too_large(limit):
                        await send(reply)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
