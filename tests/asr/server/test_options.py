"""How the ASR server reads Parley's block of the connection options (leniently),
and decodes its streaming passes."""

from __future__ import annotations

import numpy as np
import pytest

from interaction.asr.server.options import MAX_BIAS_CHARS, MAX_BIAS_PHRASES, FinalPassOptions


def test_stock_clients_get_no_final_pass():
    assert FinalPassOptions.from_connection({"uid": "x", "language": "fr"}) is None


def test_parley_block_is_read():
    options = FinalPassOptions.from_connection(
        {
            "language": "fr",
            "parley": {
                "bias_phrases": ["Je voudrais un café", "Un café, s'il vous plaît."],
                "bias_mode": "hotwords",
                "detect_language": False,
                "streaming": False,
            },
        }
    )
    assert options == FinalPassOptions(
        language="fr",
        bias_phrases=("Je voudrais un café", "Un café, s'il vous plaît."),
        bias_mode="hotwords",
        detect_language=False,
        streaming=False,
    )
    assert options.decode_bias() == {"hotwords": "Je voudrais un café. Un café, s'il vous plaît."}


@pytest.mark.parametrize(
    "parley",
    [
        {"bias_phrases": ["Oui"], "bias_mode": "translate"},  # unknown mode
        {"bias_phrases": [], "bias_mode": "initial_prompt"},  # nothing to bias with
        {"bias_phrases": "Oui", "bias_mode": "initial_prompt"},  # not a list
        {"bias_phrases": ["  "], "bias_mode": "initial_prompt"},
    ],
)
def test_unusable_bias_falls_back_to_none(parley):
    options = FinalPassOptions.from_connection({"language": "fr", "parley": parley})
    assert options is not None
    assert options.bias_mode == "none"
    assert options.decode_bias() == {}


def test_bias_is_bounded():
    phrases = [f"phrase {i} " + "x" * 40 for i in range(100)]
    options = FinalPassOptions.from_connection(
        {"language": "fr", "parley": {"bias_phrases": phrases, "bias_mode": "initial_prompt"}}
    )
    assert options is not None
    assert 0 < len(options.bias_phrases) <= MAX_BIAS_PHRASES
    assert sum(len(p) for p in options.bias_phrases) <= MAX_BIAS_CHARS


def test_missing_language_lets_the_server_detect_it():
    options = FinalPassOptions.from_connection({"language": None, "parley": {}})
    assert options is not None
    assert options.language is None
    assert options.detect_language is True
    assert options.streaming is True


def test_streaming_passes_decode_greedily_with_the_connection_options() -> None:
    """Partials only: greedy, no temperature fallback; the connection's bias still applies."""
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
