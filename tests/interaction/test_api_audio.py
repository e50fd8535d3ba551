"""Spoken time-stop answers over HTTP, judged by the real WhisperLive server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from interaction.models import Attempt, ScoreEvent, Session
from tests.asr.audio_files import encode, tone


@pytest.fixture
def spoken(learner_client: APIClient, scenario, settings, asr_server):
    settings.ASR_SERVERS = [asr_server]
    session = learner_client.post("/api/sessions/", {"scenario": "cafe-test"}, format="json")

    def post(audio: Path | bytes, *, name: str = "answer.wav", expect: int = 200) -> dict:
        data = audio.read_bytes() if isinstance(audio, Path) else audio
        upload = io.BytesIO(data)
        upload.name = name
        response = learner_client.post(
            f"/api/sessions/{session.json()['id']}/attempts/",
            {"audio": upload},
            format="multipart",
        )
        assert response.status_code == expect, response.content
        return response.json()

    return post


@pytest.mark.asr
@pytest.mark.django_db
class TestSpokenAnswers:
    def test_a_correct_french_answer(self, spoken, speech_clip) -> None:
        result = spoken(speech_clip("Je voudrais un café, s'il vous plaît", "fr"))
        assert result["outcome"] == "correct", result
        assert (result["scoreDelta"], result["score"], result["turn"]["index"]) == (15, 15, 1)
        assert 0 < result["confidence"] <= 1
        assert result["language"] == "fr"
        assert result["words"]
        assert {"word", "start", "end", "probability"} <= set(result["words"][0])
        assert result["asr_ms"] > 0
        attempt = Attempt.objects.get()
        assert (attempt.source, attempt.outcome) == ("audio", "correct")
        assert attempt.language_probabilities["fr"] > 0.5

    def test_an_english_answer_is_the_wrong_language(self, spoken, speech_clip) -> None:
        result = spoken(speech_clip("I would like a coffee please", "en"))
        assert result["outcome"] == "wrong_language", result
        assert result["penalty"]["type"] == "wrong_language"
        assert (result["livesDelta"], result["lives_remaining"]) == (-1, 2)
        assert result["language"] == "en"

    def test_a_wrong_french_answer_is_incorrect(self, spoken, speech_clip) -> None:
        result = spoken(speech_clip("Je voudrais une bière bien fraîche", "fr"))
        assert result["outcome"] == "incorrect_answer", result
        assert result["penalty"]["hint"] == "Ask for a coffee."

    def test_silence_is_no_speech_and_costs_nothing(self, spoken, silence_clip) -> None:
        result = spoken(silence_clip(2.5))
        assert result["outcome"] == "no_speech"
        assert (result["penalty"], result["livesDelta"], result["scoreDelta"]) == (None, 0, 0)
        assert ScoreEvent.objects.count() == 1  # only the session's start

    def test_webm_opus_from_a_browser_is_accepted(self, spoken) -> None:
        webm = encode(tone(1.0, rate=48_000), rate=48_000, fmt="webm_opus")
        result = spoken(webm, name="answer.webm")
        assert result["outcome"] in {"no_speech", "incorrect_answer"}


@pytest.mark.django_db
class TestUploadErrors:
    """Refused before any recognition: these need no ASR server (it points nowhere)."""

    @pytest.fixture
    def post(self, learner_client: APIClient, scenario, settings):
        settings.ASR_SERVERS = ["ws://127.0.0.1:9"]
        settings.ASR_MAX_UPLOAD_BYTES = 200_000
        settings.ASR_MAX_CLIP_SECONDS = 3.0
        session_id = learner_client.post(
            "/api/sessions/", {"scenario": "cafe-test"}, format="json"
        ).json()["id"]

        def send(data: bytes, name: str) -> Any:
            upload = io.BytesIO(data)
            upload.name = name
            return learner_client.post(
                f"/api/sessions/{session_id}/attempts/", {"audio": upload}, format="multipart"
            )

        return send

    @pytest.mark.parametrize(
        ("data", "name", "status", "reason"),
        [
            (b"hello, this is text" * 20, "answer.txt", 415, "not"),
            (encode(tone(1.0), rate=44_100, fmt="wav")[:300], "answer.wav", 400, "wav"),
            (b"RIFF\x00\x00\x00\x00WAVEgarbage" * 10, "answer.wav", 400, "wav"),
            (b"", "answer.wav", 400, "empty"),
            (encode(tone(4.0, channels=1, rate=16_000), rate=16_000, fmt="wav"), "a.wav", 413, ""),
            (b"\0" * 300_000, "answer.wav", 413, "bytes"),
        ],
    )
    def test_refused_with_a_reason_and_nothing_lost(self, post, data, name, status, reason):
        response = post(data, name)
        assert response.status_code == status, response.content
        assert reason.lower() in response.json()["detail"].lower()
        assert Attempt.objects.count() == 0
        assert Session.objects.get().lives_remaining == 3

    def test_no_asr_server_is_a_503(self, post) -> None:
        response = post(encode(tone(1.0, channels=1, rate=16_000), rate=16_000, fmt="wav"), "a.wav")
        assert response.status_code == 503
        assert response.json()["code"] == "asr_unavailable"
        assert Attempt.objects.count() == 0

    def test_transcript_and_audio_together_are_refused(self, learner_client, scenario) -> None:
        session = learner_client.post("/api/sessions/", {"scenario": "cafe-test"}, format="json")
        upload = io.BytesIO(b"RIFF")
        upload.name = "a.wav"
        response = learner_client.post(
            f"/api/sessions/{session.json()['id']}/attempts/",
            {"audio": upload, "transcript": "Un café"},
            format="multipart",
        )
        assert response.status_code == 400
