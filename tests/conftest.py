"""Shared fixtures: learners, API clients and scenarios written through the real services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scenarios.models import Scenario
from scenarios.services import scenario_upsert
from scenarios.specs import spec_from_mapping


def scenario_data(**overrides: Any) -> dict[str, Any]:
    """A valid scenario mapping (file format), with `overrides` applied."""
    data: dict[str, Any] = {
        "slug": "cafe-test",
        "title": "Order a coffee (test)",
        "language": "fr",
        "difficulty": "normal",
        "lives": 3,
        "reward": 10,
        "typed_answers": True,
        "turns": [
            {
                "prompt": "Bonjour ! Qu'est-ce que je vous sers ?",
                "answers": ["Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît"],
                "hint": "Ask for a coffee.",
                "reward": 15,
            },
            {
                "prompt": "Sur place ou à emporter ?",
                "answers": ["Sur place, s'il vous plaît", "À emporter, s'il vous plaît"],
            },
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_scenario(db: None) -> Callable[..., Scenario]:
    def make(**overrides: Any) -> Scenario:
        return scenario_upsert(spec=spec_from_mapping(scenario_data(**overrides)))

    return make


@pytest.fixture
def scenario(make_scenario: Callable[..., Scenario]) -> Scenario:
    return make_scenario()


@pytest.fixture
def make_learner(db: None) -> Callable[[str], Any]:
    def make(username: str = "learner") -> Any:
        return get_user_model().objects.create_user(username=username, password="pw-Parley-123")

    return make


@pytest.fixture
def learner(make_learner: Callable[[str], Any]) -> Any:
    return make_learner("learner")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def learner_client(learner: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=learner)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
