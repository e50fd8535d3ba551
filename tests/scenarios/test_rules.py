"""Rule resolution, global → difficulty → scenario → turn: one table row per fallback.

Pure: explicit `defaults` tables keep these rows independent of settings; one test at the end
checks the real settings through the selector.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from django.conf import settings

from scenarios.models import Scenario, Turn
from scenarios.rules import (
    AUDIO_JUDGING_BOUNDS,
    PENALTY_TYPES,
    Penalty,
    Rules,
    ScenarioOverrides,
    rules_resolve,
)
from scenarios.selectors import scenario_rules_get

# Every difficulty differs from the global layer somewhere, so a row that skips a layer fails.
DEFAULTS: dict[str, Any] = {
    "reward": 10,
    "lives": 3,
    "penalties": {
        "wrong_language": {"lives": 1, "points": 0},
        "incorrect_answer": {"lives": 1, "points": 0},
    },
    "difficulty": {
        "easy": {
            "lives": 5,
            "reward": 5,
            "answer_similarity": 80.0,
            "penalties": {"wrong_language": {"lives": 0}},
        },
        "normal": {},
        "hard": {
            "penalties": {
                "wrong_language": {"lives": 2},
                "incorrect_answer": {"lives": 1, "points": 5},
            },
        },
    },
}
JUDGING: dict[str, Any] = {"answer_similarity": 85.0, "wrong_language_probability": 0.6}


def rules(
    *,
    reward: int = 10,
    lives: int = 3,
    answer_similarity: float = 85.0,
    wrong_language_probability: float = 0.6,
    wrong_language: tuple[int, int] = (1, 0),
    incorrect_answer: tuple[int, int] = (1, 0),
) -> Rules:
    """Expected rules: the global layer of DEFAULTS unless a keyword says otherwise."""
    return Rules(
        reward=reward,
        lives=lives,
        answer_similarity=answer_similarity,
        wrong_language_probability=wrong_language_probability,
        penalties={
            "wrong_language": Penalty(*wrong_language),
            "incorrect_answer": Penalty(*incorrect_answer),
        },
    )


HARD: dict[str, Any] = {"wrong_language": (2, 0), "incorrect_answer": (1, 5)}
EASY: dict[str, Any] = {
    "lives": 5,
    "reward": 5,
    "answer_similarity": 80.0,
    "wrong_language": (0, 0),
}

CASES = [
    # --- global and per-difficulty defaults ---
    pytest.param(ScenarioOverrides(), None, rules(), id="global-defaults-only"),
    pytest.param(ScenarioOverrides(difficulty="normal"), None, rules(), id="normal-empty-table"),
    pytest.param(ScenarioOverrides(difficulty="hard"), None, rules(**HARD), id="hard-penalties"),
    pytest.param(ScenarioOverrides(difficulty="easy"), None, rules(**EASY), id="easy-table"),
    # --- scenario overrides win over the difficulty and global layers ---
    pytest.param(
        ScenarioOverrides(difficulty="hard", lives=7),
        None,
        rules(lives=7, **HARD),
        id="scenario-lives",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="easy", lives=2),
        None,
        rules(**{**EASY, "lives": 2}),
        id="scenario-lives-over-difficulty-lives",
    ),
    pytest.param(ScenarioOverrides(reward=20), None, rules(reward=20), id="scenario-reward"),
    pytest.param(
        ScenarioOverrides(difficulty="easy", reward=0),
        None,
        rules(**{**EASY, "reward": 0}),
        id="scenario-reward-zero-is-not-inherit",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="easy", answer_similarity=95.0),
        None,
        rules(**{**EASY, "answer_similarity": 95.0}),
        id="scenario-similarity-over-difficulty",
    ),
    pytest.param(
        ScenarioOverrides(answer_similarity=70.0),
        None,
        rules(answer_similarity=70.0),
        id="scenario-answer-similarity",
    ),
    pytest.param(
        ScenarioOverrides(wrong_language_probability=0.9),
        None,
        rules(wrong_language_probability=0.9),
        id="scenario-wrong-language-probability",
    ),
    # --- penalties: each type and each cost inherits on its own ---
    pytest.param(
        ScenarioOverrides(
            difficulty="hard", penalties={"wrong_language": {"lives": 4, "points": 2}}
        ),
        None,
        rules(wrong_language=(4, 2), incorrect_answer=(1, 5)),
        id="scenario-one-penalty-other-inherited",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="hard", penalties={"incorrect_answer": {"lives": 3}}),
        None,
        rules(wrong_language=(2, 0), incorrect_answer=(3, 5)),
        id="scenario-penalty-lives-only-points-inherited",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="hard", penalties={"wrong_language": {"points": 3}}),
        None,
        rules(wrong_language=(2, 3), incorrect_answer=(1, 5)),
        id="scenario-penalty-points-only-lives-inherited",
    ),
    pytest.param(
        ScenarioOverrides(
            difficulty="hard",
            penalties={
                "wrong_language": {"lives": None, "points": None},
                "incorrect_answer": {"lives": None, "points": 7},
            },
        ),
        None,
        rules(wrong_language=(2, 0), incorrect_answer=(1, 7)),
        id="scenario-penalty-none-inherits",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="hard", penalties={"incorrect_answer": {"lives": 0}}),
        None,
        rules(wrong_language=(2, 0), incorrect_answer=(0, 5)),
        id="scenario-penalty-zero-is-not-inherit",
    ),
    pytest.param(
        ScenarioOverrides(difficulty="easy", penalties={"wrong_language": {"lives": 3}}),
        None,
        rules(**{**EASY, "wrong_language": (3, 0)}),
        id="scenario-penalty-over-easy-penalty",
    ),
    # --- turn reward over scenario reward over difficulty and global ---
    pytest.param(ScenarioOverrides(reward=20), 25, rules(reward=25), id="turn-over-scenario"),
    pytest.param(ScenarioOverrides(), 25, rules(reward=25), id="turn-over-global"),
    pytest.param(
        ScenarioOverrides(difficulty="easy"),
        25,
        rules(**{**EASY, "reward": 25}),
        id="turn-over-difficulty",
    ),
    pytest.param(ScenarioOverrides(reward=20), 0, rules(reward=0), id="turn-zero-is-not-inherit"),
    pytest.param(ScenarioOverrides(reward=20), None, rules(reward=20), id="turn-none-inherits"),
    # --- None at the scenario layer inherits everything ---
    pytest.param(
        ScenarioOverrides(
            difficulty="hard",
            lives=None,
            reward=None,
            answer_similarity=None,
            wrong_language_probability=None,
            penalties=None,
        ),
        None,
        rules(**HARD),
        id="scenario-all-none-inherits",
    ),
]


@pytest.mark.parametrize(("overrides", "turn_reward", "expected"), CASES)
def test_rules_resolve(overrides: ScenarioOverrides, turn_reward: int | None, expected: Rules):
    resolved = rules_resolve(
        defaults=DEFAULTS, judging_defaults=JUDGING, scenario=overrides, turn_reward=turn_reward
    )

    assert resolved == expected


def test_none_in_the_difficulty_table_inherits_the_global_value():
    defaults = copy.deepcopy(DEFAULTS)
    defaults["difficulty"]["normal"] = {
        "lives": None,
        "reward": None,
        "penalties": {"wrong_language": {"lives": None, "points": None}},
    }

    resolved = rules_resolve(
        defaults=defaults, judging_defaults=JUDGING, scenario=ScenarioOverrides()
    )

    assert resolved == rules()


def test_penalty_points_default_to_zero_when_no_layer_sets_them():
    defaults = copy.deepcopy(DEFAULTS)
    defaults["penalties"] = {"wrong_language": {"lives": 1}, "incorrect_answer": {"lives": 2}}

    resolved = rules_resolve(
        defaults=defaults, judging_defaults=JUDGING, scenario=ScenarioOverrides()
    )

    assert resolved.penalty("wrong_language") == Penalty(lives=1, points=0)
    assert resolved.penalty("incorrect_answer") == Penalty(lives=2, points=0)


def test_judging_defaults_feed_the_global_layer():
    judging = {"answer_similarity": 60.0, "wrong_language_probability": 0.3}

    resolved = rules_resolve(
        defaults=DEFAULTS, judging_defaults=judging, scenario=ScenarioOverrides()
    )

    assert (resolved.answer_similarity, resolved.wrong_language_probability) == (60.0, 0.3)


@pytest.mark.parametrize("difficulty", ["extreme", "", "Hard"])
def test_unknown_difficulty_raises(difficulty: str):
    with pytest.raises(ValueError, match="unknown difficulty"):
        rules_resolve(
            defaults=DEFAULTS,
            judging_defaults=JUDGING,
            scenario=ScenarioOverrides(difficulty=difficulty),
        )


def test_resolving_never_mutates_the_defaults():
    defaults = copy.deepcopy(DEFAULTS)
    judging = dict(JUDGING)

    rules_resolve(
        defaults=defaults,
        judging_defaults=judging,
        scenario=ScenarioOverrides(
            difficulty="hard",
            lives=9,
            penalties={"wrong_language": {"lives": 4}, "incorrect_answer": {"points": 9}},
        ),
        turn_reward=99,
    )

    assert defaults == DEFAULTS
    assert judging == JUDGING


def test_rules_are_frozen_with_one_penalty_per_type():
    resolved = rules_resolve(
        defaults=DEFAULTS, judging_defaults=JUDGING, scenario=ScenarioOverrides()
    )

    assert set(resolved.penalties) == set(PENALTY_TYPES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.lives = 1  # type: ignore[misc]


def test_resolved_values_have_the_documented_types():
    resolved = rules_resolve(
        defaults=DEFAULTS,
        judging_defaults={"answer_similarity": 90, "wrong_language_probability": 1},
        scenario=ScenarioOverrides(),
    )

    assert isinstance(resolved.answer_similarity, float)
    assert isinstance(resolved.wrong_language_probability, float)
    assert isinstance(resolved.lives, int)
    assert isinstance(resolved.reward, int)


# --- the real settings, through the selector (unsaved instances: no database needed) ---


def test_settings_hard_difficulty_costs_two_lives_for_wrong_language():
    resolved = scenario_rules_get(scenario=Scenario(slug="x", difficulty="hard"))

    assert resolved.penalty("wrong_language") == Penalty(lives=2, points=0)
    assert resolved.penalty("incorrect_answer") == Penalty(lives=1, points=5)
    assert resolved.lives == settings.PARLEY_RULES["lives"]
    assert resolved.reward == settings.PARLEY_RULES["reward"]
    assert resolved.answer_similarity == settings.PARLEY_JUDGING["answer_similarity"]
    assert (
        resolved.wrong_language_probability == settings.PARLEY_JUDGING["wrong_language_probability"]
    )


def test_settings_normal_difficulty_is_the_global_layer():
    resolved = scenario_rules_get(scenario=Scenario(slug="x", difficulty="normal"))

    global_penalties = settings.PARLEY_RULES["penalties"]
    for name in PENALTY_TYPES:
        assert resolved.penalty(name) == Penalty(
            lives=global_penalties[name]["lives"], points=global_penalties[name]["points"]
        )
    assert resolved.answer_similarity == settings.PARLEY_JUDGING["answer_similarity"]


def test_selector_passes_every_scenario_override_and_the_turn_reward():
    scenario = Scenario(
        slug="x",
        difficulty="hard",
        lives=6,
        reward=30,
        answer_similarity=72.5,
        wrong_language_probability=0.75,
        wrong_language_points=4,
        incorrect_answer_lives=2,
        audio_judging={"correct_floor": 0.95, "incorrect_floor": 0.8},
    )

    resolved = scenario_rules_get(scenario=scenario, turn=Turn(order=0, reward=45))

    assert resolved == Rules(
        reward=45,
        lives=6,
        answer_similarity=72.5,
        wrong_language_probability=0.75,
        penalties={
            "wrong_language": Penalty(lives=2, points=4),
            "incorrect_answer": Penalty(lives=2, points=5),
        },
        audio_judging={"correct_floor": 0.95, "incorrect_floor": 0.8},  # over the hard level's
    )


def test_selector_turn_without_reward_falls_back_to_the_scenario_reward():
    scenario = Scenario(slug="x", difficulty="easy", reward=30)

    resolved = scenario_rules_get(scenario=scenario, turn=Turn(order=0, reward=None))

    assert resolved.reward == 30


# --- the fair judge's thresholds: global → difficulty → scenario ---

AUDIO_DEFAULTS: dict[str, Any] = {
    **DEFAULTS,
    "difficulty": {
        **DEFAULTS["difficulty"],
        "hard": {
            **DEFAULTS["difficulty"]["hard"],
            "audio_judging": {"correct_floor": 0.97},
        },
    },
}


@pytest.mark.parametrize(
    ("global_layer", "difficulty", "scenario_layer", "expected"),
    [
        pytest.param({}, "normal", None, {}, id="nothing set: the judge's own defaults"),
        pytest.param({"correct_floor": 0.9}, "normal", None, {"correct_floor": 0.9}, id="global"),
        pytest.param(
            {},
            "hard",
            None,
            {"correct_floor": 0.97},
            id="hard is stricter",
        ),
        pytest.param(
            {"correct_floor": 0.9, "incorrect_floor": 0.85},
            "hard",
            None,
            {"correct_floor": 0.97, "incorrect_floor": 0.85},
            id="difficulty over global, key by key",
        ),
        pytest.param(
            {"correct_floor": 0.9, "incorrect_floor": 0.85},
            "hard",
            {"correct_floor": 0.99},
            {"correct_floor": 0.99, "incorrect_floor": 0.85},
            id="scenario over difficulty",
        ),
        pytest.param(
            {},
            "easy",
            {"wrong_language_floor": 0.98},
            {"wrong_language_floor": 0.98},
            id="scenario only",
        ),
        pytest.param({}, "hard", {}, {"correct_floor": 0.97}),
    ],
)
def test_audio_judging_thresholds_resolve_in_layers(
    global_layer: dict[str, float],
    difficulty: str,
    scenario_layer: dict[str, float] | None,
    expected: dict[str, float],
) -> None:
    resolved = rules_resolve(
        defaults=AUDIO_DEFAULTS,
        judging_defaults={**JUDGING, "audio": global_layer},
        scenario=ScenarioOverrides(difficulty=difficulty, audio_judging=scenario_layer),
    )
    assert resolved.audio_judging == expected
    assert all(isinstance(value, float) for value in resolved.audio_judging.values())


@pytest.mark.parametrize(
    ("layer", "where"),
    [
        ({"correct_flor": 0.9}, "correct_flor"),  # a typo is refused, never ignored
        ({"correct_floor": "strict"}, "correct_floor"),
        ({"correct_floor": True}, "correct_floor"),
        ({"wrong_language_floor": 1.5}, "wrong_language_floor"),
        ({"incorrect_floor": 0.1}, "incorrect_floor"),
        ({"correct_margin": -0.7}, "correct_margin"),  # the hand-tuned thresholds are gone
    ],
)
@pytest.mark.parametrize("level", ["global", "difficulty", "scenario"])
def test_audio_judging_refuses_unknown_or_out_of_range_thresholds(
    layer: dict[str, Any], where: str, level: str
) -> None:
    defaults = copy.deepcopy(AUDIO_DEFAULTS)
    judging = {**JUDGING, "audio": layer if level == "global" else {}}
    if level == "difficulty":
        defaults["difficulty"]["normal"] = {"audio_judging": layer}
    scenario = ScenarioOverrides(audio_judging=layer if level == "scenario" else None)
    with pytest.raises(ValueError, match=where):
        rules_resolve(defaults=defaults, judging_defaults=judging, scenario=scenario)


def test_every_audio_threshold_is_a_field_of_the_judges_policy() -> None:
    from interaction.audio_judging import AudioJudgingPolicy
    from interaction.judge_model import judge_model

    numeric = {
        f.name
        for f in dataclasses.fields(AudioJudgingPolicy)
        if f.name not in {"target_language", "other_languages", "ignore_accents"}
    }
    assert set(AUDIO_JUDGING_BOUNDS) == numeric
    model = judge_model()
    fitted = AudioJudgingPolicy(target_language="fr").floors(model)
    for name, (low, high) in AUDIO_JUDGING_BOUNDS.items():
        tier = {"correct_floor": "correct", "incorrect_floor": "incorrect_answer"}.get(
            name, "wrong_language"
        )
        assert low <= fitted[tier] <= high, name  # the fitted floors are settable values


def test_the_settings_thresholds_build_a_policy() -> None:
    from interaction.audio_judging import AudioJudgingPolicy
    from interaction.judge_model import judge_model

    for difficulty in ("easy", "normal", "hard"):
        resolved = scenario_rules_get(scenario=Scenario(slug="x", difficulty=difficulty))
        policy = AudioJudgingPolicy(
            target_language="fr",
            other_languages=("en",),
            ignore_accents=True,
            **resolved.audio_judging,
        )
        fitted = judge_model().floors["correct"]
        if difficulty == "hard":
            assert policy.floors(judge_model())["correct"] > fitted
        else:
            assert policy.floors(judge_model())["correct"] == fitted
