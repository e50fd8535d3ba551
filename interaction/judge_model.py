"""The fitted judge's model: class probabilities from an answer's features, and the tiers.

Pure: no Django, no numpy, no fitting library. The coefficients live in `judge_model.json`
beside this file, written by `python -m bench.realvoice fit` (bench/realvoice_fit.py) from
the real-voice bench's fitting part, with the floors it chose, the costs it weighed and its
out-of-fold figures. A multinomial logistic regression over standardised features
(`interaction.judge_features`): three classes, correct / incorrect_answer / wrong_language.

The tiers (`tier`): points when P(correct) reaches its floor; a penalty when the likelier
penalty's probability reaches its own floor; otherwise `unclear`. The floors were chosen so
that, on speech the model had not seen, a correct answer loses a heart at most half as often
as the goal allows: a heart lost on a correct answer costs far more than an `unclear`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).with_name("judge_model.json")
PENALTIES = ("incorrect_answer", "wrong_language")


OUTCOMES = ("correct", *PENALTIES)


@dataclass(frozen=True)
class JudgeModel:
    """classes: what the regression tells apart (finer than the outcomes: a near miss and
    another sentence are both `incorrect_answer`, but look nothing alike); outcome_of: each
    class's outcome, whose probabilities add up (`unclear`: speech no one can make out, a
    class the model learns so that it does not pass for a wrong answer; never a tier)."""

    classes: tuple[str, ...]
    outcome_of: Mapping[str, str]
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]  # one row per class
    intercepts: tuple[float, ...]
    floors: Mapping[str, float]
    version: int = 1

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> JudgeModel:
        classes = tuple(data["classes"])
        outcomes = data.get("outcomes") or {}
        model = cls(
            classes=classes,
            outcome_of={name: str(outcomes.get(name, name)) for name in classes},
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(tuple(float(v) for v in row) for row in data["weights"]),
            intercepts=tuple(float(v) for v in data["intercepts"]),
            floors={str(k): float(v) for k, v in data["floors"].items()},
            version=int(data.get("version", 1)),
        )
        width = len(model.features)
        if not (
            len(model.mean) == len(model.scale) == width
            and len(model.weights) == len(model.intercepts) == len(model.classes)
            and all(len(row) == width for row in model.weights)
            and set(OUTCOMES) <= set(model.outcome_of.values()) <= {*OUTCOMES, "unclear"}
        ):
            raise ValueError("judge model: shapes or classes do not match")
        return model

    def probabilities(self, features: Mapping[str, float]) -> dict[str, float]:
        """P(outcome) for one answer, 0..1, summing to 1 (missing features count as 0)."""
        z = [
            (float(features.get(name, 0.0)) - mean) / scale
            for name, mean, scale in zip(self.features, self.mean, self.scale, strict=True)
        ]
        logits = [
            intercept + sum(w * v for w, v in zip(row, z, strict=True))
            for row, intercept in zip(self.weights, self.intercepts, strict=True)
        ]
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        total = sum(exps)
        extra = sorted(set(self.outcome_of.values()) - set(OUTCOMES))
        out = dict.fromkeys((*OUTCOMES, *extra), 0.0)
        for name, e in zip(self.classes, exps, strict=True):
            out[self.outcome_of[name]] += e / total
        return out


@cache
def judge_model(path: Path = MODEL_FILE) -> JudgeModel:
    """The fitted model shipped with the code (read once per process)."""
    return JudgeModel.from_mapping(json.loads(path.read_text()))


def tier(probabilities: Mapping[str, float], floors: Mapping[str, float]) -> str:
    """`correct`, a penalty, or `unclear`: the class whose probability reaches its floor.

    Points come first (a floor above 0.5 can be reached by one class only); then the likelier
    of the two penalties, if it reaches its own floor.
    """
    if probabilities.get("correct", 0.0) >= floors["correct"]:
        return "correct"
    penalty = max(PENALTIES, key=lambda name: probabilities.get(name, 0.0))
    if probabilities.get(penalty, 0.0) >= floors[penalty]:
        return penalty
    return "unclear"


def floors_with(
    overrides: Sequence[tuple[str, float | None]], model: JudgeModel
) -> dict[str, float]:
    """The model's floors with the rules' overrides (None keeps the fitted floor)."""
    floors = dict(model.floors)
    for name, value in overrides:
        if value is not None:
            floors[name] = value
    return floors
