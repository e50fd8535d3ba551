"""A scenario as plain data: what files, the admin and the API agree on.

`spec_from_mapping` validates a parsed YAML/JSON mapping and reports every problem with the
path of its field; it never stops at the first one. Pure: no Django imports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scenarios.rules import PENALTY_TYPES, audio_judging_problems

DEFAULT_REVEAL_AFTER = 2
"""Wrong answers on a turn after which its closest accepted answer is shown."""
SUPPORTED_LANGUAGES = ("fr", "es", "de", "en", "it", "pt", "nl")
DIFFICULTIES = ("easy", "normal", "hard")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_SCENARIO_KEYS = {
    "slug",
    "title",
    "description",
    "language",
    "difficulty",
    "lives",
    "reward",
    "answer_similarity",
    "wrong_language_probability",
    "typed_answers",
    "streaming_enabled",
    "reveal_after",
    "penalties",
    "audio_judging",
    "turns",
}
# Read and ignored, so that files written before a field was retired still import.
_RETIRED_KEYS = {"confidence_threshold"}
_TURN_KEYS = {"prompt", "answers", "reward", "hint"}
# The longest text each field may hold (the models' column sizes).
MAX_LENGTHS = {"slug": 80, "title": 200, "hint": 300, "answer": 300}
_PENALTY_KEYS = {"lives", "points"}


@dataclass(frozen=True)
class TurnSpec:
    prompt: str
    answers: tuple[str, ...]
    reward: int | None = None
    hint: str = ""


@dataclass(frozen=True)
class ScenarioSpec:
    slug: str
    title: str
    language: str
    difficulty: str
    turns: tuple[TurnSpec, ...]
    description: str = ""
    lives: int | None = None
    reward: int | None = None
    answer_similarity: float | None = None
    wrong_language_probability: float | None = None
    typed_answers: bool = True
    streaming_enabled: bool = True
    reveal_after: int = DEFAULT_REVEAL_AFTER
    """Wrong answers on a turn after which the closest accepted answer is shown."""
    penalties: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)
    audio_judging: Mapping[str, float] = field(default_factory=dict)
    """The fair judge's thresholds for this scenario (scenarios.rules.AUDIO_JUDGING_BOUNDS)."""


@dataclass(frozen=True)
class SpecError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecInvalid(Exception):
    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


class _Checker:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(SpecError(path, message))

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool,
        max_length: int | None = None,
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(path, "must be a non-empty string" if required else "must be a string")
            return ""
        if max_length is not None and len(value.strip()) > max_length:
            self.fail(path, f"must be at most {max_length} characters")
            return ""
        return value.strip()

    def integer(self, data: Mapping[str, Any], key: str, path: str, *, minimum: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
            return None
        if value < minimum:
            self.fail(path, f"must be at least {minimum}")
            return None
        return value

    def fraction(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        low: float,
        high: float,
        low_open: bool,
    ) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(path, "must be a number")
            return None
        below = value <= low if low_open else value < low
        if below or value > high:
            bracket = "(" if low_open else "["
            self.fail(path, f"must be in {bracket}{low:g}, {high:g}]")
            return None
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return default
        return value

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in sorted(set(data) - allowed, key=str):
            self.fail(f"{prefix}{key}", "is not a known field")


def spec_from_mapping(data: Any) -> ScenarioSpec:
    """Validate `data` (a parsed scenario file) and build a spec; raise SpecInvalid otherwise."""
    check = _Checker()
    if not isinstance(data, Mapping):
        raise SpecInvalid([SpecError("(file)", "must be a mapping of scenario fields")])
    check.unknown_keys(data, _SCENARIO_KEYS | _RETIRED_KEYS, "")
    spec = ScenarioSpec(
        **_identity_from(check, data),
        **_overrides_from(check, data),
        penalties=_penalties_from(check, data.get("penalties") or {}),
        audio_judging=_audio_judging_from(check, data.get("audio_judging") or {}),
        turns=_turns_from(check, data.get("turns")),
    )
    if check.errors:
        raise SpecInvalid(check.errors)
    return spec


def _identity_from(check: _Checker, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the scenario is: slug, title, description, language and difficulty."""
    slug = check.text(data, "slug", "slug", required=True, max_length=MAX_LENGTHS["slug"])
    if slug and not SLUG_PATTERN.match(slug):
        check.fail("slug", "must be lowercase letters, digits and hyphens")
    title = check.text(data, "title", "title", required=True, max_length=MAX_LENGTHS["title"])
    language = check.text(data, "language", "language", required=True)
    if language and language not in SUPPORTED_LANGUAGES:
        check.fail("language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    difficulty = data.get("difficulty", "normal")
    if difficulty not in DIFFICULTIES:
        check.fail("difficulty", f"must be one of {', '.join(DIFFICULTIES)}")
        difficulty = "normal"
    return {
        "slug": slug,
        "title": title,
        "description": check.text(data, "description", "description", required=False),
        "language": language,
        "difficulty": difficulty,
    }


def _overrides_from(check: _Checker, data: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's own rules and switches (None: inherit)."""
    return {
        "lives": check.integer(data, "lives", "lives", minimum=1),
        "reward": check.integer(data, "reward", "reward", minimum=0),
        "answer_similarity": check.fraction(
            data, "answer_similarity", "answer_similarity", low=0.0, high=100.0, low_open=True
        ),
        "wrong_language_probability": check.fraction(
            data,
            "wrong_language_probability",
            "wrong_language_probability",
            low=0.0,
            high=1.0,
            low_open=True,
        ),
        "typed_answers": check.boolean(data, "typed_answers", "typed_answers", True),
        "streaming_enabled": check.boolean(data, "streaming_enabled", "streaming_enabled", True),
        "reveal_after": check.integer(data, "reveal_after", "reveal_after", minimum=1)
        or DEFAULT_REVEAL_AFTER,
    }


def _penalties_from(check: _Checker, raw: Any) -> dict[str, dict[str, int | None]]:
    """Each penalty type's lives and points; a type with neither set is left out."""
    if not isinstance(raw, Mapping):
        check.fail("penalties", "must be a mapping of penalty types")
        return {}
    penalties: dict[str, dict[str, int | None]] = {}
    for name, costs in raw.items():
        path = f"penalties.{name}"
        if name not in PENALTY_TYPES:
            check.fail(path, f"must be one of {', '.join(PENALTY_TYPES)}")
            continue
        if not isinstance(costs, Mapping):
            check.fail(path, "must be a mapping with lives and points")
            continue
        check.unknown_keys(costs, _PENALTY_KEYS, f"{path}.")
        values = {
            "lives": check.integer(costs, "lives", f"{path}.lives", minimum=0),
            "points": check.integer(costs, "points", f"{path}.points", minimum=0),
        }
        if any(value is not None for value in values.values()):
            penalties[name] = values
    return penalties


def _audio_judging_from(check: _Checker, raw: Any) -> dict[str, float]:
    problems = audio_judging_problems(raw)
    for key, message in problems:
        check.fail(f"audio_judging.{key}" if key else "audio_judging", message)
    return {} if problems else {key: float(value) for key, value in raw.items()}


def _turns_from(check: _Checker, raw: Any) -> tuple[TurnSpec, ...]:
    if not isinstance(raw, list) or not raw:
        check.fail("turns", "must be a non-empty list of turns")
        return ()
    turns: list[TurnSpec] = []
    for index, raw_turn in enumerate(raw):
        path = f"turns[{index}]"
        if not isinstance(raw_turn, Mapping):
            check.fail(path, "must be a mapping with prompt and answers")
            continue
        check.unknown_keys(raw_turn, _TURN_KEYS, f"{path}.")
        turns.append(
            TurnSpec(
                prompt=check.text(raw_turn, "prompt", f"{path}.prompt", required=True),
                answers=_answers_from(check, raw_turn.get("answers"), f"{path}.answers"),
                reward=check.integer(raw_turn, "reward", f"{path}.reward", minimum=0),
                hint=check.text(
                    raw_turn,
                    "hint",
                    f"{path}.hint",
                    required=False,
                    max_length=MAX_LENGTHS["hint"],
                ),
            )
        )
    return tuple(turns)


def _answers_from(check: _Checker, raw: Any, path: str) -> tuple[str, ...]:
    """A turn's accepted answers, stripped; at least one."""
    if not isinstance(raw, list) or not raw:
        check.fail(path, "must list at least one accepted answer")
        return ()
    cleaned: list[str] = []
    for index, answer in enumerate(raw):
        if not isinstance(answer, str) or not answer.strip():
            check.fail(f"{path}[{index}]", "must be a non-empty string")
        elif len(answer.strip()) > MAX_LENGTHS["answer"]:
            check.fail(f"{path}[{index}]", f"must be at most {MAX_LENGTHS['answer']} characters")
        else:
            cleaned.append(answer.strip())
    return tuple(cleaned)


def spec_to_mapping(spec: ScenarioSpec) -> dict[str, Any]:
    """The file form of a spec: required keys always, optional ones only when set."""
    data: dict[str, Any] = {
        "slug": spec.slug,
        "title": spec.title,
        "language": spec.language,
        "difficulty": spec.difficulty,
    }
    optional = {
        "description": spec.description or None,
        "lives": spec.lives,
        "reward": spec.reward,
        "answer_similarity": spec.answer_similarity,
        "wrong_language_probability": spec.wrong_language_probability,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    data["typed_answers"] = spec.typed_answers
    data["streaming_enabled"] = spec.streaming_enabled
    if spec.reveal_after != DEFAULT_REVEAL_AFTER:
        data["reveal_after"] = spec.reveal_after
    penalties = {
        name: {key: value for key, value in costs.items() if value is not None}
        for name, costs in spec.penalties.items()
    }
    penalties = {name: costs for name, costs in penalties.items() if costs}
    if penalties:
        data["penalties"] = penalties
    if spec.audio_judging:
        data["audio_judging"] = dict(spec.audio_judging)
    turns = []
    for turn in spec.turns:
        item: dict[str, Any] = {"prompt": turn.prompt, "answers": list(turn.answers)}
        if turn.reward is not None:
            item["reward"] = turn.reward
        if turn.hint:
            item["hint"] = turn.hint
        turns.append(item)
    data["turns"] = turns
    return data
