"""Effective reward and penalty rules: global → difficulty → scenario → turn.

Pure: plain mappings in, a frozen `Rules` out, no Django imports, so every fallback is a
table-driven unit test. The fair judge's thresholds (`audio_judging`, the fields of
`interaction.audio_judging.AudioJudgingPolicy`) resolve the same way: settings
PARLEY_JUDGING["audio"] → PARLEY_RULES["difficulty"][d]["audio_judging"] → the scenario's
own `audio_judging` mapping; each layer only replaces the keys it sets, and the policy's
defaults fill the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PENALTY_TYPES = ("wrong_language", "incorrect_answer")
PENALTY_COSTS = ("lives", "points")

AUDIO_JUDGING_BOUNDS: Mapping[str, tuple[float, float]] = {
    # probability floors of the fitted judge's tiers (interaction.judge_model)
    "correct_floor": (0.3, 1.0),
    "incorrect_floor": (0.3, 1.0),
    "wrong_language_floor": (0.3, 1.0),
}
"""The fair judge's settings a rule layer may set, with their inclusive bounds: the floors
of `AudioJudgingPolicy` (probabilities 0..1 the fitted model's P(correct), P(incorrect) or
P(wrong language) must reach; higher is stricter, with more `unclear`; unset: the floors fitted
with the model, docs/fair-judge.md)."""


def audio_judging_problems(values: Any) -> list[tuple[str, str]]:
    """What is wrong with an `audio_judging` mapping: [(key, message)], empty when valid."""
    if not isinstance(values, Mapping):
        return [("", "must be a mapping of judging thresholds")]
    problems: list[tuple[str, str]] = []
    for key, value in values.items():
        bounds = AUDIO_JUDGING_BOUNDS.get(key)
        if bounds is None:
            problems.append((str(key), "is not a judging threshold"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            problems.append((key, "must be a number"))
        elif not bounds[0] <= value <= bounds[1]:
            problems.append((key, f"must be between {bounds[0]:g} and {bounds[1]:g}"))
    return problems


def audio_judging_clean(values: Any) -> dict[str, float]:
    """A validated `audio_judging` mapping as floats; ValueError naming every problem."""
    problems = audio_judging_problems(values)
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    return {key: float(value) for key, value in (values or {}).items()}


@dataclass(frozen=True)
class Penalty:
    """What one penalty costs: lives lost (≥ 0) and points lost (≥ 0)."""

    lives: int
    points: int


@dataclass(frozen=True)
class Rules:
    """Effective rules for one turn of one scenario.

    reward: points added by a correct answer. lives: lives a session starts with.
    answer_similarity: 0..100 rapidfuzz ratio needed to match an accepted answer.
    wrong_language_probability: 0..1 language probability that makes an answer wrong-language
    (the typed-answer judge's). audio_judging: the fair judge's thresholds the layers set
    (keys of AUDIO_JUDGING_BOUNDS; unset keys keep `AudioJudgingPolicy`'s defaults).
    """

    reward: int
    lives: int
    answer_similarity: float
    wrong_language_probability: float
    penalties: Mapping[str, Penalty]
    audio_judging: Mapping[str, float] = field(default_factory=dict)

    def penalty(self, penalty_type: str) -> Penalty:
        return self.penalties[penalty_type]


@dataclass(frozen=True)
class ScenarioOverrides:
    """A scenario's own values; None means inherit."""

    difficulty: str = "normal"
    lives: int | None = None
    reward: int | None = None
    answer_similarity: float | None = None
    wrong_language_probability: float | None = None
    penalties: Mapping[str, Mapping[str, int | None]] | None = None
    audio_judging: Mapping[str, float] | None = None


def _layer(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Values of `override` that are not None win over `base`, one level deep for penalties."""
    merged = dict(base)
    for key, value in (override or {}).items():
        if value is None:
            continue
        if key == "audio_judging":
            merged["audio_judging"] = {**merged.get("audio_judging", {}), **value}
        elif key == "penalties":
            penalties = {name: dict(costs) for name, costs in merged.get("penalties", {}).items()}
            for name, costs in value.items():
                penalties.setdefault(name, {}).update(
                    {k: v for k, v in (costs or {}).items() if v is not None}
                )
            merged["penalties"] = penalties
        else:
            merged[key] = value
    return merged


def rules_resolve(
    *,
    defaults: Mapping[str, Any],
    judging_defaults: Mapping[str, Any],
    scenario: ScenarioOverrides,
    turn_reward: int | None = None,
) -> Rules:
    """Resolve the effective rules for a turn.

    `defaults` is settings.PARLEY_RULES (with its "difficulty" table) and `judging_defaults`
    settings.PARLEY_JUDGING. Each layer only replaces what it sets.
    """
    base = {key: value for key, value in defaults.items() if key != "difficulty"}
    base.setdefault("answer_similarity", judging_defaults["answer_similarity"])
    base.setdefault("wrong_language_probability", judging_defaults["wrong_language_probability"])
    base["audio_judging"] = audio_judging_clean(
        {**(base.get("audio_judging") or {}), **(judging_defaults.get("audio") or {})}
    )
    per_difficulty = defaults.get("difficulty", {}).get(scenario.difficulty)
    if per_difficulty is None:
        raise ValueError(f"unknown difficulty {scenario.difficulty!r}")
    merged = _layer(
        base,
        {
            **per_difficulty,
            "audio_judging": audio_judging_clean(per_difficulty.get("audio_judging") or {}),
        },
    )
    merged = _layer(
        merged,
        {
            "lives": scenario.lives,
            "reward": scenario.reward,
            "answer_similarity": scenario.answer_similarity,
            "wrong_language_probability": scenario.wrong_language_probability,
            "penalties": scenario.penalties,
            "audio_judging": audio_judging_clean(scenario.audio_judging or {}),
        },
    )
    merged = _layer(merged, {"reward": turn_reward})
    penalties = {
        name: Penalty(
            lives=int(merged["penalties"][name]["lives"]),
            points=int(merged["penalties"][name].get("points", 0)),
        )
        for name in PENALTY_TYPES
    }
    return Rules(
        reward=int(merged["reward"]),
        lives=int(merged["lives"]),
        answer_similarity=float(merged["answer_similarity"]),
        wrong_language_probability=float(merged["wrong_language_probability"]),
        penalties=penalties,
        audio_judging=dict(merged["audio_judging"]),
    )
