"""Parley's Daphne: `python -m config.server [daphne options] config.asgi:application`.

Daphne (Twisted) reads a whole request body into a buffer before it calls the ASGI
application, so no Django code can refuse an oversized upload in time: by then the server has
received, stored and queued every byte. This entry point is Daphne with one change at the
Twisted request: a body larger than `settings.PARLEY_MAX_REQUEST_BYTES` is refused with 413
(the API's JSON error shape) as soon as the `Content-Length` header shows it, before a byte of
it is read, and a chunked body is cut off the moment it passes the limit. Either way the
connection is closed and nothing reaches the application. The settings are Django's (the
application is imported before the server starts), read at each request.

`--processes N` (or `PARLEY_WEB_PROCESSES=N`, `auto` for one per core) runs N such servers
on the one port (config/workers.py): one process uses one core at most. Each runs on uvloop
unless `PARLEY_EVENT_LOOP=asyncio` (config/event_loop.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
from typing import Any

from config.event_loop import event_loop_install

if __name__ == "__main__":  # the server: its loop is chosen before daphne.server makes it
    event_loop_install()

from daphne import server as daphne_server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server

from config.workers import process_count, serve

logger = logging.getLogger("parley.server")
# After a refusal: how much more of the body is read (and dropped), and for how long, before
# the connection is aborted.
LINGER_BYTES = 1024 * 1024
LINGER_S = 5.0


def max_request_bytes() -> int:
    from django.conf import settings

    return int(settings.PARLEY_MAX_REQUEST_BYTES)


def too_large_response(limit: int) -> bytes:
    """A complete HTTP/1.1 413 response that closes the connection."""
    body = json.dumps(
        {
            "detail": f"The request body is larger than the limit of {limit:,} bytes.",
            "code": "request_too_large",
        }
    ).encode()
    head = (
        "HTTP/1.1 413 Request Entity Too Large\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


class SizeLimitedRequest(WebRequest):
    """Daphne's request, refusing a body over the limit before buffering it."""

    _refused = False
    _received = 0
    _discarded = 0

    def gotLength(self, length: int | None) -> None:
        limit = max_request_bytes()
        if length is not None and length > limit:
            self._refuse(limit, declared=length)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            self._discard(len(data))
            return
        self._received += len(data)
        limit = max_request_bytes()
        if self._received > limit:
            self._refuse(limit, declared=None)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self._refused:
            super().requestReceived(command, path, version)

    def _refuse(self, limit: int, *, declared: int | None) -> None:
        self._refused = True
        # No "100 Continue" after the refusal (the channel sends it after gotLength).
        self.requestHeaders.removeHeader(b"Expect")
        logger.warning(
            "Refused a request body over %d bytes (%s) from %s",
            limit,
            f"declared {declared}" if declared is not None else "chunked",
            self.getClientAddress(),
        )
        transport = self.channel.transport if self.channel is not None else None
        if transport is None:
            return
        transport.write(too_large_response(limit))
        # A lingering close: the response, then our end of the connection (FIN), while what
        # the client already sent is read and dropped, so that it reads the 413 instead of a
        # reset. A client that goes on sending is cut off after LINGER_BYTES or LINGER_S.
        transport.loseWriteConnection()
        # Daphne runs Twisted on the asyncio event loop.
        asyncio.get_event_loop().call_later(LINGER_S, transport.abortConnection)

    def _discard(self, size: int) -> None:
        self._discarded += size
        if self._discarded > LINGER_BYTES and self.channel is not None:
            self.channel.transport.abortConnection()


class SizeLimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = SizeLimitedRequest
        return protocol


def collector_settle() -> None:
    """Move everything loaded at start (Django, the app, its libraries: ~126,000 objects)
    out of the cyclic collector's way: a full collection walks every tracked object, and
    those are never garbage. A full collection is a pause on the event loop, every socket's
    ping waiting; at 100 streaming learners they took 85-243 ms before, 51-114 ms after
    (docs/performance.md, issue 19's third round).

    Then the young generation's threshold (`PARLEY_GC_YOUNG_THRESHOLD`): at Python's 700 a
    streaming server ran ~8 young collections a second, 2.5-3.5 % of a core at 100
    learners; at 3,000 about one, half that CPU or less, young pauses of ~10 ms and the
    middle generation's up to ~50 ms (issue 19's fourth round)."""
    from django.conf import settings

    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(int(settings.PARLEY_GC_YOUNG_THRESHOLD), older, oldest)


class ParleyServer(Server):
    def run(self) -> None:
        collector_settle()
        loop = daphne_server.twisted_loop
        logger.info("serving on the %s event loop", type(loop).__module__.split(".")[0])
        # daphne.server.Server.run builds its factory from this module-level name.
        daphne_server.HTTPFactory = SizeLimitedHTTPFactory
        super().run()


class ParleyCommandLine(CommandLineInterface):
    server_class = ParleyServer


def split_processes(argv: list[str]) -> tuple[int, str | None, int | None, list[str]]:
    """`--processes N` (else PARLEY_WEB_PROCESSES, else 1), `-b`/`--bind` and `-p`/`--port`
    taken out of Daphne's arguments; the rest as given."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--processes", default=os.environ.get("PARLEY_WEB_PROCESSES"))
    parser.add_argument("-b", "--bind", dest="host")
    parser.add_argument("-p", "--port", type=int)
    known, rest = parser.parse_known_args(argv)
    return process_count(known.processes), known.host, known.port, rest


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    processes, host, port, rest = split_processes(args)
    if processes > 1:
        if port is None:
            raise SystemExit("--processes needs -p PORT (and -b HOST, default 127.0.0.1)")
        sys.exit(serve(processes, host or "127.0.0.1", port, rest))
    daphne_args = [*(["-b", host] if host else []), *(["-p", str(port)] if port else []), *rest]
    ParleyCommandLine().run(daphne_args)


if __name__ == "__main__":
    main()
