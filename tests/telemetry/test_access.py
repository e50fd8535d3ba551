"""Who sees analytics: staff and the `analysts` group; learners get 403, nobody edits."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from scenarios.models import Scenario

pytestmark = pytest.mark.django_db

SESSION = uuid.uuid4()
PAGES = [
    "/analytics/",
    "/analytics/difficulty/",
    "/analytics/attempts.csv",
    "/analytics/scenarios/cafe-test/sessions/",
    f"/analytics/sessions/{SESSION}/",
    "/metrics",
]
API = [
    "/api/analytics/scenarios/",
    "/api/analytics/turns/",
    "/api/analytics/flagged-turns/",
    "/api/analytics/turns/?format=csv",
    f"/api/analytics/sessions/{SESSION}/",
]


@pytest.mark.parametrize("path", PAGES + API)
def test_a_learner_gets_403_everywhere(path: str, learner) -> None:
    client = Client()
    client.force_login(learner)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", API)
def test_a_learner_token_gets_403_on_the_api(path: str, learner_client) -> None:
    assert learner_client.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES[:-1])
def test_anonymous_visitors_are_sent_to_the_site_login(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("path", API)
def test_anonymous_api_calls_are_401(path: str) -> None:
    assert APIClient().get(path).status_code == 401


@pytest.mark.parametrize("path", PAGES[:4] + API[:4])
def test_analysts_and_staff_may_read(path: str, analyst, scenario) -> None:
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    for user in (analyst, staff):
        client = Client()
        client.force_login(user)
        assert client.get(path).status_code in (200, 302), (user, path)


def test_analysts_log_in_through_the_site(analyst, scenario) -> None:
    client = Client()
    response = client.post(
        "/login/?next=/analytics/", {"username": "analyst", "password": "pw-Parley-123"}
    )
    assert response.status_code == 302
    assert client.get("/analytics/").status_code == 200


def test_an_analyst_cannot_edit_scenarios(analyst, scenario) -> None:
    client = Client()
    client.force_login(analyst)
    change = f"/admin/scenarios/scenario/{scenario.pk}/change/"
    assert client.get(change).status_code == 302  # to the admin login: not staff
    client.post(change, {"title": "Hacked"})
    assert Scenario.objects.get(pk=scenario.pk).title == "Order a coffee (test)"
    assert not analyst.has_perm("scenarios.change_scenario")
    assert APIClient().get("/api/scenarios/").status_code in (200, 401)


def test_the_group_is_created_on_demand() -> None:
    from django.contrib.auth.models import Group

    from telemetry.access import analysts_group_get

    Group.objects.filter(name="analysts").delete()
    assert analysts_group_get().name == "analysts"
    assert Group.objects.filter(name="analysts").count() == 1
