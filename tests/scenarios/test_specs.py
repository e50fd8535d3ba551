"""Scenario specs: validation with field paths, every error at once, and the file round trip."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios.files import DEMO_DIR
from scenarios.specs import (
    ScenarioSpec,
    SpecInvalid,
    TurnSpec,
    spec_from_mapping,
    spec_to_mapping,
)
from tests.conftest import scenario_data

FULL: dict[str, Any] = {
    "slug": "museo-del-prado",
    "title": "Buy a museum ticket",
    "description": "The Prado ticket office.",
    "language": "es",
    "difficulty": "hard",
    "lives": 4,
    "reward": 12,
    "answer_similarity": 90.0,
    "wrong_language_probability": 0.7,
    "typed_answers": False,
    "streaming_enabled": False,
    "penalties": {
        "wrong_language": {"lives": 2, "points": 3},
        "incorrect_answer": {"points": 1},
    },
    "turns": [
        {
            "prompt": "¡Buenos días! ¿Cuántas entradas?",
            "answers": ["Dos entradas, por favor", "Dos, por favor"],
            "reward": 20,
            "hint": "Say how many tickets.",
        },
        {"prompt": "Son treinta euros.", "answers": ["Aquí tiene"]},
    ],
}
MINIMAL: dict[str, Any] = {
    "slug": "hola",
    "title": "Say hello",
    "language": "es",
    "turns": [{"prompt": "¡Hola!", "answers": ["Hola"]}],
}


def fields_of(data: Any) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        spec_from_mapping(data)
    return sorted(error.field for error in caught.value.errors)


# --- valid specs ---


def test_full_mapping_builds_the_spec():
    spec = spec_from_mapping(FULL)

    assert spec == ScenarioSpec(
        slug="museo-del-prado",
        title="Buy a museum ticket",
        description="The Prado ticket office.",
        language="es",
        difficulty="hard",
        lives=4,
        reward=12,
        answer_similarity=90.0,
        wrong_language_probability=0.7,
        typed_answers=False,
        streaming_enabled=False,
        penalties={
            "wrong_language": {"lives": 2, "points": 3},
            "incorrect_answer": {"lives": None, "points": 1},
        },
        turns=(
            TurnSpec(
                prompt="¡Buenos días! ¿Cuántas entradas?",
                answers=("Dos entradas, por favor", "Dos, por favor"),
                reward=20,
                hint="Say how many tickets.",
            ),
            TurnSpec(prompt="Son treinta euros.", answers=("Aquí tiene",)),
        ),
    )


def test_minimal_mapping_inherits_everything():
    spec = spec_from_mapping(MINIMAL)

    assert spec.difficulty == "normal"
    assert (spec.lives, spec.reward) == (None, None)
    assert (spec.answer_similarity, spec.wrong_language_probability) == (None, None)
    assert (spec.typed_answers, spec.streaming_enabled) == (True, True)
    assert spec.penalties == {}
    assert spec.turns == (TurnSpec(prompt="¡Hola!", answers=("Hola",)),)


def test_text_is_stripped():
    data = copy.deepcopy(MINIMAL)
    data["title"] = "  Say hello  "
    data["turns"][0] = {"prompt": " ¡Hola! ", "answers": ["  Hola ", "Buenas\n"], "hint": " hi "}

    spec = spec_from_mapping(data)

    assert spec.title == "Say hello"
    assert spec.turns[0] == TurnSpec(prompt="¡Hola!", answers=("Hola", "Buenas"), hint="hi")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("wrong_language_probability", 0.01),
        ("wrong_language_probability", 1.0),
        ("answer_similarity", 100),
        ("lives", 1),
        ("reward", 0),
    ],
)
def test_boundary_values_are_accepted(key: str, value: float):
    spec = spec_from_mapping({**MINIMAL, key: value})

    assert getattr(spec, key) == value


def test_spec_is_not_the_input_mapping():
    data = copy.deepcopy(FULL)
    spec = spec_from_mapping(data)

    data["turns"][0]["answers"].append("Tres")
    data["penalties"]["wrong_language"]["lives"] = 9

    assert spec.turns[0].answers == ("Dos entradas, por favor", "Dos, por favor")
    assert spec.penalties["wrong_language"]["lives"] == 2


def test_to_mapping_omits_unset_optional_keys():
    data = spec_to_mapping(spec_from_mapping(MINIMAL))

    assert data == {
        "slug": "hola",
        "title": "Say hello",
        "language": "es",
        "difficulty": "normal",
        "typed_answers": True,
        "streaming_enabled": True,
        "turns": [{"prompt": "¡Hola!", "answers": ["Hola"]}],
    }


def test_to_mapping_keeps_partial_penalties_without_nulls():
    data = spec_to_mapping(spec_from_mapping(FULL))

    assert data["penalties"] == {
        "wrong_language": {"lives": 2, "points": 3},
        "incorrect_answer": {"points": 1},
    }
    assert data["turns"][0] == FULL["turns"][0]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(FULL, id="full"),
        pytest.param(MINIMAL, id="minimal"),
        pytest.param(scenario_data(), id="conftest-scenario"),
        pytest.param(
            {**MINIMAL, "penalties": {"incorrect_answer": {"lives": 0, "points": 0}}},
            id="zero-penalties",
        ),
        pytest.param(
            {**MINIMAL, "audio_judging": {"correct_floor": 0.95, "incorrect_floor": 0.8}},
            id="audio-judging",
        ),
    ],
)
def test_round_trip(data: dict[str, Any]):
    spec = spec_from_mapping(data)

    assert spec_from_mapping(spec_to_mapping(spec)) == spec


@pytest.mark.parametrize("path", sorted(DEMO_DIR.glob("*.yaml")), ids=lambda path: path.stem)
def test_demo_files_are_valid_and_round_trip_through_yaml(path: Path):
    spec = spec_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
    dumped = yaml.safe_dump(spec_to_mapping(spec), allow_unicode=True, sort_keys=False)

    assert spec.slug == path.stem
    assert spec_from_mapping(yaml.safe_load(dumped)) == spec


def test_round_trip_with_an_empty_penalty_mapping():
    spec = spec_from_mapping({**MINIMAL, "penalties": {"wrong_language": {}}})

    assert spec_from_mapping(spec_to_mapping(spec)) == spec


# --- errors, each with its field path ---


def without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.__setitem__(key, value)


def on_turn(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["turns"][index].__setitem__(key, value)


def without_turn_key(index: int, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["turns"][index].pop(key)


ERROR_CASES = [
    pytest.param(setting("slug", "Cafe Paris"), ["slug"], id="slug-pattern"),
    pytest.param(setting("slug", "cafe_paris"), ["slug"], id="slug-underscore"),
    pytest.param(setting("slug", "cafe--paris"), ["slug"], id="slug-double-hyphen"),
    pytest.param(without("slug"), ["slug"], id="slug-missing"),
    pytest.param(without("title"), ["title"], id="title-missing"),
    pytest.param(setting("title", "   "), ["title"], id="title-blank"),
    pytest.param(setting("title", 42), ["title"], id="title-not-text"),
    pytest.param(setting("description", ["x"]), ["description"], id="description-not-text"),
    pytest.param(setting("language", "ja"), ["language"], id="language-unsupported"),
    pytest.param(setting("language", "FR"), ["language"], id="language-uppercase"),
    pytest.param(without("language"), ["language"], id="language-missing"),
    pytest.param(setting("difficulty", "extreme"), ["difficulty"], id="difficulty-bad"),
    pytest.param(setting("difficulty", None), ["difficulty"], id="difficulty-null"),
    pytest.param(setting("lives", 0), ["lives"], id="lives-zero"),
    pytest.param(setting("lives", -2), ["lives"], id="lives-negative"),
    pytest.param(setting("lives", "3"), ["lives"], id="lives-string"),
    pytest.param(setting("lives", 2.5), ["lives"], id="lives-fraction"),
    pytest.param(setting("lives", True), ["lives"], id="lives-bool"),
    pytest.param(setting("reward", -1), ["reward"], id="reward-negative"),
    pytest.param(
        setting("wrong_language_probability", 1.5),
        ["wrong_language_probability"],
        id="wrong-language-probability-1.5",
    ),
    pytest.param(
        setting("wrong_language_probability", "high"),
        ["wrong_language_probability"],
        id="wrong-language-probability-str",
    ),
    pytest.param(setting("answer_similarity", 0), ["answer_similarity"], id="similarity-zero"),
    pytest.param(setting("answer_similarity", 101), ["answer_similarity"], id="similarity-101"),
    pytest.param(
        setting("wrong_language_probability", 0),
        ["wrong_language_probability"],
        id="wrong-language-probability-zero",
    ),
    pytest.param(setting("typed_answers", "yes"), ["typed_answers"], id="typed-answers-str"),
    pytest.param(
        setting("streaming_enabled", 1), ["streaming_enabled"], id="streaming-enabled-int"
    ),
    pytest.param(
        setting("penalties", {"too_slow": {"lives": 1}}),
        ["penalties.too_slow"],
        id="penalty-unknown-type",
    ),
    pytest.param(
        setting("penalties", {"wrong_language": {"lives": -1, "points": 0}}),
        ["penalties.wrong_language.lives"],
        id="penalty-negative-lives",
    ),
    pytest.param(
        setting("penalties", {"incorrect_answer": {"points": -5}}),
        ["penalties.incorrect_answer.points"],
        id="penalty-negative-points",
    ),
    pytest.param(
        setting("penalties", {"wrong_language": {"live": 1}}),
        ["penalties.wrong_language.live"],
        id="penalty-unknown-cost",
    ),
    pytest.param(
        setting("penalties", {"wrong_language": 2}),
        ["penalties.wrong_language"],
        id="penalty-not-mapping",
    ),
    pytest.param(setting("penalties", ["wrong_language"]), ["penalties"], id="penalties-list"),
    pytest.param(setting("turns", []), ["turns"], id="turns-empty"),
    pytest.param(without("turns"), ["turns"], id="turns-missing"),
    pytest.param(setting("turns", {"prompt": "x"}), ["turns"], id="turns-not-list"),
    pytest.param(without_turn_key(0, "answers"), ["turns[0].answers"], id="turn-no-answers"),
    pytest.param(on_turn(0, "answers", []), ["turns[0].answers"], id="turn-answers-empty"),
    pytest.param(on_turn(0, "answers", "Un café"), ["turns[0].answers"], id="answers-not-list"),
    pytest.param(
        on_turn(1, "answers", ["", "Sur place"]),
        ["turns[1].answers[0]"],
        id="empty-answer-string",
    ),
    pytest.param(
        on_turn(1, "answers", ["Sur place", "   "]),
        ["turns[1].answers[1]"],
        id="blank-answer-string",
    ),
    pytest.param(
        on_turn(0, "answers", ["Un café", 3]), ["turns[0].answers[1]"], id="answer-not-text"
    ),
    pytest.param(without_turn_key(1, "prompt"), ["turns[1].prompt"], id="turn-no-prompt"),
    pytest.param(on_turn(0, "reward", -3), ["turns[0].reward"], id="turn-reward-negative"),
    pytest.param(
        lambda data: data["turns"].append("just text"), ["turns[2]"], id="turn-not-mapping"
    ),
    pytest.param(setting("titel", "Typo"), ["titel"], id="unknown-key-typo"),
    pytest.param(
        setting("audio_judging", {"correct_flor": 0.9}),
        ["audio_judging.correct_flor"],
        id="audio-judging-unknown-threshold",
    ),
    pytest.param(
        setting("audio_judging", {"correct_floor": 2.0, "wrong_language_floor": "x"}),
        ["audio_judging.correct_floor", "audio_judging.wrong_language_floor"],
        id="audio-judging-out-of-range",
    ),
    pytest.param(setting("audio_judging", [1]), ["audio_judging"], id="audio-judging-not-map"),
    pytest.param(on_turn(0, "answer", ["x"]), ["turns[0].answer"], id="unknown-turn-key"),
]


@pytest.mark.parametrize(("mutate", "expected"), ERROR_CASES)
def test_error_is_reported_with_its_field_path(
    mutate: Callable[[dict[str, Any]], None], expected: list[str]
):
    data = scenario_data()
    mutate(data)

    assert fields_of(data) == expected


@pytest.mark.parametrize("data", [None, [], "slug: x", 3], ids=repr)
def test_a_file_that_is_not_a_mapping_is_one_file_level_error(data: Any):
    assert fields_of(data) == ["(file)"]


def test_error_messages_say_what_is_wrong():
    data = scenario_data(lives=0, wrong_language_probability=1.5, language="ja")

    with pytest.raises(SpecInvalid) as caught:
        spec_from_mapping(data)

    messages = {error.field: error.message for error in caught.value.errors}
    assert messages["lives"] == "must be at least 1"
    assert messages["wrong_language_probability"] == "must be in (0, 1]"
    assert "fr" in messages["language"]
    assert "es" in messages["language"]
    assert "lives: must be at least 1" in str(caught.value)


def test_all_errors_of_one_mapping_are_reported_together():
    data = scenario_data(
        slug="Bad Slug",
        language="xx",
        difficulty="insane",
        lives=0,
        wrong_language_probability=0,
        penalties={"wrong_language": {"lives": -1}, "bogus": {}},
        titel="typo",
    )
    del data["title"]
    data["turns"][0]["answers"] = []
    data["turns"][1]["answers"][0] = ""

    with pytest.raises(SpecInvalid) as caught:
        spec_from_mapping(data)

    fields = sorted(error.field for error in caught.value.errors)
    assert fields == sorted(
        [
            "slug",
            "title",
            "language",
            "difficulty",
            "lives",
            "wrong_language_probability",
            "penalties.wrong_language.lives",
            "penalties.bogus",
            "titel",
            "turns[0].answers",
            "turns[1].answers[0]",
        ]
    )
    for field in fields:
        assert f"{field}: " in str(caught.value)


@pytest.mark.parametrize("key", ["answer_similarity", "wrong_language_probability"])
def test_nan_thresholds_are_rejected(key: str):
    assert fields_of(scenario_data(**{key: math.nan})) == [key]


def test_a_retired_key_is_read_and_ignored():
    """Files exported before `confidence_threshold` was retired still import, to the same spec."""
    spec = spec_from_mapping({**MINIMAL, "confidence_threshold": 0.8})

    assert spec == spec_from_mapping(MINIMAL)
    assert "confidence_threshold" not in spec_to_mapping(spec)
