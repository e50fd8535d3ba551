"""The ASR server killed or paused (SIGSTOP) mid-utterance, under a real Daphne.

Before: a paused server was noticed only at the final timeout (15 s of silence for the
learner); learners were shown the server's URL. Now: an `error` within 2 s of the fault, the
socket stays up (no 1011), nothing is scored, and the next answer works once the server is
back (its circuit breaker lets a trial through after the backoff).
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from interaction.stream_client import StreamClient
from tests.reliability.conftest import fault_scenario_data
from tests.reliability.ledger import check_session, learner_token
from tests.reliability.streams import answer_until_verdict, ping, play_with_fault

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

DETECTED_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def asr_app(app_factory, own_asr, own_redis):
    return app_factory(ASR_SERVERS=own_asr.url, REDIS_URL=own_redis.url)


@pytest.fixture
def token(make_learner, make_scenario) -> str:
    make_scenario(**fault_scenario_data())
    return learner_token(make_learner, "faults-asr")


def no_host(event: dict[str, Any], url: str) -> None:
    port = url.rsplit(":", 1)[1]
    assert url not in event["message"]
    assert "127.0.0.1" not in event["message"]
    assert port not in event["message"]
    assert "errno" not in event["message"].lower()


async def recover(client: StreamClient, clip) -> dict[str, Any]:
    """Answer again once the breaker's backoff is over; the verdict."""
    for _ in range(10):
        verdict = await answer_until_verdict(client, clip)
        if verdict["type"] != "error":
            return verdict
        await client.until("reset")
        await asyncio.sleep(1.0)
    raise AssertionError("the ASR never came back")


@pytest.mark.parametrize("fault", ["pause", "kill"])
def test_the_asr_failing_mid_utterance_is_an_error_within_2_s(
    fault, asr_app, own_asr, token, answer_clips
) -> None:
    def break_it() -> None:
        if fault == "pause":
            own_asr.signal(signal.SIGSTOP)
        else:
            own_asr.kill()

    async def scenario() -> tuple[dict, float, dict, dict, list[dict], str]:
        client = await StreamClient.open(asr_app.url, token, timeout=30)
        try:
            ready = await client.start(scenario="cafe-faults")
            error, delay = await play_with_fault(
                client, answer_clips["long"], fault_after_s=1.5, fault=break_it
            )
            reset = await client.until("reset")
            await ping(client)  # the socket is still up
            if fault == "pause":
                own_asr.signal(signal.SIGCONT)
            else:
                await asyncio.to_thread(own_asr.up)
            verdict = await recover(client, answer_clips["turn0"])
            return error, delay, reset, verdict, client.events, ready["session"]
        finally:
            if fault == "pause":
                own_asr.signal(signal.SIGCONT)
            await client.close()
            assert client.ws.close_code != 1011

    error, delay, reset, verdict, events, session = asyncio.run(scenario())
    assert (error["code"], error["retryable"], error.get("fallback")) == (
        "asr_unavailable",
        True,
        "http",
    )
    no_host(error, own_asr.url)
    assert delay < DETECTED_WITHIN_S, f"the {fault} was reported after {delay:.2f} s"
    assert reset["reason"] == "asr_unavailable"
    assert verdict["type"] in ("final", "penalty", "reset"), verdict
    assert [e["type"] for e in events].count("error") >= 1
    stored = check_session(session, events)
    assert not [e for e in stored if e.type == "final" and e.seq < error["seq"]]
    print(f"\n{fault}: error {delay:.2f} s after the fault")  # the measurement


def test_time_stop_gets_a_clear_503_when_the_asr_is_down(
    asr_app, own_asr, token, answer_clips, speech_clip
) -> None:
    """The time-stop POST, with the server paused: 503 within the keepalive, no host."""
    import json
    import urllib.error
    import urllib.request

    from interaction.models import Attempt

    session = json.load(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{asr_app.url}/api/sessions/",
                data=b'{"scenario": "cafe-faults"}',
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            ),
            timeout=10,
        )
    )
    clip = speech_clip("Je voudrais un café, s'il vous plaît", "fr").read_bytes()
    boundary = "faultsboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + clip
        + f"\r\n--{boundary}--\r\n".encode()
    )
    own_asr.signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{asr_app.url}/api/sessions/{session['id']}/attempts/",
                    data=body,
                    headers={
                        "Authorization": f"Token {token}",
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                ),
                timeout=30,
            )
        elapsed = time.monotonic() - started
    finally:
        own_asr.signal(signal.SIGCONT)
    assert refused.value.code == 503
    payload = json.load(refused.value)
    assert payload["code"] in ("asr_unavailable", "asr_busy")
    assert own_asr.url not in payload["detail"]
    assert "127.0.0.1" not in payload["detail"]
    assert elapsed < 10  # the connect timeout (5 s) at most, never the final timeout
    assert not Attempt.objects.filter(session_id=session["id"]).exists()
