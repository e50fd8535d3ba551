"""Content designers' admin: filters, inline turns and answers, effective values, validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.admin.models import CHANGE as CHANGE_FLAG
from django.test import Client
from django.urls import reverse

from interaction.models import Attempt, Session
from interaction.services import answer_from_text, attempt_record, session_start
from scenarios.models import AcceptedAnswer, Scenario, Turn

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:scenarios_scenario_changelist"
ADD = "admin:scenarios_scenario_add"
CHANGE = "admin:scenarios_scenario_change"

OVERRIDE_FIELDS = [
    "lives",
    "reward",
    "answer_similarity",
    "wrong_language_probability",
    "wrong_language_lives",
    "wrong_language_points",
    "incorrect_answer_lives",
    "incorrect_answer_points",
]


def turn_fields(index: int, *, order: int, prompt: str, answers: str, **extra: str) -> dict:
    prefix = f"turns-{index}-"
    data = {
        "order": str(order + 1),  # the admin counts turns from 1
        "prompt": prompt,
        "hint": "",
        "reward": "",
        "answers_text": answers,
    }
    data.update(extra)
    return {prefix + key: value for key, value in data.items()}


def add_form(
    turns: list[dict] | None = None, initial: int = 0, /, **fields: str | None
) -> dict[str, str]:
    """POST data for the add (or change) view: the scenario form plus the turns formset.

    A field given as None is left out of the POST (an unticked checkbox).
    """
    if turns is None:
        turns = [
            turn_fields(
                0,
                order=0,
                prompt="¡Hola! ¿Qué desea?",
                answers="Una entrada, por favor\nDos entradas, por favor",
                hint="Ask for a ticket.",
                reward="25",
            ),
            turn_fields(1, order=1, prompt="Son diez euros.", answers="Aquí tiene"),
        ]
    data: dict[str, str | None] = {
        "slug": "museo-madrid",
        "title": "Buy a museum ticket",
        "description": "",
        "language": "es",
        "difficulty": "normal",
        "typed_answers": "on",
        "streaming_enabled": "on",
        **dict.fromkeys(OVERRIDE_FIELDS, ""),
        "turns-TOTAL_FORMS": str(len(turns)),
        "turns-INITIAL_FORMS": str(initial),
        "turns-MIN_NUM_FORMS": "0",
        "turns-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for turn in turns:
        data.update(turn)
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def change_form(scenario: Scenario, **fields: str) -> dict:
    """POST data that resubmits `scenario` as stored (slug is read-only on change)."""
    turns = []
    for index, turn in enumerate(scenario.turns.order_by("order")):
        turns.append(
            turn_fields(
                index,
                order=turn.order,
                prompt=turn.prompt,
                answers="\n".join(answer.text for answer in turn.answers.all()),
                hint=turn.hint,
                reward="" if turn.reward is None else str(turn.reward),
                id=str(turn.pk),
                scenario=str(scenario.pk),
            )
        )
    overrides = {
        name: "" if getattr(scenario, name) is None else str(getattr(scenario, name))
        for name in OVERRIDE_FIELDS
    }
    data = add_form(
        turns,
        len(turns),
        title=scenario.title,
        description=scenario.description,
        language=scenario.language,
        difficulty=scenario.difficulty,
        typed_answers="on" if scenario.typed_answers else None,
        streaming_enabled="on" if scenario.streaming_enabled else None,
        **overrides,
    )
    del data["slug"]
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(response: Any) -> dict[str, Any]:
    """The scenario form's errors, each inline form's errors and the formset's own errors."""
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    return {
        "form": dict(response.context["adminform"].form.errors),
        "turns": [dict(form.errors) for form in formset.forms],
        "formset": list(formset.non_form_errors()),
    }


@pytest.fixture
def three_scenarios(make_scenario: Callable[..., Scenario]) -> None:
    make_scenario(slug="cafe", language="fr", difficulty="normal")
    make_scenario(slug="hotel", language="fr", difficulty="hard")
    make_scenario(slug="tapas", language="es", difficulty="easy")
    make_scenario(slug="bahnhof", language="de", difficulty="hard")


# --- changelist ---


@pytest.mark.usefixtures("three_scenarios")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["bahnhof", "cafe", "hotel", "tapas"]),
        ({"language": "fr"}, ["cafe", "hotel"]),
        ({"language": "de"}, ["bahnhof"]),
        ({"difficulty__exact": "hard"}, ["bahnhof", "hotel"]),
        ({"difficulty__exact": "easy"}, ["tapas"]),
        ({"language": "fr", "difficulty__exact": "hard"}, ["hotel"]),
        ({"language": "es", "difficulty__exact": "hard"}, []),
    ],
)
def test_changelist_filters_by_language_and_difficulty(
    admin_client: Client, query: dict[str, str], expected: list[str]
):
    response = admin_client.get(reverse(CHANGELIST), query)

    assert response.status_code == 200
    assert sorted(s.slug for s in response.context["cl"].result_list) == expected


@pytest.mark.usefixtures("three_scenarios")
def test_changelist_offers_the_language_and_difficulty_filters(admin_client: Client):
    response = admin_client.get(reverse(CHANGELIST))

    titles = [spec.title for spec in response.context["cl"].filter_specs]
    assert "language" in titles
    assert "difficulty" in titles
    language_choices = {
        choice["display"]
        for spec in response.context["cl"].filter_specs
        if spec.title == "language"
        for choice in spec.choices(response.context["cl"])
    }
    assert {"fr", "es", "de"} <= language_choices


def test_changelist_requires_staff(client: Client, make_scenario: Callable[..., Scenario]):
    make_scenario()

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- add ---


def test_add_creates_the_scenario_with_turns_answers_and_overrides(admin_client: Client):
    response = admin_client.post(
        reverse(ADD),
        add_form(
            lives="4",
            reward="12",
            answer_similarity="70",
            wrong_language_lives="2",
            incorrect_answer_points="3",
            typed_answers=None,
        ),
    )

    assert response.status_code == 302, errors_of(response)
    scenario = Scenario.objects.get(slug="museo-madrid")
    assert response["Location"] == reverse(CHANGELIST)
    assert (scenario.title, scenario.language, scenario.difficulty) == (
        "Buy a museum ticket",
        "es",
        "normal",
    )
    assert (scenario.typed_answers, scenario.streaming_enabled) == (False, True)
    assert (scenario.lives, scenario.reward, scenario.answer_similarity) == (4, 12, 70.0)
    assert scenario.wrong_language_probability is None
    assert (scenario.wrong_language_lives, scenario.wrong_language_points) == (2, None)
    assert (scenario.incorrect_answer_lives, scenario.incorrect_answer_points) == (None, 3)
    first, second = scenario.turns.order_by("order")
    assert (first.order, first.prompt, first.hint, first.reward) == (
        0,
        "¡Hola! ¿Qué desea?",
        "Ask for a ticket.",
        25,
    )
    assert list(first.answers.values_list("text", flat=True)) == [
        "Una entrada, por favor",
        "Dos entradas, por favor",
    ]
    assert (second.order, second.prompt, second.hint, second.reward) == (
        1,
        "Son diez euros.",
        "",
        None,
    )
    assert list(second.answers.values_list("text", flat=True)) == ["Aquí tiene"]


def test_add_orders_turns_by_their_order_field_from_zero(admin_client: Client):
    turns = [
        turn_fields(0, order=7, prompt="Second", answers="b"),
        turn_fields(1, order=3, prompt="First", answers="a\n\n  \nA  "),
    ]

    response = admin_client.post(reverse(ADD), add_form(turns))

    assert response.status_code == 302, errors_of(response)
    turns_stored = list(Turn.objects.order_by("order").values_list("order", "prompt"))
    assert turns_stored == [(0, "First"), (1, "Second")]
    first = Turn.objects.get(order=0)
    assert list(first.answers.values_list("text", flat=True)) == ["a", "A"]


def test_add_page_renders_the_turns_inline(admin_client: Client):
    response = admin_client.get(reverse(ADD))

    assert response.status_code == 200
    assert b'name="turns-TOTAL_FORMS"' in response.content
    assert b"Effective values" in response.content


# --- change page: effective values ---


def test_change_page_shows_effective_values_of_a_hard_scenario(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario(difficulty="hard", lives=None, reward=None)

    response = admin_client.get(reverse(CHANGE, args=[scenario.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<th>Wrong language costs</th><td>2 lives, 0 points</td>" in html
    assert "<th>Incorrect answer costs</th><td>1 life, 5 points</td>" in html
    assert "<th>Lives</th><td>3 lives</td>" in html
    assert "<th>Reward per turn</th><td>10</td>" in html


def test_change_page_shows_overrides_in_the_effective_values(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario(
        difficulty="hard",
        lives=6,
        reward=40,
        penalties={"wrong_language": {"lives": 3}, "incorrect_answer": {"points": 0}},
    )

    html = admin_client.get(reverse(CHANGE, args=[scenario.pk])).content.decode()

    assert "<th>Lives</th><td>6 lives</td>" in html
    assert "<th>Reward per turn</th><td>40</td>" in html
    assert "<th>Wrong language costs</th><td>3 lives, 0 points</td>" in html
    assert "<th>Incorrect answer costs</th><td>1 life, 0 points</td>" in html


def test_change_page_shows_each_turns_answers_and_effective_reward(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario(reward=11)

    response = admin_client.get(reverse(CHANGE, args=[scenario.pk]))

    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.initial["answers_text"] for form in formset.forms] == [
        "Je voudrais un café, s'il vous plaît\nUn café, s'il vous plaît",
        "Sur place, s'il vous plaît\nÀ emporter, s'il vous plaît",
    ]
    inline = response.context["inline_admin_formsets"][0].opts
    rewards = [inline.effective_reward(turn) for turn in scenario.turns.order_by("order")]
    assert rewards == ["15", "11"]


@pytest.mark.parametrize("change", [False, True], ids=["add", "change"])
def test_save_logs_a_change_message(
    admin_client: Client, make_scenario: Callable[..., Scenario], change: bool
):
    if change:
        scenario = make_scenario()
        url, data = reverse(CHANGE, args=[scenario.pk]), change_form(scenario, title="Edited")
    else:
        url, data = reverse(ADD), add_form()

    response = admin_client.post(url, data)

    assert response.status_code == 302
    entry = LogEntry.objects.get()
    assert entry.action_flag == (CHANGE_FLAG if change else ADDITION)


# --- validation: the form comes back, nothing is written ---

INVALID = [
    pytest.param({"lives": "0"}, "form", "lives", id="lives-0"),
    pytest.param(
        {"wrong_language_probability": "1.5"},
        "form",
        "wrong_language_probability",
        id="wrong-language-probability-1.5",
    ),
    pytest.param(
        {"wrong_language_probability": "0"},
        "form",
        "wrong_language_probability",
        id="wrong-language-probability-0",
    ),
    pytest.param({"answer_similarity": "0"}, "form", "answer_similarity", id="similarity-0"),
    pytest.param({"wrong_language_lives": "-1"}, "form", "wrong_language_lives", id="penalty-neg"),
    pytest.param({"language": "ja"}, "form", "language", id="language-unsupported"),
    pytest.param({"title": ""}, "form", "title", id="title-blank"),
    pytest.param({"turns-1-answers_text": ""}, "turns", "answers_text", id="turn-answers-empty"),
    pytest.param(
        {"turns-1-answers_text": "  \n \n"}, "turns", "answers_text", id="turn-answers-blank"
    ),
    pytest.param({"turns-0-prompt": ""}, "turns", "prompt", id="turn-prompt-empty"),
]


@pytest.mark.parametrize(("fields", "where", "field"), INVALID)
def test_invalid_add_rerenders_the_form_and_creates_nothing(
    admin_client: Client, fields: dict[str, str], where: str, field: str
):
    response = admin_client.post(reverse(ADD), add_form(**fields))

    errors = errors_of(response)
    if where == "form":
        assert field in errors["form"], errors
    else:
        assert any(field in turn for turn in errors["turns"]), errors
    assert (Scenario.objects.count(), Turn.objects.count(), AcceptedAnswer.objects.count()) == (
        0,
        0,
        0,
    )


def test_add_without_turns_is_refused(admin_client: Client):
    response = admin_client.post(reverse(ADD), add_form([]))

    errors = errors_of(response)
    assert errors["formset"] == ["A scenario needs at least one turn."]
    assert Scenario.objects.count() == 0


def test_add_with_only_deleted_turns_is_refused(admin_client: Client):
    turns = [turn_fields(0, order=0, prompt="Hola", answers="Hola", DELETE="on")]

    response = admin_client.post(reverse(ADD), add_form(turns))

    errors = errors_of(response)
    assert errors["formset"] == ["A scenario needs at least one turn."]
    assert Scenario.objects.count() == 0


def test_add_with_a_taken_slug_is_refused(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    make_scenario(slug="museo-madrid", title="Original")

    response = admin_client.post(reverse(ADD), add_form(title="Copy"))

    assert "slug" in errors_of(response)["form"]
    assert list(Scenario.objects.values_list("title", flat=True)) == ["Original"]


@pytest.mark.parametrize("slug", ["Museo-Madrid", "museo_madrid"])
def test_add_with_a_slug_the_files_would_refuse_rerenders_the_form(admin_client: Client, slug: str):
    response = admin_client.post(reverse(ADD), add_form(slug=slug))

    assert "slug" in errors_of(response)["form"]
    assert Scenario.objects.count() == 0


# --- change ---


def test_editing_answers_replaces_them(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario()
    turn_ids = list(scenario.turns.order_by("order").values_list("id", flat=True))
    second_answer_ids = list(
        AcceptedAnswer.objects.filter(turn_id=turn_ids[1]).values_list("id", flat=True)
    )

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]),
        change_form(
            scenario,
            title="Coffee, edited",
            **{"turns-0-answers_text": "Un thé, s'il vous plaît\nUn chocolat chaud"},
        ),
    )

    assert response.status_code == 302, errors_of(response)
    scenario.refresh_from_db()
    assert scenario.title == "Coffee, edited"
    assert scenario.slug == "cafe-test"
    turns = list(scenario.turns.order_by("order"))
    assert [turn.id for turn in turns] == turn_ids
    assert list(turns[0].answers.values_list("text", flat=True)) == [
        "Un thé, s'il vous plaît",
        "Un chocolat chaud",
    ]
    assert list(turns[1].answers.values_list("id", flat=True)) == second_answer_ids
    assert AcceptedAnswer.objects.count() == 4


def test_change_clears_an_override_left_blank(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario(lives=5, penalties={"wrong_language": {"lives": 2, "points": 1}})

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]),
        change_form(scenario, lives="", wrong_language_points=""),
    )

    assert response.status_code == 302, errors_of(response)
    scenario.refresh_from_db()
    assert (scenario.lives, scenario.wrong_language_lives, scenario.wrong_language_points) == (
        None,
        2,
        None,
    )


def test_change_deletes_a_turn_marked_for_deletion(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario()
    first_id = scenario.turns.get(order=0).id

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]), change_form(scenario, **{"turns-1-DELETE": "on"})
    )

    assert response.status_code == 302, errors_of(response)
    assert list(scenario.turns.values_list("id", flat=True)) == [first_id]


def test_invalid_change_writes_nothing(
    admin_client: Client, make_scenario: Callable[..., Scenario]
):
    scenario = make_scenario()

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]),
        change_form(scenario, title="Changed", **{"turns-0-answers_text": ""}),
    )

    assert any("answers_text" in turn for turn in errors_of(response)["turns"])
    scenario.refresh_from_db()
    assert scenario.title == "Order a coffee (test)"
    assert AcceptedAnswer.objects.filter(turn__order=0).count() == 2


def test_deleting_a_turn_that_has_attempts_rerenders_the_form(
    admin_client: Client, make_scenario: Callable[..., Scenario], learner: Any
):
    scenario = make_scenario()
    session = session_start(learner=learner, scenario=scenario)
    attempt_record(session=session, answer=answer_from_text(text="Un café, s'il vous plaît"))
    attempt_record(session=session, answer=answer_from_text(text="Sur place, s'il vous plaît"))

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]), change_form(scenario, **{"turns-1-DELETE": "on"})
    )

    [error] = errors_of(response)["formset"]
    assert "protected related objects" in error
    assert "Sur place ou à emporter" in error
    assert scenario.turns.count() == 2


def test_deleting_an_earlier_turn_when_a_later_one_has_attempts_rerenders_the_form(
    admin_client: Client, make_scenario: Callable[..., Scenario], learner: Any
):
    scenario = make_scenario()
    session = session_start(learner=learner, scenario=scenario)
    # A learner on the second turn (e.g. after the turns were edited under them).
    Session.objects.filter(pk=session.pk).update(turn_index=1)
    attempt_record(session=session, answer=answer_from_text(text="Sur place, s'il vous plaît"))
    assert not Attempt.objects.filter(turn__order=0).exists()

    response = admin_client.post(
        reverse(CHANGE, args=[scenario.pk]), change_form(scenario, **{"turns-0-DELETE": "on"})
    )

    assert response.status_code == 200
    assert "cannot be removed" in response.content.decode()
    assert scenario.turns.count() == 2


def test_add_saves_the_fair_judges_thresholds_and_shows_them(admin_client: Client):
    response = admin_client.post(
        reverse(ADD), add_form(audio_judging='{"correct_floor": 0.95, "incorrect_floor": 0.8}')
    )

    assert response.status_code == 302, errors_of(response)
    scenario = Scenario.objects.get(slug="museo-madrid")
    assert scenario.audio_judging == {"correct_floor": 0.95, "incorrect_floor": 0.8}
    page = admin_client.get(reverse(CHANGE, args=[scenario.pk])).content.decode()
    assert "correct_floor 0.95, incorrect_floor 0.8" in page  # the effective values


@pytest.mark.parametrize(
    "value", ['{"correct_flor": 0.9}', '{"correct_floor": 3}', '{"correct_floor": "x"}', "[1]"]
)
def test_add_refuses_thresholds_the_judge_does_not_have(admin_client: Client, value: str):
    response = admin_client.post(reverse(ADD), add_form(audio_judging=value))

    assert "audio_judging" in errors_of(response)["form"], errors_of(response)
    assert Scenario.objects.count() == 0
