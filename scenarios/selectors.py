"""Reads of scenarios and their effective rules."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db.models import Count, QuerySet

from scenarios.models import AcceptedAnswer, Scenario, Turn
from scenarios.rules import Rules, ScenarioOverrides, rules_resolve


def scenario_overrides(*, scenario: Scenario) -> ScenarioOverrides:
    return ScenarioOverrides(
        difficulty=scenario.difficulty,
        lives=scenario.lives,
        reward=scenario.reward,
        answer_similarity=scenario.answer_similarity,
        wrong_language_probability=scenario.wrong_language_probability,
        penalties=scenario.penalty_overrides(),
        audio_judging=scenario.audio_judging or {},
    )


def scenario_rules_get(*, scenario: Scenario, turn: Turn | None = None) -> Rules:
    """The effective rules for `scenario` (and `turn`'s reward, when given)."""
    return rules_resolve(
        defaults=settings.PARLEY_RULES,
        judging_defaults=settings.PARLEY_JUDGING,
        scenario=scenario_overrides(scenario=scenario),
        turn_reward=turn.reward if turn is not None else None,
    )


def turn_due_get(*, scenario: Scenario, order: int) -> Turn:
    """The scenario's turn at `order` (0-based) with its accepted answers (Turn.DoesNotExist).

    Read once per process and version of the scenario: every change of a scenario, its turns
    or answers is written through `scenarios.services.scenario_upsert`, which saves the
    scenario, so `updated_at` names the version (in every process: it comes with the row the
    caller read). A live answer needs the turn twice (to judge it, then the next one); each
    read was two queries. The Turn is shared: read it, never change it."""
    return _turn_with_answers(scenario.pk, scenario.updated_at, order)


def scenario_version_get(*, scenario_id: int, version: datetime) -> Scenario:
    """The scenario `scenario_id` as it was saved at `version` (its `updated_at`), read once
    per process and version (as `turn_due_get` reads turns): a live answer's lock reads the
    version with the session's row, not the scenario. Shared: read it, never change it."""
    return _scenario_at(scenario_id, version)


def scenario_turn_count_get(*, scenario: Scenario) -> int:
    """How many turns `scenario` has, read once per process and version (`turn_due_get`)."""
    return _turn_count(scenario.pk, scenario.updated_at)


@lru_cache(maxsize=256)
def _turn_count(scenario_id: int, version: datetime) -> int:
    return Turn.objects.filter(scenario_id=scenario_id).count()


@lru_cache(maxsize=256)
def _scenario_at(scenario_id: int, version: datetime) -> Scenario:
    return Scenario.objects.get(pk=scenario_id, updated_at=version)


@lru_cache(maxsize=2048)
def _turn_with_answers(scenario_id: int, version: datetime, order: int) -> Turn:
    return Turn.objects.prefetch_related("answers").get(scenario_id=scenario_id, order=order)


def scenario_list() -> QuerySet[Scenario]:
    """Playable scenarios (those with at least one turn), with their turn counts."""
    return (
        Scenario.objects.annotate(turn_count=Count("turns"))
        .filter(turn_count__gt=0)
        .order_by("language", "difficulty", "slug")
    )


def scenario_get(*, slug: str) -> Scenario:
    return Scenario.objects.prefetch_related("turns__answers").get(slug=slug)


def scenario_find(*, slug: str) -> Scenario | None:
    """The scenario called `slug`, or None."""
    return Scenario.objects.filter(slug=slug).first()


def scenario_slugs() -> QuerySet[Scenario, str]:
    """Every scenario's slug, alphabetical (playable or not)."""
    return Scenario.objects.order_by("slug").values_list("slug", flat=True)


def turn_answer_texts(*, scenario_id: int, order: int) -> tuple[str, ...]:
    """The accepted answers of the scenario's turn at `order` (0-based), as written."""
    return tuple(
        AcceptedAnswer.objects.filter(turn__scenario=scenario_id, turn__order=order).values_list(
            "text", flat=True
        )
    )
