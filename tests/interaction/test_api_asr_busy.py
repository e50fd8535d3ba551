"""Time-stop with every ASR server full: 503 `asr_busy` with Retry-After, at once, no hosts."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from interaction.models import Attempt, Session
from tests.asr.audio_files import encode, tone
from tests.asr.whisperlive_peer import Script, ScriptedPeer, threaded_peer


@pytest.fixture
def full_server() -> Iterator[ScriptedPeer]:
    """A scripted WhisperLive peer that answers every connection WAIT, on a thread's loop."""
    with threaded_peer(Script(before_ready="wait")) as peer:
        yield peer


@pytest.mark.django_db
def test_every_server_full_is_a_503_asr_busy_with_retry_after(
    learner_client: APIClient, scenario, settings, full_server: ScriptedPeer
) -> None:
    settings.ASR_SERVERS = [full_server.url]
    session_id = learner_client.post(
        "/api/sessions/", {"scenario": "cafe-test"}, format="json"
    ).json()["id"]
    clip = encode(tone(1.0, channels=1, rate=16_000), rate=16_000, fmt="wav")

    def post() -> tuple[int, dict, str | None, float]:
        upload = io.BytesIO(clip)
        upload.name = "answer.wav"
        started = time.perf_counter()
        response = learner_client.post(
            f"/api/sessions/{session_id}/attempts/", {"audio": upload}, format="multipart"
        )
        elapsed = time.perf_counter() - started
        return response.status_code, response.json(), response.get("Retry-After"), elapsed

    for _ in range(3):
        status, body, retry_after, elapsed = post()
        assert status == 503, body
        assert body["code"] == "asr_busy"
        assert "try again in a moment" in body["detail"]
        assert full_server.url not in body["detail"]
        assert "127.0.0.1" not in body["detail"]
        assert retry_after is not None
        assert int(retry_after) >= 1
        assert elapsed < 2  # at once, not after a timeout
    assert len(full_server.connections) == 1  # the breaker: not asked again meanwhile
    assert Attempt.objects.count() == 0
    assert Session.objects.get().lives_remaining == 3
