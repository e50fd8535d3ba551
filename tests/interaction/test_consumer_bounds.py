"""Input bounds and the frame rate of /stream/interaction: every refusal is an `error`
event, the socket stays usable, and nothing refused is stored or changes the score."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from interaction.models import Session, SessionEvent
from interaction.ws.messages import message_parse
from tests.interaction.test_consumer import (
    connect,
    provider,  # noqa: F401  (a fixture)
    receive,
    start,
    token,  # noqa: F401  (a fixture)
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 2000, "bad_json"),
        ('{"type": "start", "scenario": ' + "[" * 5 + "]" * 5 + "}", "bad_json"),
        ('{"type": "start", "scenario": "a\\u0000b"}', "bad_message"),
        ('{"type": "start", "scenario": "\\ud800"}', "bad_message"),
        ('{"type": "start", "scenario": "x", "\\udfff": 1}', "bad_message"),
        ('{"type": "start", "session": "' + "0" * 32 + '", "last_seq": 2147483648}', "bad_message"),
        (
            '{"type": "start", "session": "' + "0" * 32 + '", "last_seq": 1' + "0" * 30 + "}",
            "bad_message",
        ),
        ('{"type": "start", "scenario": "cafe-test", "sample_rate": -1}', "bad_message"),
        ('{"type": "ping", "t": NaN}', "bad_json"),
        ('{"type": "ping", "t": Infinity}', "bad_json"),
        ('{"type": "ping", "t": 1e300}', "bad_message"),
        ('{"type": "ping", "t": 1' + "0" * 400 + "}", "bad_message"),
    ],
)
async def test_out_of_bounds_input_is_refused(provider, token, scenario, frame, code) -> None:  # noqa: F811
    provider()
    communicator = await connect(token)
    await communicator.send_to(text_data=frame)
    error = await receive(communicator)
    assert (error["type"], error["code"]) == ("error", code), error
    await communicator.send_json_to({"type": "ping", "t": 1.5})
    assert await receive(communicator) == {"type": "pong", "t": 1.5}
    await communicator.disconnect()


def test_brackets_inside_strings_are_not_nesting() -> None:
    parsed = message_parse(json.dumps({"type": "start", "scenario": "[[[[[[[[{{{{"}))
    assert parsed.scenario == "[[[[[[[[{{{{"  # type: ignore[union-attr]


@pytest.mark.parametrize("last_seq", [2, 2147483647])
async def test_a_last_seq_past_the_session_is_refused_and_never_stored(
    provider,  # noqa: F811
    token,  # noqa: F811
    scenario,
    last_seq,
) -> None:
    """Only `ready` (seq 1) exists: last_seq 2 or 2**31-1 is refused, and the session goes on
    numbering from 2."""
    provider()
    first = await connect(token)
    ready = await start(first)
    await first.disconnect()
    second = await connect(token)
    await second.send_json_to({"type": "start", "session": ready["session"], "last_seq": last_seq})
    error = await receive(second)
    assert (error["code"], error["seq"]) == ("bad_last_seq", 0), error
    assert "between 0 and 1" in error["message"]
    await second.send_json_to({"type": "start", "session": ready["session"], "last_seq": 1})
    resumed = await receive(second)
    assert (resumed["type"], resumed["seq"]) == ("ready", 2)
    await second.disconnect()
    session = await database_sync_to_async(Session.objects.get)()
    assert session.event_seq == 2
    assert (session.score, session.lives_remaining) == (0, 3)


async def drain(communicator) -> list[dict]:
    """Every event up to the pong of a sentinel ping sent once the bucket refilled (a
    communicator's receive timeout would cancel the application)."""
    await asyncio.sleep(0.3)
    await communicator.send_json_to({"type": "ping", "t": -1})
    events = []
    while (event := json.loads(await communicator.receive_from(timeout=10))) != {
        "type": "pong",
        "t": -1,
    }:
        events.append(event)
    return events


async def test_two_thousand_stops_write_a_handful_of_rows(provider, token, scenario) -> None:  # noqa: F811
    """A flood of stops: the excess is dropped (rate_limited, said once) and the stops that
    go through with nothing said answer one no_speech reset, not one each."""
    provider()
    communicator = await connect(token)
    await start(communicator)
    for _ in range(2000):
        await communicator.send_to(text_data='{"type": "stop"}')
    events = await drain(communicator)
    await communicator.disconnect()
    kinds = [(e["type"], e.get("code") or e.get("reason")) for e in events]
    limited = kinds.count(("error", "rate_limited"))
    assert 1 <= limited <= 3  # at most once a second
    assert sorted(set(kinds)) == [("error", "rate_limited"), ("reset", "no_speech")]
    assert kinds.count(("reset", "no_speech")) == 1
    rows = await database_sync_to_async(SessionEvent.objects.count)()
    assert rows == 2 + limited  # ready, the reset, the errors


async def test_a_ping_flood_is_cut_to_the_rate(provider, token, scenario) -> None:  # noqa: F811
    provider()
    communicator = await connect(token)
    for i in range(2000):
        await communicator.send_to(text_data=json.dumps({"type": "ping", "t": i}))
    events = await drain(communicator)
    pongs = [event for event in events if event["type"] == "pong"]
    errors = [event for event in events if event["type"] == "error"]
    assert {error["code"] for error in errors} == {"rate_limited"}
    assert 1 <= len(errors) <= 3
    assert errors[0]["retryable"] is True
    assert 40 <= len(pongs) < 200  # the burst, and what refilled while the flood arrived
    await communicator.disconnect()  # the sentinel's pong came: the socket serves again
