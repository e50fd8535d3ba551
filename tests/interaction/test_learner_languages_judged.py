"""The judge suspects the learner's own languages, in both modes, for any pair of languages.

A Spanish speaker answering in Spanish in an *English* scenario: with the global default
(English) nothing could be suspected there; with the learner's languages, Spanish is. Each
test checks what the recogniser is asked for (the languages on the options it receives) and
what the judge made of the same evidence.

- time-stop: the real WhisperLive client against a scripted WhisperLive peer, so the options
  are the ones on the wire;
- streaming: the socket with a scripted provider (as tests/interaction/test_consumer.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.asgi import application
from interaction.asr.types import Hypothesis
from interaction.asr.wire import PARLEY_OPTIONS_KEY
from interaction.models import Attempt
from interaction.services import learner_languages_set
from interaction.ws import consumer
from tests.asr.audio_files import encode, tone
from tests.asr.whisperlive_peer import Script, ScriptedPeer, evidence_payload, threaded_peer
from tests.interaction import scripted_asr

SPANISH = "Quiero un café, por favor"
ANSWER = "A coffee, please"
ORIGIN = [(b"origin", b"http://127.0.0.1")]


def spanish_evidence() -> dict[str, Any]:
    """What the evidence pass says of a Spanish answer to an English turn, when Spanish is
    one of the languages it was asked about: near-certainly Spanish, the answer far off."""
    payload = evidence_payload(
        SPANISH,
        language_probabilities={"en": 0.004, "es": 0.996},
        answers={ANSWER: -4.5},
        transcript_logprob=-0.3,
    )
    return payload | {
        "target_language": "en",
        "other_languages": ["es"],
        "other_transcripts": {"es": {"text": SPANISH, "decode_logprob": -0.25, "looped": False}},
    }


@pytest.fixture
def english_scenario(make_scenario: Any) -> Any:
    return make_scenario(
        slug="coffee-en",
        title="Order a coffee (English)",
        language="en",
        turns=[{"prompt": "What would you like?", "answers": [ANSWER], "hint": "A coffee."}],
    )


# --- time-stop ---------------------------------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    evidence = spanish_evidence()
    with threaded_peer(Script(final={"evidence": evidence, "asr_ms": 321})) as scripted:
        yield scripted


def post_spanish(client: APIClient) -> dict[str, Any]:
    session = client.post("/api/sessions/", {"scenario": "coffee-en"}, format="json").json()
    upload = io.BytesIO(encode(tone(1.5, channels=1, rate=16_000), rate=16_000, fmt="wav"))
    upload.name = "answer.wav"
    response = client.post(
        f"/api/sessions/{session['id']}/attempts/", {"audio": upload}, format="multipart"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_time_stop_suspects_the_learners_languages_in_an_english_scenario(
    learner_client: APIClient, learner: Any, english_scenario: Any, peer: ScriptedPeer, settings
) -> None:
    settings.ASR_SERVERS = [peer.url]
    learner_languages_set(learner=learner, other_languages=["en", "es"])

    result = post_spanish(learner_client)

    options = peer.connections[0].options
    assert options["language"] == "en"
    assert options[PARLEY_OPTIONS_KEY]["other_languages"] == ["es"]  # the target left out
    assert result["outcome"] == "wrong_language", result
    assert result["penalty"]["detected_language"] == "es"
    verdict = Attempt.objects.get().evidence["verdict"]
    assert verdict["other_language"] == "es"


@pytest.mark.django_db
def test_time_stop_without_named_languages_suspects_the_global_default(
    learner_client: APIClient, english_scenario: Any, peer: ScriptedPeer, settings
) -> None:
    settings.ASR_SERVERS = [peer.url]
    settings.PARLEY_JUDGING = {**settings.PARLEY_JUDGING, "other_languages": ["en", "de"]}

    result = post_spanish(learner_client)

    assert peer.connections[0].options[PARLEY_OPTIONS_KEY]["other_languages"] == ["de"]
    assert result["outcome"] != "wrong_language", result  # Spanish was never suspected


# --- streaming ---------------------------------------------------------------------------------


def spanish_final() -> Hypothesis:
    evidence = spanish_evidence()
    return Hypothesis(
        text=SPANISH,
        confidence=0.9,
        language="es",
        language_probability=0.996,
        language_probabilities=evidence["language_probabilities"],
        final=True,
        audio_ms=1500,
        asr_ms=300,
        evidence=evidence,
    )


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> scripted_asr.ScriptedProvider:
    provider = scripted_asr.ScriptedProvider(
        scripted_asr.Script(
            final=spanish_final(), evaluations=[replace(spanish_final(), final=False)]
        )
    )
    monkeypatch.setattr(consumer, "get_provider", lambda: provider)
    return provider


async def stream_spanish(learner: Any) -> list[dict[str, Any]]:
    """Start the English scenario on the socket, speak 1.5 s, stop; the events until the
    verdict's (`penalty`, `final` or `reset`)."""
    token = await database_sync_to_async(lambda: Token.objects.create(user=learner).key)()
    communicator = WebsocketCommunicator(
        application, f"/stream/interaction?token={token}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "start", "scenario": "coffee-en"})
    events = [json.loads(await communicator.receive_from(timeout=5))]
    assert events[0]["type"] == "ready", events
    samples = (tone(0.1, channels=1, rate=16_000)[0] * 32767).astype("<i2").tobytes()
    for _ in range(15):
        await communicator.send_to(bytes_data=samples)
    await communicator.send_json_to({"type": "stop"})
    while events[-1]["type"] not in {"penalty", "final", "reset"}:
        events.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.disconnect()
    return events


@pytest.mark.django_db(transaction=True)
async def test_streaming_suspects_the_learners_languages_in_an_english_scenario(
    learner: Any, english_scenario: Any, scripted: scripted_asr.ScriptedProvider
) -> None:
    await database_sync_to_async(learner_languages_set)(
        learner=learner, other_languages=["es", "en"]
    )

    events = await stream_spanish(learner)

    options = scripted.streams[0].options
    assert (options.language, options.other_languages) == ("en", ("es", "en"))
    verdict = events[-1]
    assert verdict["type"] == "penalty", events
    assert verdict["penalty"]["type"] == "wrong_language"
    assert verdict["penalty"]["detected_language"] == "es"


@pytest.mark.django_db(transaction=True)
async def test_streaming_without_named_languages_suspects_the_global_default(
    learner: Any, english_scenario: Any, scripted: scripted_asr.ScriptedProvider, settings
) -> None:
    settings.PARLEY_JUDGING = {**settings.PARLEY_JUDGING, "other_languages": ["en", "de"]}

    events = await stream_spanish(learner)

    assert scripted.streams[0].options.other_languages == ("en", "de")
    verdict = events[-1]
    assert verdict["type"] in {"penalty", "final", "reset"}, events
    assert not (verdict["type"] == "penalty" and verdict["penalty"]["type"] == "wrong_language")


# --- the real recogniser -----------------------------------------------------------------------


@pytest.mark.asr
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("named", "wrong_language"),
    [(["fr"], True), ([], False)],  # none named: the default (English) is the target here
)
def test_the_real_server_catches_french_in_an_english_scenario_for_a_french_speaker(
    learner_client: APIClient,
    learner: Any,
    english_scenario: Any,
    asr_server: str,
    settings,
    named: list[str],
    wrong_language: bool,
) -> None:
    """A real recording of native French (tests/fixtures/realvoice/README.md)."""
    settings.ASR_SERVERS = [asr_server]
    learner_languages_set(learner=learner, other_languages=named)
    session = learner_client.post("/api/sessions/", {"scenario": "coffee-en"}, format="json")
    clip = Path(__file__).resolve().parents[1] / "fixtures/realvoice/fr-june-agent-loginok.wav"
    upload = io.BytesIO(clip.read_bytes())
    upload.name = "answer.wav"

    result = learner_client.post(
        f"/api/sessions/{session.json()['id']}/attempts/", {"audio": upload}, format="multipart"
    ).json()

    evidence = Attempt.objects.get().evidence
    assert evidence["other_languages"] == named  # what the evidence pass was asked about
    if wrong_language:
        assert result["outcome"] == "wrong_language", result
        assert result["penalty"]["detected_language"] == "fr"
    else:
        assert result["outcome"] not in {"wrong_language", "correct"}, result
