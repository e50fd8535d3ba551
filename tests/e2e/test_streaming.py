"""End to end: a real Daphne process, the real WhisperLive server, espeak-ng speech.

The same answers played by streaming and by time-stop give the same score, lives and ledger.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from interaction.asr.audio import decode_upload
from interaction.models import ScoreEvent, Session
from interaction.stream_client import StreamClient

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FRENCH = {
    "turn0": ("Je voudrais un café, s'il vous plaît", "fr"),
    # Clips the fair judge hears clearly from espeak-ng (docs/fair-judge.md: many espeak-ng
    # phrases come back `unclear`, by design, which is not what these tests are about).
    "turn1": ("Je voudrais manger sur place", "fr"),
    "english": ("Can I have a coffee, please?", "en"),
    "wrong": ("Je voudrais une bière", "fr"),
}


@pytest.fixture
def cafe(make_scenario):
    return make_scenario(
        slug="cafe-e2e",
        turns=[
            {"prompt": "Bonjour !", "answers": [FRENCH["turn0"][0]], "reward": 15},
            {"prompt": "Sur place ou à emporter ?", "answers": [FRENCH["turn1"][0]]},
        ],
    )


@pytest.fixture
def clips(speech_clip) -> dict[str, np.ndarray]:
    def load(text: str, voice: str) -> np.ndarray:
        data = speech_clip(text, voice).read_bytes()
        return decode_upload(
            data, content_type="audio/wav", filename="a.wav", max_bytes=10**8, max_seconds=60
        )

    return {name: load(*spoken) for name, spoken in FRENCH.items()}


@pytest.fixture
def token(learner) -> str:
    return Token.objects.create(user=learner).key


def play(base_url: str, token: str, coroutine_factory, **options: Any) -> Any:
    async def run() -> Any:
        client = await StreamClient.open(base_url, token, timeout=60, **options)
        try:
            return await coroutine_factory(client)
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def patient_app(live_app_factory) -> str:
    """An app that waits long for trailing silence, so only confidence can end the turn early."""
    return live_app_factory(STREAM_SILENCE_END_S="30")


def test_a_french_scenario_completes_by_streaming(patient_app, token, cafe, clips) -> None:
    async def scenario(client: StreamClient):
        ready = await client.start(scenario="cafe-e2e")
        assert ready["type"] == "ready", ready
        first, _ = await client.answer(clips["turn0"])
        second, _ = await client.answer(clips["turn1"])
        return ready, first, second

    # The learner goes quiet after each answer; the client stops after 6 s of silence.
    ready, first, second = play(patient_app, token, scenario, tail_s=6.0)
    assert [event["type"] for event in first if event["type"] != "partial"] == ["final"], first
    assert any(event["type"] == "partial" for event in first)
    assert first[-1]["outcome"] == "correct"
    assert first[-1]["scoreDelta"] == 15
    assert second[-1]["status"] == "completed", second
    summary = [(e["type"], e.get("transcript"), e.get("confidence")) for e in first + second]
    assert first[-1]["auto"] is True, summary
    seqs = [event["seq"] for event in [ready, *first, *second]]
    assert seqs == list(range(1, len(seqs) + 1))
    session = Session.objects.get()
    assert (session.status, session.score) == ("completed", 25)


def test_an_english_answer_costs_a_life_for_wrong_language(live_app, token, cafe, clips):
    async def scenario(client: StreamClient):
        await client.start(scenario="cafe-e2e")
        events, _ = await client.answer(clips["english"])
        return events

    events = play(live_app, token, scenario)
    penalty = events[-1]
    assert penalty["type"] == "penalty", events
    assert penalty["penalty"]["type"] == "wrong_language"
    assert (penalty["livesDelta"], penalty["lives_remaining"], penalty["turn"]["index"]) == (
        -1,
        2,
        0,
    )


def test_a_reconnect_mid_session_resumes_without_losing_events(live_app, token, cafe, clips):
    async def first_half(client: StreamClient):
        ready = await client.start(scenario="cafe-e2e")
        events, _ = await client.answer(clips["turn0"])
        return [ready, *events]

    before = play(live_app, token, first_half)
    session_id, seen = before[0]["session"], before[:2]  # as if the rest never arrived

    async def second_half(client: StreamClient):
        await client.send({"type": "start", "session": session_id, "last_seq": seen[-1]["seq"]})
        resumed = await client.until("ready")
        events, _ = await client.answer(clips["turn1"])
        return client.events[: -len(events)], resumed, events

    replayed, resumed, after = play(live_app, token, second_half)
    assert replayed[:-1] == before[2:]  # every missed event, once, in order
    assert resumed["resumed"] is True
    assert resumed["seq"] == before[-1]["seq"] + 1
    assert after[-1]["status"] == "completed"


def test_streaming_and_time_stop_score_the_same_answers_identically(
    live_app, asr_server, settings, token, learner, cafe, clips, speech_clip
) -> None:
    settings.ASR_SERVERS = [asr_server]  # the time-stop POSTs below run in this process
    answers = ["wrong", "english", "turn0", "turn1"]

    async def streamed(client: StreamClient):
        await client.start(scenario="cafe-e2e")
        for name in answers:
            await client.answer(clips[name])

    play(live_app, token, streamed)
    by_stream = Session.objects.get(mode="streaming")

    api = APIClient()
    api.force_authenticate(learner)
    session_id = api.post("/api/sessions/", {"scenario": "cafe-e2e"}, format="json").json()["id"]
    for name in answers:
        text, voice = FRENCH[name]
        with speech_clip(text, voice).open("rb") as audio:
            response = api.post(
                f"/api/sessions/{session_id}/attempts/", {"audio": audio}, format="multipart"
            )
        assert response.status_code == 200, response.content
    by_time_stop = Session.objects.get(pk=session_id)

    def ledger(session: Session) -> list[tuple[str, int, int, int, int]]:
        return list(
            ScoreEvent.objects.filter(session=session)
            .order_by("id")
            .values_list("reason", "score_delta", "lives_delta", "score_after", "lives_after")
        )

    assert ledger(by_stream) == ledger(by_time_stop)
    assert ledger(by_stream)[-1][0] == "correct"
    assert (by_stream.score, by_stream.lives_remaining, by_stream.status) == (
        by_time_stop.score,
        by_time_stop.lives_remaining,
        by_time_stop.status,
    )


def test_a_paused_answer_is_not_cut_off(live_app, token, cafe, speech_clip) -> None:
    """Two halves of the accepted answer with 0.7 s of silence between (longer than the
    0.3 s after which a verdict is speculated, shorter than the 1.0 s that ends an answer):
    the first half alone is never committed; the whole answer is judged, once."""
    halves = [
        decode_upload(
            speech_clip(text, "fr").read_bytes(),
            content_type="audio/wav",
            filename="half.wav",
            max_bytes=10**8,
            max_seconds=60,
        )
        for text in ("Je voudrais un café,", "s'il vous plaît")
    ]
    paused = np.concatenate([halves[0], np.zeros(int(0.7 * 16_000), np.float32), halves[1]])

    async def scenario(client: StreamClient):
        await client.start(scenario="cafe-e2e")
        events, _ = await client.answer(paused)
        return events

    events = play(live_app, token, scenario, tail_s=1.5)
    verdicts = [event for event in events if event["type"] != "partial"]
    assert [event["type"] for event in verdicts] == ["final"], events
    assert (verdicts[0]["outcome"], verdicts[0]["livesDelta"]) == ("correct", 0), events
    assert "vous pla" in verdicts[0]["transcript"].lower(), verdicts[0]  # both halves
    assert Session.objects.get().lives_remaining == 3
