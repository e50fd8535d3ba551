"""A graceful stop for the sockets: on SIGTERM, every socket closes with 1001 (going away).

Daphne stops on SIGTERM by cancelling every application instance and dropping the
connections, so clients saw 1006 (abnormal closure) and the consumers' `disconnect()` never
ran: the events a connection had sent but not yet stored (they are stored in batches) were
lost. This middleware takes SIGTERM first (it installs its handler when the first socket
opens, once the server's own handler is in place): each open socket's application gets a
`websocket.disconnect` (code 1001), so the consumer cleans up as after any disconnect, and
the client gets a close frame with 1001 (4503 under Daphne, which refuses to send 1001 for
an application: `GOING_AWAY_PRIVATE`); after that, or after `GRACE_S`, the server's own
SIGTERM handler runs and the process stops as before. A second SIGTERM stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

GRACE_S = 5.0
CLOSE_HANDSHAKE_S = 1.0
GOING_AWAY = 1001
GOING_AWAY_PRIVATE = 4503
"""What Daphne sends instead: it refuses 1001 from an application (autobahn allows only
1000 and 3000-4999), so the same meaning gets a private code: the server is going away,
reconnect and resume."""

Message = dict[str, Any]


class _Socket:
    def __init__(self) -> None:
        self.accepted = self.closed = False
        # The process is stopping: disconnect the app.
        self.leaving = False
        self.receiving: asyncio.Task[Any] | None = None  # waiting for a message now
        self.interrupted = False  # `leave` cancelled that wait
        self.done = asyncio.Event()  # the app has returned

    def leave(self) -> None:
        """Disconnect the app: its next receive, or the one it is waiting in now."""
        if self.leaving:
            return
        self.leaving = True
        if self.receiving is not None:
            self.interrupted = True
            self.receiving.cancel()


class GracefulShutdown:
    """ASGI middleware for the websocket scope (see the module docstring)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.sockets: set[_Socket] = set()
        self._installed = False
        self._stopping = False
        self._previous: Any = None
        self._drain_task: asyncio.Future[None] | None = None

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "websocket":
            await self.application(scope, receive, send)
            return
        self._install()
        socket = _Socket()
        self.sockets.add(socket)

        async def receive_or_leave() -> Message:
            if socket.leaving:
                return {"type": "websocket.disconnect", "code": GOING_AWAY}
            # No task or wait per message (every audio frame comes through here): the
            # receiving task is remembered, and `_Socket.leave` interrupts it.
            socket.receiving = task = asyncio.current_task()
            try:
                return await receive()
            except asyncio.CancelledError:
                if socket.interrupted and task is not None and task.uncancel() == 0:
                    return {"type": "websocket.disconnect", "code": GOING_AWAY}
                raise  # cancelled by someone else too: theirs to handle
            finally:
                socket.receiving = None

        async def tracked_send(message: Message) -> None:
            if message["type"] == "websocket.accept":
                socket.accepted = True
            elif message["type"] == "websocket.close":
                socket.closed = True
            await send(message)

        try:
            await self.application(scope, receive_or_leave, tracked_send)
        finally:
            if socket.leaving and socket.accepted and not socket.closed:
                with contextlib.suppress(Exception):
                    try:
                        await send({"type": "websocket.close", "code": GOING_AWAY})
                    except Exception:  # Daphne (autobahn) sends only 1000 and 3000-4999
                        await send({"type": "websocket.close", "code": GOING_AWAY_PRIVATE})
                    # Wait for the client's close frame: stopping before it would drop the
                    # connection with our close frame still unsent (1006, not 1001).
                    async with asyncio.timeout(CLOSE_HANDSHAKE_S):
                        while (await receive())["type"] != "websocket.disconnect":
                            pass
            socket.done.set()
            self.sockets.discard(socket)

    def _install(self) -> None:
        if self._installed:
            return
        self._installed = True
        try:
            self._previous = signal.getsignal(signal.SIGTERM)
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            logger.info("no graceful socket shutdown: SIGTERM cannot be handled here")

    def _on_sigterm(self) -> None:
        if self._stopping:
            self._stop_now()
            return
        self._stopping = True
        self._drain_task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        sockets = list(self.sockets)
        logger.info("SIGTERM: closing %d sockets (1001) before stopping", len(sockets))
        for socket in sockets:
            socket.leave()
        waits = [asyncio.ensure_future(socket.done.wait()) for socket in sockets]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=GRACE_S)
            for wait in pending:
                wait.cancel()
        self._stop_now()

    def _stop_now(self) -> None:
        """Hand SIGTERM to the handler that was there before (the server's own)."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        previous = self._previous
        if callable(previous):
            previous(signal.SIGTERM, None)
            return
        signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
