"""interaction/ws/tasks.py: a connection's background tasks, tracked one way."""

from __future__ import annotations

import asyncio

from interaction.ws.tasks import TaskSet


async def test_failures_are_reported_and_cancellations_are_not() -> None:
    failures: list[BaseException] = []
    tasks = TaskSet(on_failure=failures.append)

    async def fails() -> None:
        raise ValueError("boom")

    async def waits() -> None:
        await asyncio.Event().wait()

    failing, waiting = tasks.spawn(fails(), name="f"), tasks.spawn(waits(), name="w")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert failing.done()
    assert [type(error) for error in failures] == [ValueError]
    tasks.cancel_all()
    await asyncio.sleep(0)
    assert waiting.cancelled()
    assert len(failures) == 1
