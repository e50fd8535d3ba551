"""The evidence pass and the fair judge on real speech, with the real base model in-process.

Speech is made in the test (espeak-ng + sox -D: identical on every run). The accepted answers
are scored against the audio; no pass that decides a verdict carries them as a prompt.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from interaction.asr.server.alignment import answer_candidates
from interaction.asr.server.evidence import (
    DEFAULT_WINDOW_S,
    answer_evidence,
    cut_loop,
    restricted_probabilities,
    window_frames,
)
from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, judge_audio
from interaction.vocabulary import Outcome
from tests.asr.server.model_spy import ModelSpy
from tests.speech import read_wav

pytestmark = pytest.mark.asr

CAFE = ("Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît")
CAFE_TO_GO = (
    "Sur place, s'il vous plaît",
    "À emporter, s'il vous plaît",
    "Sur place",
    "À emporter",
)
TAPAS_DRINK = ("Un agua, por favor", "Una cerveza, por favor", "Agua, por favor")
BAHNHOF_TICKET = ("Hin und zurück, bitte", "Einfach, bitte")


def judge(
    model: Any, wav: Path, *, language: str, others: tuple[str, ...], answers: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    payload = answer_evidence(
        model,
        read_wav(wav),
        target_language=language,
        other_languages=others,
        accepted_answers=answers,
    )
    policy = AudioJudgingPolicy(target_language=language, other_languages=others)
    verdict = judge_audio(AudioEvidence.from_payload(payload), answers, policy)
    return verdict.outcome, payload


REAL = Path(__file__).resolve().parents[2] / "fixtures" / "realvoice"  # README.md: sources


def test_a_learners_real_reading_is_correct_and_one_word_changed_is_incorrect(model: Any) -> None:
    """As for a learner who named no other language (an English scenario then suspects none),
    the same as tests/interaction/test_api_audio.py posts it."""
    wav = REAL / "en-learner-054180063.wav"
    outcome, payload = judge(model, wav, language="en", others=(), answers=("His face was cold",))
    assert outcome == Outcome.CORRECT, payload["transcript"]
    outcome, payload = judge(model, wav, language="en", others=(), answers=("His hand was cold",))
    assert outcome == Outcome.INCORRECT_ANSWER, payload["transcript"]


def test_a_native_real_recording_is_correct_and_never_scores_as_another_answer(model: Any) -> None:
    """Native French: correct against its own text; a one-word change ("hors ligne") or its
    English translation in an English scenario (a decoder forced to English says exactly
    that) never earns points. This clip's language ID is only 0.93 French, so the judge may
    ask again rather than penalise: the decisive verdicts are tested on the learner's clip
    above and in tests/interaction/test_learner_languages_judged.py."""
    wav = REAL / "fr-june-agent-loginok.wav"
    outcome, payload = judge(
        model, wav, language="fr", others=("en",), answers=("Vous êtes maintenant en ligne.",)
    )
    assert outcome == Outcome.CORRECT, payload["transcript"]
    for language, others, answer in (
        ("fr", ("en",), "Vous êtes maintenant hors ligne."),
        ("en", ("fr",), "You are now online."),
    ):
        outcome, payload = judge(model, wav, language=language, others=others, answers=(answer,))
        assert outcome != Outcome.CORRECT, payload["transcript"]
        assert outcome != Outcome.NO_SPEECH, payload["transcript"]


def test_a_correct_answer_after_a_filler_earns_points(
    model: Any, speech_clip: Callable[..., Path]
) -> None:
    wav = speech_clip("euh... Je voudrais un café, s'il vous plaît", "fr+m3", speed=140)
    outcome, payload = judge(model, wav, language="fr", others=("en",), answers=CAFE)
    assert outcome == Outcome.CORRECT, payload["transcript"]
    scored = {(a["answer"], a["filler"]): a["mean_logprob"] for a in payload["answers"]}
    assert set(scored) >= {(CAFE[0], None), (CAFE[0], "Euh"), (CAFE[1], None)}


def test_a_one_word_wrong_answer_is_penalised(model: Any, speech_clip: Callable[..., Path]) -> None:
    wav = speech_clip("Un vino, por favor", "es", speed=130)
    outcome, payload = judge(model, wav, language="es", others=("en",), answers=TAPAS_DRINK)
    assert outcome == Outcome.INCORRECT_ANSWER, payload["transcript"]


def test_an_english_answer_is_wrong_language(model: Any, speech_clip: Callable[..., Path]) -> None:
    wav = speech_clip("Return, please", "en-us", speed=160)
    outcome, payload = judge(model, wav, language="de", others=("en",), answers=BAHNHOF_TICKET)
    assert outcome == Outcome.WRONG_LANGUAGE, payload["transcript"]
    assert payload["language_probabilities"]["en"] > 0.9
    assert set(payload["language_probabilities"]) == {"de", "en"}


def test_a_garbled_correct_answer_is_unclear_not_penalised(
    model: Any, mumbled_clip: Callable[..., Path]
) -> None:
    # The accepted answer played backwards: French-sounding syllables the recogniser is unsure
    # of and no accepted answer explains, so the learner is asked again and keeps their lives.
    wav = mumbled_clip("Sur place, s'il vous plaît", "fr+f3", speed=130)
    outcome, payload = judge(model, wav, language="fr", others=("en",), answers=CAFE_TO_GO)
    assert outcome == Outcome.UNCLEAR, payload["transcript"]


def test_silence_is_no_speech_and_costs_no_model_time(
    model: Any, silence_clip: Callable[[float], Path]
) -> None:
    outcome, payload = judge(model, silence_clip(2.0), language="fr", others=("en",), answers=CAFE)
    assert outcome == Outcome.NO_SPEECH
    assert payload["no_speech"] is True
    assert "encode" not in payload["timings_ms"]


def test_the_payload_is_json_with_timings_and_words(
    model: Any, speech_clip: Callable[..., Path]
) -> None:
    wav = speech_clip("Je voudrais un café, s'il vous plaît", "fr", speed=150)
    audio = read_wav(wav)
    padded = np.concatenate([np.zeros(16_000, np.float32), audio, np.zeros(8_000, np.float32)])
    payload = answer_evidence(
        model, padded, target_language="fr", other_languages=("en",), accepted_answers=CAFE
    )
    assert json.loads(json.dumps(payload)) == payload
    assert payload["window_s"] == DEFAULT_WINDOW_S
    assert 0.5 < payload["speech"][0][0] < 1.0  # the VAD found the speech after 1 s of silence
    assert set(payload["timings_ms"]) >= {"vad", "features", "encode", "language", "decode"}
    assert payload["timings_ms"]["total"] >= payload["timings_ms"]["encode"]
    words = payload["words"]
    assert words, payload
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert starts[0] >= 0.5  # word times are in the original audio, silence included
    assert words[-1]["end"] <= payload["audio_s"] + 0.1
    assert all(0.0 <= w["probability"] <= 1.0 for w in words)
    assert payload["answer_words"], payload
    assert payload["other_transcripts"]["en"]["text"]


class _Wrapped:
    def __init__(self, model: Any, spy: ModelSpy) -> None:
        self.model = spy
        self.feature_extractor = model.feature_extractor
        self.hf_tokenizer = model.hf_tokenizer


def test_no_deciding_pass_carries_the_answers_as_a_prompt(
    model: Any, speech_clip: Callable[..., Path]
) -> None:
    wav = speech_clip("Un café, s'il vous plaît", "fr", speed=150)
    spy = ModelSpy(model.model)
    answer_evidence(
        _Wrapped(model, spy),
        read_wav(wav),
        target_language="fr",
        other_languages=("en",),
        accepted_answers=CAFE,
    )
    sot_prev = model.hf_tokenizer.token_to_id("<|startofprev|>")
    names = [name for name, _args, _kwargs in spy.calls]
    assert names.count("encode") == 1  # one encoder pass, reused by everything
    assert "generate" in names
    assert "align" in names
    answer_tokens = {
        tuple(model.hf_tokenizer.encode(" " + a, add_special_tokens=False).ids) for a in CAFE
    }
    for name, args, _kwargs in spy.calls:
        if name != "generate":
            continue
        for prompt in args[1]:
            assert sot_prev not in prompt  # no initial_prompt / hotwords section
            assert (
                len(prompt) == 4
            )  # <|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|>
            assert not any(
                tuple(prompt[i : i + len(t)]) == t
                for t in answer_tokens
                for i in range(len(prompt))
            )


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([1, 2, 3], ([1, 2, 3], False)),
        ([5, 9, 9, 9, 9, 9], ([5, 9], True)),
        ([1, 2, 3, 4, 3, 4, 3, 4, 3, 4], ([1, 2, 3, 4], True)),
        ([7, 8, 7, 8], ([7, 8, 7, 8], False)),  # twice is speech ("no, no"), not a loop
    ],
)
def test_cut_loop(tokens: list[int], expected: tuple[list[int], bool]) -> None:
    assert cut_loop(tokens) == expected


def test_window_and_language_helpers() -> None:
    assert window_frames(250, 10.0) == 1000  # 2.5 s of speech in a 10 s window
    assert window_frames(1234, 10.0) == 1300  # longer speech: rounded up to whole seconds
    assert window_frames(5000, 10.0) == 3000  # never past Whisper's 30 s
    assert restricted_probabilities({"fr": 0.3, "en": 0.1, "ja": 0.6}, ["fr", "en"]) == {
        "fr": 0.75,
        "en": 0.25,
    }
    assert restricted_probabilities({}, ["fr", "en"]) == {"fr": 0.5, "en": 0.5}


def test_candidates_follow_the_transcripts_case() -> None:
    assert answer_candidates(["Una tortilla, por favor", "OK"], ["Eh"]) == [
        ("Una tortilla, por favor", None, "Una tortilla, por favor"),
        ("Una tortilla, por favor", "Eh", "Eh, una tortilla, por favor"),
        ("OK", None, "OK"),
        ("OK", "Eh", "Eh, OK"),
    ]
    lowered = answer_candidates(["Una tortilla, por favor", "OK"], ["Eh"], lower_first=True)
    assert [text for _answer, _filler, text in lowered] == [
        "una tortilla, por favor",
        "eh, una tortilla, por favor",
        "OK",
        "eh, OK",
    ]


class _RecordingLock:
    """A real lock that counts acquisitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self, timeout: float = -1) -> bool:
        self.acquired += 1
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def test_the_model_runs_only_under_the_callers_lock(
    model: Any, speech_clip: Callable[..., Path]
) -> None:
    wav = speech_clip("Merci beaucoup", "fr", speed=150)
    lock = _RecordingLock()
    held: list[bool] = []
    spy = ModelSpy(model.model, on_call=lambda _name: held.append(lock.locked()))
    answer_evidence(
        _Wrapped(model, spy),
        read_wav(wav),
        target_language="fr",
        other_languages=("en",),
        accepted_answers=("Merci beaucoup",),
        lock=lock,  # type: ignore[arg-type]
    )
    assert lock.acquired == 1
    assert not lock.locked()
    assert len(held) >= 4  # encode, detect_language, generate, align
    assert all(held)
