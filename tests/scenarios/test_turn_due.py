"""scenarios/selectors.turn_due_get: a turn and its answers, read once per scenario version."""

from __future__ import annotations

import pytest

from scenarios.models import Scenario, Turn
from scenarios.selectors import scenario_turn_count_get, scenario_version_get, turn_due_get
from tests.conftest import scenario_data


def test_a_turn_is_read_once_per_version(make_scenario, django_assert_num_queries) -> None:
    scenario = make_scenario()
    with django_assert_num_queries(2):  # the turn, its answers
        turn = turn_due_get(scenario=scenario, order=1)
    read_again = Scenario.objects.get(pk=scenario.pk)  # as the next answer's lock reads it
    with django_assert_num_queries(0):
        again = turn_due_get(scenario=read_again, order=1)
        assert [a.text for a in again.answers.all()] == [a.text for a in turn.answers.all()]
    assert (turn.order, turn.prompt) == (1, "Sur place ou à emporter ?")


def test_an_edit_through_the_services_is_read_at_once(make_scenario) -> None:
    """Every edit (admin, files) goes through scenario_upsert, which saves the scenario:
    its new `updated_at` is a new version, in every process."""
    scenario = make_scenario()
    assert turn_due_get(scenario=scenario, order=0).prompt.startswith("Bonjour")
    turns = scenario_data()["turns"]
    edited = make_scenario(turns=[{**turns[0], "prompt": "Salut !", "answers": ["Un thé"]}])
    fresh = Scenario.objects.get(pk=edited.pk)
    assert fresh.updated_at != scenario.updated_at
    turn = turn_due_get(scenario=fresh, order=0)
    assert (turn.prompt, [a.text for a in turn.answers.all()]) == ("Salut !", ["Un thé"])


def test_a_turn_that_is_not_there_is_not_remembered(make_scenario) -> None:
    scenario = make_scenario()
    with pytest.raises(Turn.DoesNotExist):
        turn_due_get(scenario=scenario, order=5)


def test_a_scenario_is_read_once_per_version_and_an_edit_at_once(
    make_scenario, django_assert_num_queries
) -> None:
    """scenario_version_get (what a live answer's lock reads the scenario through)."""
    scenario = make_scenario()
    with django_assert_num_queries(1):
        first = scenario_version_get(scenario_id=scenario.pk, version=scenario.updated_at)
    with django_assert_num_queries(0):
        assert scenario_version_get(scenario_id=scenario.pk, version=scenario.updated_at) is first
    edited = make_scenario(lives=5)
    assert edited.pk == scenario.pk
    assert edited.updated_at != scenario.updated_at
    fresh = scenario_version_get(scenario_id=edited.pk, version=edited.updated_at)
    assert (first.lives, fresh.lives) == (scenario.lives, 5)


def test_the_turn_count_is_read_once_per_version_and_an_edit_at_once(
    make_scenario, django_assert_num_queries
) -> None:
    """What a session start counts (a streaming learner starts one every few answers)."""
    scenario = make_scenario()
    with django_assert_num_queries(1):
        assert scenario_turn_count_get(scenario=scenario) == 2
    read_again = Scenario.objects.get(pk=scenario.pk)
    with django_assert_num_queries(0):
        assert scenario_turn_count_get(scenario=read_again) == 2
    edited = make_scenario(turns=scenario_data()["turns"][:1])
    assert scenario_turn_count_get(scenario=Scenario.objects.get(pk=edited.pk)) == 1
