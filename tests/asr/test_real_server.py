"""The provider against a real WhisperLive server (bundled base model) and espeak-ng speech."""

from __future__ import annotations

import asyncio
import re
import time

import numpy as np
import pytest
from rapidfuzz import fuzz

from interaction.asr.types import AsrUnavailable, RecognitionOptions
from interaction.asr.whisperlive import WhisperLiveProvider
from tests.speech import read_wav

pytestmark = pytest.mark.asr

FRENCH_ANSWER = "Je voudrais un café, s'il vous plaît"
ENGLISH_ANSWER = "I would like a coffee please"


def provider(*urls: str) -> WhisperLiveProvider:
    return WhisperLiveProvider(list(urls), connect_timeout=10, read_timeout=20, final_timeout=30)


def similarity(a: str, b: str) -> float:
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())

    return fuzz.ratio(norm(a), norm(b))


async def test_french_answer(asr_server, speech_clip):
    samples = read_wav(speech_clip(FRENCH_ANSWER, "fr")).tobytes()

    hypothesis = await provider(asr_server).transcribe(samples, RecognitionOptions(language="fr"))

    assert hypothesis.final
    assert not hypothesis.no_speech
    assert similarity(hypothesis.text, FRENCH_ANSWER) >= 75, hypothesis.text
    assert hypothesis.confidence > 0.5
    assert hypothesis.words
    assert all(0 <= w.probability <= 1 for w in hypothesis.words)
    assert hypothesis.language_probabilities, "the unbiased language-ID pass ran"
    assert "fr" in hypothesis.language_probabilities
    assert hypothesis.language == max(
        hypothesis.language_probabilities, key=hypothesis.language_probabilities.__getitem__
    )
    assert 2_000 <= hypothesis.audio_ms <= 3_500
    assert hypothesis.asr_ms > 0


@pytest.mark.parametrize(
    ("lead_s", "trail_s"),
    [(0.0, 0.0), (0.15, 0.35), (0.0, 1.0)],  # padded clips once drew an invented loop
)
async def test_bias_corrects_a_french_answer(asr_server, speech_clip, lead_s, trail_s):
    speech = read_wav(speech_clip(FRENCH_ANSWER, "fr"))
    lead, trail = (np.zeros(int(s * 16_000), dtype=np.float32) for s in (lead_s, trail_s))
    samples = np.concatenate([lead, speech, trail]).tobytes()
    options = RecognitionOptions(
        language="fr", bias_phrases=(FRENCH_ANSWER + ".",), bias_mode="initial_prompt"
    )

    hypothesis = await provider(asr_server).transcribe(samples, options)

    assert similarity(hypothesis.text, FRENCH_ANSWER) >= 95, hypothesis.text


async def test_english_answer_is_identified_as_english(asr_server, speech_clip):
    samples = read_wav(speech_clip(ENGLISH_ANSWER, "en")).tobytes()

    hypothesis = await provider(asr_server).transcribe(samples, RecognitionOptions(language="en"))

    assert similarity(hypothesis.text, ENGLISH_ANSWER) >= 85, hypothesis.text
    top = max(hypothesis.language_probabilities, key=hypothesis.language_probabilities.__getitem__)
    assert top == "en"
    assert hypothesis.language_probabilities["en"] >= 0.6


async def test_bias_never_hides_the_language_evidence(asr_server, speech_clip):
    """English forced into French with the French answer as prompt still reads as English."""
    samples = read_wav(speech_clip(ENGLISH_ANSWER, "en")).tobytes()
    options = RecognitionOptions(
        language="fr", bias_phrases=(FRENCH_ANSWER + ".",), bias_mode="initial_prompt"
    )

    hypothesis = await provider(asr_server).transcribe(samples, options)

    assert hypothesis.language == "en"
    assert hypothesis.language_probabilities["en"] >= 0.6
    assert hypothesis.confidence < 0.5, hypothesis


async def test_silence_is_no_speech(asr_server, silence_clip):
    samples = read_wav(silence_clip(2.5)).tobytes()

    hypothesis = await provider(asr_server).transcribe(samples, RecognitionOptions(language="fr"))

    assert hypothesis.no_speech
    assert hypothesis.text == ""
    assert hypothesis.confidence == 0.0
    assert hypothesis.audio_ms == 2_500


async def test_streaming_in_real_time_reaches_a_final(asr_server, speech_clip):
    speech = read_wav(speech_clip(FRENCH_ANSWER, "fr"))
    samples = np.concatenate([speech, np.zeros(8_000, dtype=np.float32)])  # 0.5 s pause
    stream = await provider(asr_server).open_stream(RecognitionOptions(language="fr"))
    partials = []

    async def read() -> None:
        async for partial in stream.partials():
            partials.append(partial)

    reader = asyncio.create_task(read())
    started = time.perf_counter()
    for i, offset in enumerate(range(0, samples.size, 1_600)):  # 100 ms chunks
        await stream.send_audio(samples[offset : offset + 1_600].tobytes())
        await asyncio.sleep(max(0.0, started + (i + 1) * 0.1 - time.perf_counter()))
    final = await stream.finish()
    await reader

    assert partials, "WhisperLive sent partial segments while audio streamed"
    assert all(not p.final for p in partials)
    assert final.final
    assert not final.no_speech
    assert similarity(final.text, FRENCH_ANSWER) >= 75, final.text
    assert final.language_probabilities
    assert final.asr_ms < 10_000


async def test_pool_fails_over_to_the_real_server(asr_server, speech_clip, unused_tcp_port):
    dead = f"ws://127.0.0.1:{unused_tcp_port}"
    samples = read_wav(speech_clip(ENGLISH_ANSWER, "en")).tobytes()
    asr = provider(dead, asr_server)

    hypothesis = await asr.transcribe(samples, RecognitionOptions(language="en"))
    assert not hypothesis.no_speech

    with pytest.raises(AsrUnavailable, match=re.escape(dead)):
        await provider(dead).transcribe(samples, RecognitionOptions(language="en"))
