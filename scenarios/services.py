"""Writes to scenarios: the one path the admin, the files and the API take."""

from __future__ import annotations

import dataclasses

from django.db import transaction
from django.db.models import ProtectedError

from scenarios.models import AcceptedAnswer, Scenario, Turn
from scenarios.rules import PENALTY_COSTS, PENALTY_TYPES
from scenarios.specs import ScenarioSpec, SpecError, SpecInvalid, TurnSpec


@transaction.atomic
def scenario_upsert(*, spec: ScenarioSpec) -> Scenario:
    """Create or update the scenario with `spec.slug`, turns and answers included.

    Idempotent: the same spec twice leaves the same rows. Turns are matched by position so the
    attempts that refer to them stay attached; a turn that has attempts cannot be removed.
    """
    scenario = Scenario.objects.select_for_update().filter(slug=spec.slug).first()
    scenario = scenario or Scenario(slug=spec.slug)
    scenario.title = spec.title
    scenario.description = spec.description
    scenario.language = spec.language
    scenario.difficulty = spec.difficulty
    scenario.lives = spec.lives
    scenario.reward = spec.reward
    scenario.answer_similarity = spec.answer_similarity
    scenario.wrong_language_probability = spec.wrong_language_probability
    scenario.typed_answers = spec.typed_answers
    scenario.streaming_enabled = spec.streaming_enabled
    scenario.reveal_after = spec.reveal_after
    scenario.audio_judging = dict(spec.audio_judging)
    for penalty_type in PENALTY_TYPES:
        for cost in PENALTY_COSTS:
            value = spec.penalties.get(penalty_type, {}).get(cost)
            setattr(scenario, f"{penalty_type}_{cost}", value)
    scenario.save()

    existing = {turn.order: turn for turn in scenario.turns.all()}
    for order, turn_spec in enumerate(spec.turns):
        turn = existing.pop(order, None) or Turn(scenario=scenario, order=order)
        turn.prompt = turn_spec.prompt
        turn.hint = turn_spec.hint
        turn.reward = turn_spec.reward
        turn.save()
        current = [answer.text for answer in turn.answers.all()]
        if current != list(turn_spec.answers):
            turn.answers.all().delete()
            AcceptedAnswer.objects.bulk_create(
                AcceptedAnswer(turn=turn, text=text) for text in turn_spec.answers
            )
    for order, turn in sorted(existing.items()):
        try:
            turn.delete()
        except ProtectedError as error:
            raise SpecInvalid(
                [SpecError(f"turns[{order}]", "has recorded attempts and cannot be removed")]
            ) from error
    return scenario


def scenario_spec_from_instance(*, scenario: Scenario) -> ScenarioSpec:
    """The spec a stored scenario would be written as (for export and round trips)."""
    penalties = {
        name: {cost: value for cost, value in costs.items() if value is not None}
        for name, costs in scenario.penalty_overrides().items()
    }
    penalties = {name: costs for name, costs in penalties.items() if costs}
    return ScenarioSpec(
        slug=scenario.slug,
        title=scenario.title,
        description=scenario.description,
        language=scenario.language,
        difficulty=scenario.difficulty,
        lives=scenario.lives,
        reward=scenario.reward,
        answer_similarity=scenario.answer_similarity,
        wrong_language_probability=scenario.wrong_language_probability,
        typed_answers=scenario.typed_answers,
        streaming_enabled=scenario.streaming_enabled,
        reveal_after=scenario.reveal_after,
        penalties=penalties,
        audio_judging=dict(scenario.audio_judging or {}),
        turns=tuple(
            TurnSpec(
                prompt=turn.prompt,
                answers=tuple(answer.text for answer in turn.answers.all()),
                reward=turn.reward,
                hint=turn.hint,
            )
            for turn in scenario.turns.prefetch_related("answers")
        ),
    )


ANSWER_MAX_CHARS = 300


@transaction.atomic
def turn_answer_add(*, turn: Turn, text: str) -> str:
    """Add `text` (stripped, at most ANSWER_MAX_CHARS) to `turn`'s accepted answers through
    `scenario_upsert`, so the file format's rules apply; the text as stored. Nothing happens
    when the turn already accepts it as written. Raises SpecInvalid for an empty text."""
    text = text.strip()[:ANSWER_MAX_CHARS]
    if not text:
        raise SpecInvalid([SpecError(f"turns[{turn.order}].answers", "an answer needs words")])
    spec = scenario_spec_from_instance(
        scenario=Scenario.objects.select_for_update().get(pk=turn.scenario_id)
    )
    turns = list(spec.turns)
    current = turns[turn.order]
    if text not in current.answers:
        turns[turn.order] = dataclasses.replace(current, answers=(*current.answers, text))
        scenario_upsert(spec=dataclasses.replace(spec, turns=tuple(turns)))
    return text
