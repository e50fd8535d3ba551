"""How the ASR server reads Parley's block of the connection options (leniently)."""

from __future__ import annotations

import pytest

from interaction.asr.server import MAX_BIAS_CHARS, MAX_BIAS_PHRASES, FinalPassOptions


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
    assert 0 < len(options.bias_phrases) <= MAX_BIAS_PHRASES
    assert sum(len(p) for p in options.bias_phrases) <= MAX_BIAS_CHARS


def test_missing_language_lets_the_server_detect_it():
    options = FinalPassOptions.from_connection({"language": None, "parley": {}})
    assert options.language is None
    assert options.detect_language is True
    assert options.streaming is True
