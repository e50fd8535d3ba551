"""How the ASR server reads Parley's block of the connection options (leniently),
and decodes its streaming passes."""

from __future__ import annotations

import numpy as np
import pytest

from interaction.asr.server.options import (
    MAX_CANDIDATE_CHARS,
    MAX_CANDIDATES,
    FinalPassOptions,
)


def test_stock_clients_get_no_final_pass():
    assert FinalPassOptions.from_connection({"uid": "x", "language": "fr"}) is None


def test_parley_block_is_read():
    options = FinalPassOptions.from_connection(
        {
            "language": "fr",
            "parley": {
                "target_language": "fr",
                "other_languages": ["en", "de", "fr", "en"],
                "candidates": ["Je voudrais un café", " Un café, s'il vous plaît. "],
                "streaming": False,
            },
        }
    )
    assert options == FinalPassOptions(
        target_language="fr",
        other_languages=("en", "de"),  # the target and repeats dropped
        candidates=("Je voudrais un café", "Un café, s'il vous plaît."),
        streaming=False,
    )


@pytest.mark.parametrize(
    "candidates",
    ["Oui", None, [], ["  "], 42],
)
def test_unusable_candidates_leave_nothing_to_score(candidates):
    options = FinalPassOptions.from_connection(
        {"language": "fr", "parley": {"candidates": candidates}}
    )
    assert options is not None
    assert options.candidates == ()


def test_candidates_are_bounded():
    phrases = [f"phrase {i} " + "x" * 40 for i in range(100)]
    options = FinalPassOptions.from_connection(
        {"language": "fr", "parley": {"candidates": phrases}}
    )
    assert options is not None
    assert 0 < len(options.candidates) <= MAX_CANDIDATES
    assert sum(len(p) for p in options.candidates) <= MAX_CANDIDATE_CHARS


def test_an_empty_block_takes_the_connection_language_and_suspects_english():
    options = FinalPassOptions.from_connection({"language": "de", "parley": {}})
    assert options == FinalPassOptions(
        target_language="de", other_languages=("en",), candidates=(), streaming=True
    )
    english = FinalPassOptions.from_connection({"language": "en", "parley": {}})
    assert english is not None
    assert english.other_languages == ()
    nothing = FinalPassOptions.from_connection({"language": None, "parley": {}})
    assert nothing is not None
    assert nothing.target_language is None


def test_streaming_passes_decode_greedily_with_the_connection_options() -> None:
    """Partials only: greedy, no temperature fallback; a prompt only if WhisperLive's own
    options carry one (Parley's client never sends one)."""
    from types import SimpleNamespace

    from interaction.asr.server.transcription_server import PARTIAL_DECODE, partial_pass

    calls = []

    class Transcriber:
        def transcribe(self, audio, **options):
            calls.append(options)
            return iter(["segment"]), SimpleNamespace(language="fr", language_probability=0.9)

    client = SimpleNamespace(
        transcriber=Transcriber(),
        initial_prompt="Un café, s'il vous plaît.",
        language="fr",
        task="transcribe",
        use_vad=True,
        vad_parameters={"threshold": 0.5},
        hotwords=None,
        word_timestamps=True,
    )
    assert partial_pass(client, np.zeros(16_000, np.float32)) == ["segment"]
    (options,) = calls
    assert {key: options[key] for key in PARTIAL_DECODE} == {
        "beam_size": 1,
        "best_of": 1,
        "temperature": 0.0,
    }
    assert (options["initial_prompt"], options["language"], options["word_timestamps"]) == (
        "Un café, s'il vous plaît.",
        "fr",
        True,
    )
