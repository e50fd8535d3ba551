"""The designer's admin speaks people's language: titles, names, turns from 1, one error each."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.scenarios.test_admin import change_form, errors_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def designer() -> Client:
    user = get_user_model().objects.create_superuser("designer", password="pw-Parley-123")
    client = Client()
    client.force_login(user)
    return client


def test_sessions_and_attempts_read_as_people_say_them(played, designer: Client) -> None:
    sessions = designer.get("/admin/interaction/session/").content.decode()
    assert "Order a coffee (test)" in sessions
    assert "0 of 3 lives" in sessions  # cy
    assert "Turn 2 of 2" in sessions
    attempts = designer.get("/admin/interaction/attempt/").content.decode()
    assert "Order a coffee (test) · cy" in attempts
    assert " / " not in attempts.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert "French (0.95)" in attempts
    cy = played.sessions["cy"]
    assert str(cy).startswith("Order a coffee (test) · cy · Failed")
    detail = designer.get(f"/admin/interaction/session/{cy.pk}/change/").content.decode()
    numbers = re.findall(r'class="field-turn_number">\s*<p>(\d+)</p>', detail)
    assert numbers == ["1", "1", "2", "2"]


def test_scenario_page_has_links_branding_and_room(scenario, designer: Client) -> None:
    html = designer.get(f"/admin/scenarios/scenario/{scenario.pk}/change/").content.decode()
    assert 'href="/play/cafe-test/">Play this scenario</a>' in html
    assert 'href="/analytics/?scenario=cafe-test">Analytics for this scenario</a>' in html
    assert "Parley · content and sessions" in html
    assert "Django administration" not in html
    assert 'name="turns-0-order" value="1"' in html  # turns counted from 1
    assert 'name="turns-1-order" value="2"' in html
    assert "French (fr)" in html
    assert 'name="turns-0-answers_text" cols="70" rows="4"' in html
    assert 'name="turns-0-hint" cols="70" rows="2"' in html


def test_many_answers_all_fit(make_scenario, designer: Client) -> None:
    answers = [f"Réponse numéro {n}" for n in range(7)]
    scenario = make_scenario(turns=[{"prompt": "Dites quelque chose", "answers": answers}])
    html = designer.get(f"/admin/scenarios/scenario/{scenario.pk}/change/").content.decode()
    assert 'name="turns-0-answers_text" cols="70" rows="8"' in html


def test_one_error_per_mistake_in_the_custom_words(scenario, designer: Client) -> None:
    url = f"/admin/scenarios/scenario/{scenario.pk}/change/"
    errors = errors_of(designer.post(url, change_form(scenario, lives="0")))
    assert errors["form"] == {"lives": ["Give at least 1 life, or leave it blank to inherit."]}
    assert errors["formset"] == []
    blank = change_form(scenario, **{"turns-1-answers_text": "  "})
    errors = errors_of(designer.post(url, blank))
    assert errors["turns"][1] == {"answers_text": ["Give at least one accepted answer."]}
    assert errors["formset"] == []
    empty = change_form(scenario, **{"turns-1-answers_text": ""})
    assert errors_of(designer.post(url, empty))["turns"][1] == {
        "answers_text": ["Give at least one accepted answer."]
    }
    zero = change_form(scenario, **{"turns-0-order": "0"})
    assert errors_of(designer.post(url, zero))["turns"][0] == {
        "order": ["Turns are numbered from 1."]
    }
