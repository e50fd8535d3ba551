"""At ≥ 10,000 attempts the report's query count stays what it is for five (its time is in
bench/analytics.py, not asserted here)."""

from __future__ import annotations

import pytest
from django.test import Client

from bench.analytics import bulk_played
from interaction.models import Attempt
from telemetry.analytics import analytics_scenarios_list, analytics_turns_list

pytestmark = pytest.mark.django_db


def test_ten_thousand_attempts_in_a_bounded_number_of_queries(
    scenario, analyst_client: Client, django_assert_max_num_queries
) -> None:
    while Attempt.objects.count() < 10_000:
        bulk_played(sessions=1500, scenario=scenario, seed=Attempt.objects.count())
    with django_assert_max_num_queries(2):
        turns = analytics_turns_list()
        (figures,) = analytics_scenarios_list()
    assert figures.attempts == Attempt.objects.count() >= 10_000
    assert sum(turn.attempts for turn in turns) == figures.attempts
    assert figures.sessions >= figures.min_sessions
    with django_assert_max_num_queries(8):
        page = analyst_client.get("/analytics/")
    assert page.status_code == 200
    with django_assert_max_num_queries(4):
        api = analyst_client.get("/api/analytics/turns/?format=csv")
    assert api.status_code == 200
