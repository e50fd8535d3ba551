"""Effective reward and penalty rules: global → difficulty → scenario → turn.

Pure: plain mappings in, a frozen `Rules` out, no Django imports, so every fallback is a
table-driven unit test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PENALTY_TYPES = ("wrong_language", "incorrect_answer")
PENALTY_COSTS = ("lives", "points")


@dataclass(frozen=True)
class Penalty:
    """What one penalty costs: lives lost (≥ 0) and points lost (≥ 0)."""

    lives: int
    points: int


@dataclass(frozen=True)
class Rules:
    """Effective rules for one turn of one scenario.

    reward: points added by a correct answer. lives: lives a session starts with.
    confidence_threshold: 0..1, a streamed answer at or above it may finalise itself.
    answer_similarity: 0..100 rapidfuzz ratio needed to match an accepted answer.
    wrong_language_probability: 0..1 language probability that makes an answer wrong-language.
    """

    reward: int
    lives: int
    confidence_threshold: float
    answer_similarity: float
    wrong_language_probability: float
    penalties: Mapping[str, Penalty]

    def penalty(self, penalty_type: str) -> Penalty:
        return self.penalties[penalty_type]


@dataclass(frozen=True)
class ScenarioOverrides:
    """A scenario's own values; None means inherit."""

    difficulty: str = "normal"
    lives: int | None = None
    reward: int | None = None
    confidence_threshold: float | None = None
    answer_similarity: float | None = None
    wrong_language_probability: float | None = None
    penalties: Mapping[str, Mapping[str, int | None]] | None = None


def _layer(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Values of `override` that are not None win over `base`, one level deep for penalties."""
    merged = dict(base)
    for key, value in (override or {}).items():
        if value is None:
            continue
        if key == "penalties":
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
    per_difficulty = defaults.get("difficulty", {}).get(scenario.difficulty)
    if per_difficulty is None:
        raise ValueError(f"unknown difficulty {scenario.difficulty!r}")
    merged = _layer(base, per_difficulty)
    merged = _layer(
        merged,
        {
            "lives": scenario.lives,
            "reward": scenario.reward,
            "confidence_threshold": scenario.confidence_threshold,
            "answer_similarity": scenario.answer_similarity,
            "wrong_language_probability": scenario.wrong_language_probability,
            "penalties": scenario.penalties,
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
        confidence_threshold=float(merged["confidence_threshold"]),
        answer_similarity=float(merged["answer_similarity"]),
        wrong_language_probability=float(merged["wrong_language_probability"]),
        penalties=penalties,
    )
