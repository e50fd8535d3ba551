"""Scenario files: `import_scenarios` and `export_scenarios` against the real Postgres."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from interaction.models import Attempt
from interaction.services import answer_from_text, attempt_record, session_start
from scenarios.models import AcceptedAnswer, Scenario, Turn
from scenarios.services import scenario_spec_from_instance
from scenarios.specs import spec_to_mapping
from tests.conftest import scenario_data

pytestmark = pytest.mark.django_db


@dataclass
class Outcome:
    stdout: str
    stderr: str
    error: CommandError | None


def run(command: str, *args: Any, **options: Any) -> Outcome:
    stdout, stderr = io.StringIO(), io.StringIO()
    error = None
    try:
        call_command(command, *args, stdout=stdout, stderr=stderr, **options)
    except CommandError as raised:
        error = raised
    return Outcome(stdout.getvalue(), stderr.getvalue(), error)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, data: Any = None, *, text: str | None = None) -> Path:
        path = tmp_path / name
        if text is None:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def counts() -> tuple[int, int, int]:
    return Scenario.objects.count(), Turn.objects.count(), AcceptedAnswer.objects.count()


def snapshot() -> dict[str, dict[str, Any]]:
    """Every stored scenario in file form, by slug."""
    return {
        scenario.slug: spec_to_mapping(scenario_spec_from_instance(scenario=scenario))
        for scenario in Scenario.objects.all()
    }


def answers_of(turn: Turn) -> list[str]:
    return list(turn.answers.values_list("text", flat=True))


def ids() -> tuple[list[int], list[int], list[int]]:
    return (
        sorted(Scenario.objects.values_list("id", flat=True)),
        sorted(Turn.objects.values_list("id", flat=True)),
        sorted(AcceptedAnswer.objects.values_list("id", flat=True)),
    )


# --- importing ---


def test_import_creates_the_scenario_turns_and_answers(write: Callable[..., Path]):
    path = write("cafe.yaml", scenario_data(penalties={"wrong_language": {"lives": 2}}))

    outcome = run("import_scenarios", path)

    assert outcome.error is None, outcome.stderr
    assert "imported cafe-test" in outcome.stdout
    scenario = Scenario.objects.get(slug="cafe-test")
    assert (scenario.title, scenario.language, scenario.difficulty) == (
        "Order a coffee (test)",
        "fr",
        "normal",
    )
    assert (scenario.lives, scenario.reward, scenario.typed_answers) == (3, 10, True)
    assert (scenario.wrong_language_lives, scenario.wrong_language_points) == (2, None)
    assert (scenario.incorrect_answer_lives, scenario.incorrect_answer_points) == (None, None)
    first, second = scenario.turns.order_by("order")
    assert (first.order, first.reward, first.hint) == (0, 15, "Ask for a coffee.")
    assert answers_of(first) == [
        "Je voudrais un café, s'il vous plaît",
        "Un café, s'il vous plaît",
    ]
    assert (second.order, second.reward, second.hint) == (1, None, "")
    assert answers_of(second) == ["Sur place, s'il vous plaît", "À emporter, s'il vous plaît"]
    assert snapshot()["cafe-test"] == spec_to_mapping(
        scenario_spec_from_instance(scenario=scenario)
    )


def test_import_twice_is_idempotent(write: Callable[..., Path]):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    before_counts, before_ids, before = counts(), ids(), snapshot()

    outcome = run("import_scenarios", path)

    assert outcome.error is None, outcome.stderr
    assert counts() == before_counts == (1, 2, 4)
    assert ids() == before_ids
    assert snapshot() == before


def test_updating_a_file_changes_the_scenario_in_place(write: Callable[..., Path]):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    scenario_id = Scenario.objects.get().id
    turn_ids = list(Turn.objects.order_by("order").values_list("id", flat=True))
    untouched_answer_ids = list(
        AcceptedAnswer.objects.filter(turn_id=turn_ids[0]).values_list("id", flat=True)
    )

    data = scenario_data(title="Coffee, revised", lives=5)
    data["turns"][1]["answers"] = ["Sur place", "À emporter", "Pour emporter"]
    data["turns"][1]["prompt"] = "Vous restez ici ?"
    write("cafe.yaml", data)
    outcome = run("import_scenarios", path)

    assert outcome.error is None, outcome.stderr
    scenario = Scenario.objects.get()
    assert (scenario.id, scenario.title, scenario.lives) == (scenario_id, "Coffee, revised", 5)
    turns = list(scenario.turns.order_by("order"))
    assert [turn.id for turn in turns] == turn_ids
    assert turns[1].prompt == "Vous restez ici ?"
    assert answers_of(turns[1]) == ["Sur place", "À emporter", "Pour emporter"]
    assert list(turns[0].answers.values_list("id", flat=True)) == untouched_answer_ids
    assert counts() == (1, 2, 5)


def test_clearing_an_override_in_the_file_clears_it_in_the_database(
    write: Callable[..., Path],
):
    path = write("cafe.yaml", scenario_data(answer_similarity=60.0))
    assert run("import_scenarios", path).error is None

    data = scenario_data()
    del data["lives"]
    del data["turns"][0]["reward"]
    write("cafe.yaml", data)
    assert run("import_scenarios", path).error is None

    scenario = Scenario.objects.get()
    assert (scenario.lives, scenario.answer_similarity) == (None, None)
    assert scenario.turns.get(order=0).reward is None


def test_adding_and_removing_turns_without_attempts(write: Callable[..., Path]):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    first_id = Turn.objects.get(order=0).id

    data = scenario_data()
    data["turns"].append({"prompt": "Et avec ceci ?", "answers": ["C'est tout"]})
    write("cafe.yaml", data)
    assert run("import_scenarios", path).error is None
    assert list(Turn.objects.order_by("order").values_list("order", flat=True)) == [0, 1, 2]

    data["turns"] = data["turns"][:1]
    write("cafe.yaml", data)
    outcome = run("import_scenarios", path)

    assert outcome.error is None, outcome.stderr
    assert list(Turn.objects.values_list("id", flat=True)) == [first_id]
    assert counts() == (1, 1, 2)


def test_a_file_with_any_error_imports_nothing(write: Callable[..., Path]):
    data = scenario_data()
    data["turns"][0]["answers"] = []
    path = write("bad.yaml", data)

    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert "1 of 1" in str(outcome.error)
    assert f"{path}: turns[0].answers: must list at least one accepted answer" in outcome.stderr
    assert "bad.yaml: turns[0].answers" in outcome.stderr
    assert counts() == (0, 0, 0)


def test_a_bad_file_leaves_the_stored_scenario_untouched(write: Callable[..., Path]):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    before, before_ids = snapshot(), ids()

    data = scenario_data(title="Changed title", lives=0)
    data["turns"][0]["answers"] = ["Changed answer"]
    write("cafe.yaml", data)
    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert "cafe.yaml: lives: must be at least 1" in outcome.stderr
    assert snapshot() == before
    assert ids() == before_ids


def test_every_error_of_a_file_is_reported_with_file_and_field(write: Callable[..., Path]):
    data = scenario_data(language="xx", lives=0, titel="typo")
    data["turns"][1]["answers"][0] = ""
    path = write("many.yaml", data)

    outcome = run("import_scenarios", path)

    lines = outcome.stderr.splitlines()
    for field in ["language", "lives", "titel", "turns[1].answers[0]"]:
        assert any(line.startswith(f"{path}: {field}: ") for line in lines), (field, lines)
    assert len(lines) == 4
    assert counts() == (0, 0, 0)


def test_invalid_yaml_is_reported_with_its_line(write: Callable[..., Path]):
    path = write("broken.yaml", text="slug: broken\ntitle: Broken\nlanguage: fr: de\nturns: []\n")

    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert f"{path}: (file): is not valid YAML at line 3" in outcome.stderr
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- slug: a\n- slug: b\n", "must be a mapping"),
        ("", "must be a mapping"),
    ],
    ids=["list", "empty"],
)
def test_a_file_that_is_not_a_mapping_is_reported(
    write: Callable[..., Path], text: str, message: str
):
    path = write("odd.yaml", text=text)

    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert f"{path}: (file): {message}" in outcome.stderr


def test_a_missing_file_is_reported(tmp_path: Path):
    path = tmp_path / "nowhere.yaml"

    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert f"{path}: (file): cannot be read" in outcome.stderr


def test_no_files_is_a_usage_error():
    outcome = run("import_scenarios")

    assert outcome.error is not None
    assert "--demo" in str(outcome.error)


def test_good_file_imports_while_bad_file_fails_the_command(write: Callable[..., Path]):
    good = write("good.yaml", scenario_data(slug="good-one"))
    bad_data = scenario_data(slug="bad-one")
    bad_data["turns"][1]["answers"] = [""]
    bad = write("bad.yaml", bad_data)

    outcome = run("import_scenarios", bad, good)

    assert outcome.error is not None
    assert "1 of 2" in str(outcome.error)
    assert "imported good-one" in outcome.stdout
    assert f"{bad}: turns[1].answers[0]" in outcome.stderr
    assert "good.yaml" not in outcome.stderr
    assert list(Scenario.objects.values_list("slug", flat=True)) == ["good-one"]


def test_duplicate_slug_across_two_files(write: Callable[..., Path]):
    first = write("a.yaml", scenario_data(title="From a"))
    second = write("b.yaml", scenario_data(title="From b"))

    outcome = run("import_scenarios", first, second)

    assert outcome.error is not None
    assert f"{second}: slug: is also used by a.yaml" in outcome.stderr
    assert str(first) not in outcome.stderr
    assert list(Scenario.objects.values_list("title", flat=True)) == ["From a"]


def test_a_directory_imports_its_yaml_files(tmp_path: Path, write: Callable[..., Path]):
    write("one.yaml", scenario_data(slug="one"))
    write("two.yml", scenario_data(slug="two"))
    write("notes.txt", text="not a scenario")

    outcome = run("import_scenarios", tmp_path)

    assert outcome.error is None, outcome.stderr
    assert sorted(Scenario.objects.values_list("slug", flat=True)) == ["one", "two"]


def test_demo_imports_the_bundled_scenarios():
    outcome = run("import_scenarios", demo=True)

    assert outcome.error is None, outcome.stderr
    scenarios = list(Scenario.objects.prefetch_related("turns__answers"))
    assert len(scenarios) >= 4
    assert len({scenario.language for scenario in scenarios} & {"fr", "es", "de"}) >= 3
    for scenario in scenarios:
        turns = list(scenario.turns.all())
        assert turns, scenario.slug
        assert all(turn.answers.all() for turn in turns), scenario.slug

    before = ids()
    assert run("import_scenarios", demo=True).error is None
    assert ids() == before


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda data: data.__setitem__("title", "t" * 201), "title"),
        (lambda data: data["turns"][0]["answers"].append("a" * 301), "turns[0].answers[2]"),
    ],
    ids=["title", "answer"],
)
def test_too_long_text_is_reported_with_file_and_field(
    write: Callable[..., Path], mutate: Callable[[dict[str, Any]], None], field: str
):
    data = scenario_data()
    mutate(data)
    path = write("long.yaml", data)

    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert f"{path}: {field}: " in outcome.stderr
    assert counts() == (0, 0, 0)


# --- exporting ---


def test_export_then_import_into_a_clean_database_round_trips(
    tmp_path: Path, make_scenario: Callable[..., Scenario]
):
    assert run("import_scenarios", demo=True).error is None
    make_scenario(
        slug="all-overrides",
        description="Every field set.",
        difficulty="hard",
        lives=2,
        reward=7,
        answer_similarity=77.5,
        wrong_language_probability=0.55,
        typed_answers=False,
        streaming_enabled=False,
        penalties={"wrong_language": {"lives": 0, "points": 4}, "incorrect_answer": {"lives": 2}},
        audio_judging={"correct_floor": 0.95, "wrong_language_floor": 0.97},
    )
    before = snapshot()
    assert before["all-overrides"]["audio_judging"] == {
        "correct_floor": 0.95,
        "wrong_language_floor": 0.97,
    }
    out = tmp_path / "export"

    outcome = run("export_scenarios", output=out)

    assert outcome.error is None, outcome.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(f"{slug}.yaml" for slug in before)
    Scenario.objects.all().delete()
    assert counts() == (0, 0, 0)
    assert run("import_scenarios", out).error is None
    assert snapshot() == before


def test_export_one_scenario_to_stdout_is_an_importable_file(
    tmp_path: Path, write: Callable[..., Path], make_scenario: Callable[..., Scenario]
):
    make_scenario(slug="first")
    make_scenario(slug="second", title="Second")
    before = snapshot()

    outcome = run("export_scenarios", "second")

    assert yaml.safe_load(outcome.stdout) == before["second"]
    path = write("second.yaml", text=outcome.stdout)
    Scenario.objects.filter(slug="second").delete()
    assert run("import_scenarios", path).error is None
    assert snapshot() == before


def test_export_all_to_stdout_is_one_document_per_scenario(
    make_scenario: Callable[..., Scenario],
):
    make_scenario(slug="first")
    make_scenario(slug="second")

    outcome = run("export_scenarios")

    documents = list(yaml.safe_load_all(outcome.stdout))
    assert [document["slug"] for document in documents] == ["first", "second"]


def test_export_of_an_unknown_slug_fails(make_scenario: Callable[..., Scenario]):
    make_scenario(slug="alpha")

    outcome = run("export_scenarios", "alpha", "missing-one")

    assert outcome.error is not None
    assert "missing-one" in str(outcome.error)
    assert "alpha" not in str(outcome.error)
    assert outcome.stdout == ""


# --- turns with recorded attempts ---


def test_removing_a_turn_that_has_attempts_is_refused(write: Callable[..., Path], learner: Any):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    scenario = Scenario.objects.get()
    session = session_start(learner=learner, scenario=scenario)
    first = attempt_record(
        session=session, answer=answer_from_text(text="Un café, s'il vous plaît")
    )
    assert first.attempt.turn.order == 0
    assert first.next_turn is not None
    assert first.next_turn.order == 1
    attempt_record(session=session, answer=answer_from_text(text="Sur place, s'il vous plaît"))
    assert Attempt.objects.filter(turn__order=1).exists()
    before, before_ids = snapshot(), ids()

    data = scenario_data(title="Shorter")
    data["turns"] = data["turns"][:1]
    write("cafe.yaml", data)
    outcome = run("import_scenarios", path)

    assert outcome.error is not None
    assert f"{path}: turns[1]: has recorded attempts and cannot be removed" in outcome.stderr
    assert snapshot() == before
    assert ids() == before_ids


def test_editing_a_turn_that_has_attempts_keeps_them(write: Callable[..., Path], learner: Any):
    path = write("cafe.yaml", scenario_data())
    assert run("import_scenarios", path).error is None
    session = session_start(learner=learner, scenario=Scenario.objects.get())
    result = attempt_record(
        session=session, answer=answer_from_text(text="Un café, s'il vous plaît")
    )

    data = scenario_data()
    data["turns"][0]["answers"] = ["Un thé, s'il vous plaît"]
    write("cafe.yaml", data)
    outcome = run("import_scenarios", path)

    assert outcome.error is None, outcome.stderr
    attempt = Attempt.objects.get(pk=result.attempt.pk)
    assert attempt.turn_id == result.attempt.turn_id
    assert answers_of(attempt.turn) == ["Un thé, s'il vous plaît"]
