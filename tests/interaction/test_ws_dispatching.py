"""The socket's dispatch loop: both sources, one handler at a time, no task per message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.exceptions import StopConsumer

from interaction.ws.dispatching import dispatch_one_at_a_time


class Source:
    """A message source fed by the test; `fail()` makes its next wait raise."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def __call__(self) -> dict[str, Any]:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def put(self, kind: str, **fields: Any) -> None:
        self.queue.put_nowait({"type": kind, **fields})

    def fail(self, error: BaseException) -> None:
        self.queue.put_nowait(error)


class Handlers:
    """Records what it handles; a message with `hold` waits for that event first."""

    def __init__(self) -> None:
        self.handled: list[str] = []
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if (hold := message.get("hold")) is not None:
                await hold.wait()
            if (error := message.get("raise")) is not None:
                raise error
            self.handled.append(message["type"])
        finally:
            self.running -= 1


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_both_sources_are_dispatched_one_handler_at_a_time() -> None:
    client, layer, handle = Source(), Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, layer, handle))
    hold = asyncio.Event()
    client.put("websocket.receive", hold=hold)
    await settle()
    layer.put("stream.takeover")
    client.put("websocket.receive.after")
    await settle()
    assert handle.handled == []  # the takeover waits for the held frame's handler
    hold.set()
    await settle()
    first, *rest = handle.handled
    assert (first, sorted(rest)) == (
        "websocket.receive",
        ["stream.takeover", "websocket.receive.after"],
    )
    assert handle.most_at_once == 1
    client.put("websocket.disconnect", **{"raise": StopConsumer()})
    with pytest.raises(StopConsumer):
        await loop


async def test_a_handler_that_raises_ends_the_loop_and_the_listener() -> None:
    client, layer, handle = Source(), Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, layer, handle))
    await settle()
    listeners = [t for t in asyncio.all_tasks() if t.get_name() == "channel-layer listener"]
    assert len(listeners) == 1
    client.put("websocket.receive", **{"raise": ValueError("a defect")})
    with pytest.raises(ValueError, match="a defect"):
        await loop
    assert listeners[0].cancelled()


async def test_a_failing_channel_layer_ends_the_loop_between_handlers_not_inside_one() -> None:
    client, layer, handle = Source(), Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, layer, handle))
    hold = asyncio.Event()
    client.put("websocket.receive", hold=hold)
    await settle()
    layer.fail(ConnectionError("the layer is gone"))
    await settle()
    assert not loop.done()  # the frame's handler is still running: it is not cut short
    hold.set()
    with pytest.raises(ConnectionError, match="the layer is gone"):
        await loop
    assert handle.handled == ["websocket.receive"]


async def test_a_failing_channel_layer_handler_ends_the_loop_with_its_error() -> None:
    client, layer, handle = Source(), Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, layer, handle))
    await settle()
    layer.put("stream.takeover", **{"raise": KeyError("owner")})
    with pytest.raises(KeyError):
        await loop


async def test_cancelled_from_outside_it_is_cancelled_and_lets_the_listener_go() -> None:
    client, layer, handle = Source(), Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, layer, handle))
    await settle()
    listener = next(t for t in asyncio.all_tasks() if t.get_name() == "channel-layer listener")
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert listener.cancelled()


async def test_without_a_channel_layer_only_the_client_is_read() -> None:
    client, handle = Source(), Handlers()
    loop = asyncio.create_task(dispatch_one_at_a_time(client, None, handle))
    client.put("websocket.connect")
    client.put("websocket.disconnect", **{"raise": StopConsumer()})
    with pytest.raises(StopConsumer):
        await loop
    assert handle.handled == ["websocket.connect"]


async def test_no_task_is_made_per_message() -> None:
    """What the loop is for: Channels' `await_many_dispatch` makes a task for every message."""
    made: list[str] = []
    loop = asyncio.get_running_loop()

    def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        made.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop, **kwargs)

    client, layer, handle = Source(), Source(), Handlers()
    loop.set_task_factory(counting_factory)
    try:
        running = asyncio.ensure_future(dispatch_one_at_a_time(client, layer, handle))
        for index in range(100):
            client.put(f"frame {index}")
        layer.put("stream.takeover")
        await settle()
        assert len(handle.handled) == 101
        assert len(made) == 2, made  # the loop itself and its listener
        client.put("websocket.disconnect", **{"raise": StopConsumer()})
        with pytest.raises(StopConsumer):
            await running
    finally:
        loop.set_task_factory(None)
