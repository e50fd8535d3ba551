"""The analysts' report, its API and CSV exports, against the hand-computed data set."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from rest_framework.test import APIClient

from telemetry.access import learner_pseudonym
from tests.telemetry.test_analytics import SCENARIO, TURN_ONE, TURN_TWO

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[dict[str, str]]:
    body = response.getvalue() if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_the_overview_shows_percentages_with_counts_and_links(played, analyst_client) -> None:
    page = analyst_client.get("/analytics/?mode=time_stop")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Order a coffee (test)" in html
    assert 'href="/analytics/scenarios/cafe-test/?mode=time_stop"' in html
    # 4 time-stop sessions: ana and bo completed, cy failed.
    assert '50%<span class="n">2 of 4</span>' in html
    assert '25%<span class="n">1 of 4</span>' in html
    assert "0.5" not in html.split("<main", 1)[1]  # no raw fraction on the page


def test_a_scenario_page_shows_figures_charts_turns_and_links(played, analyst_client) -> None:
    page = analyst_client.get("/analytics/scenarios/cafe-test/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Order a coffee (test)" in html
    assert "Sur place ou à emporter ?" in html
    assert "not enough data" in html  # turn 2: 3 sessions < 5
    assert html.count('<svg class="chart difficulty-chart"') == 1
    assert html.count('<svg class="chart funnel-chart"') == 1
    assert "Turn 2: not enough data (3 sessions)" in html
    assert "Turn 1: difficulty 20% (5 sessions)" in html
    assert "Turn 2: 2 of 5 sessions passed" in html
    assert "38%" in html  # the scenario's difficulty, 0.375
    assert '67%<span class="n">2 of 3</span>' in html  # turn 2 passed by 2 of 3 sessions
    assert "/analytics/scenarios/cafe-test/sessions/" in html
    assert "/admin/" not in html.split("<main", 1)[1]  # analysts edit nothing: no admin links
    assert "Try an answer" not in html


def test_a_scenario_page_links_designers_to_the_admin_and_the_playground(
    played, admin_client
) -> None:
    html = admin_client.get("/analytics/scenarios/cafe-test/").content.decode()
    scenario_id = played.scenario.pk
    assert f"/admin/scenarios/scenario/{scenario_id}/change/#turns-1" in html
    turn_two = played.scenario.turns.get(order=1)
    assert f'href="/designer/turns/{turn_two.pk}/try/">Try an answer</a>' in html


def test_an_unknown_scenario_page_is_404(played, analyst_client) -> None:
    assert analyst_client.get("/analytics/scenarios/no-such-thing/").status_code == 404
    # The filters that choose scenarios do not apply on one scenario's page.
    page = analyst_client.get("/analytics/scenarios/cafe-test/?language=es&mode=streaming")
    assert page.status_code == 200
    assert 'name="language"' not in page.content.decode()
    assert "<dt>Sessions</dt><dd>1</dd>" in page.content.decode()


def test_report_query_count_is_bounded(played, analyst_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):  # session, user, groups, 2 figures, flags' turns
        assert analyst_client.get("/analytics/?mode=time_stop").status_code == 200
    with django_assert_max_num_queries(9):  # the same and the answers, the messages' session
        page = analyst_client.get("/analytics/scenarios/cafe-test/?mode=time_stop")
        assert page.status_code == 200


def test_report_filters_and_bad_filters(played, analyst_client: Client) -> None:
    html = analyst_client.get("/analytics/?language=es").content.decode()
    assert "No scenario matches these filters." in html
    html = analyst_client.get("/analytics/?date_from=yesterday").content.decode()
    assert "date_from" in html
    assert "errors" in html


def test_flagged_turns_on_the_page(played, analyst_client: Client, settings) -> None:
    settings.ANALYTICS_MIN_SESSIONS = 3
    html = analyst_client.get("/analytics/").content.decode()
    assert "failure rate 33% vs 12% per turn in the scenario" in html
    assert 'href="/analytics/scenarios/cafe-test/">Its scenario' in html
    html = analyst_client.get("/analytics/scenarios/cafe-test/").content.decode()
    assert "failure rate 33% vs 12% per turn in the scenario" in html
    assert "Override this turn" in html
    assert "Incorrect answer costs" in html
    assert "1 life, 0 points" in html


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/api/analytics/turns/", [TURN_ONE, TURN_TWO]), ("/api/analytics/scenarios/", [SCENARIO])],
)
def test_api_figures(played, analyst, path, expected) -> None:
    client = APIClient()
    client.force_authenticate(analyst)
    body = client.get(path).json()
    assert [
        {k: row[k] for k in want if k in row} for row, want in zip(body, expected, strict=True)
    ] == [{k: v for k, v in want.items() if k != "failure_per_turn_rate"} for want in expected]


def test_api_filters_and_their_errors(played, analyst) -> None:
    client = APIClient()
    client.force_authenticate(analyst)
    (streaming,) = client.get("/api/analytics/scenarios/?mode=streaming").json()
    assert streaming["sessions"] == 1
    bad = client.get("/api/analytics/turns/?mode=walking&date_from=2026-02-01&date_to=2026-01-01")
    assert bad.status_code == 400
    assert "mode" in bad.json() or "mode" in str(bad.json())


def test_csv_exports(played, analyst_client: Client) -> None:
    turns = rows_of(analyst_client.get("/api/analytics/turns/?format=csv"))
    assert [(r["turn_number"], r["sessions"], r["difficulty"]) for r in turns] == [
        ("1", "5", "0.2"),
        ("2", "3", ""),
    ]
    assert turns[1]["attempts"] == "5"
    assert turns[1]["enough_data"] == "False"
    (scenario,) = rows_of(analyst_client.get("/api/analytics/scenarios/?format=csv"))
    assert (scenario["sessions"], scenario["difficulty"]) == ("5", "0.375")
    response = analyst_client.get("/api/analytics/flagged-turns/?format=csv")
    assert response["Content-Type"].startswith("text/csv")

    attempts = rows_of(analyst_client.get("/analytics/attempts.csv?scenario=cafe-test"))
    assert len(attempts) == 13
    cy = played.sessions["cy"].learner
    theirs = [row for row in attempts if row["learner"] == learner_pseudonym(cy.pk)]
    assert [row["outcome"] for row in theirs] == [
        "incorrect_answer",
        "correct",
        "wrong_language",
        "incorrect_answer",
    ]
    assert [row["turn"] for row in theirs] == ["1", "1", "2", "2"]
    learners = {row["learner"] for row in attempts}
    assert len(learners) == 5
    assert all(value.startswith("L-") and len(value) == 18 for value in learners)
    assert str(cy.pk) not in learners
    assert "cy" not in learners
    streamed = rows_of(analyst_client.get("/analytics/attempts.csv?mode=streaming"))
    assert [(row["mode"], row["auto_finalised"]) for row in streamed] == [("streaming", "True")]


def test_pseudonyms_are_stable_and_keyed(settings) -> None:
    first = learner_pseudonym(7)
    assert learner_pseudonym(7) == first != learner_pseudonym(8)
    settings.ANALYTICS_PSEUDONYM_KEY = "another deployment"
    assert learner_pseudonym(7) != first


def test_the_default_pseudonym_key_follows_the_deployments_secret_key(settings) -> None:
    # Production settings set SECRET_KEY after the base settings: the key is derived when used.
    settings.ANALYTICS_PSEUDONYM_KEY = ""
    first = learner_pseudonym(7)
    settings.SECRET_KEY = "another deployment's secret"
    assert learner_pseudonym(7) != first


def test_sessions_list_and_review(played, analyst_client: Client) -> None:
    listing = analyst_client.get("/analytics/scenarios/cafe-test/sessions/").content.decode()
    cy = played.sessions["cy"]
    assert learner_pseudonym(cy.learner_id) in listing
    assert "cy" not in listing.split("<main", 1)[1].replace("cy-", "")  # no usernames
    review = analyst_client.get(f"/analytics/sessions/{cy.pk}/")
    assert review.status_code == 200
    html = review.content.decode()
    assert "I would like to take it away please" in html
    assert "Wrong language" in html  # the ledger's reason
    api = APIClient()
    api.force_authenticate(played.sessions["ana"].learner)
    assert api.get(f"/api/analytics/sessions/{cy.pk}/").status_code == 403


def test_session_review_api(played, analyst) -> None:
    client = APIClient()
    client.force_authenticate(analyst)
    cy = played.sessions["cy"]
    body = client.get(f"/api/analytics/sessions/{cy.pk}/").json()
    assert body["learner"] == learner_pseudonym(cy.learner_id)
    assert [a["outcome"] for a in body["attempts"]] == [
        "incorrect_answer",
        "correct",
        "wrong_language",
        "incorrect_answer",
    ]
    assert body["attempts"][2]["language_probabilities"]["en"] > 0.5
    assert [e["reason"] for e in body["ledger"]] == [
        "session_start",
        "incorrect_answer",
        "correct",
        "wrong_language",
        "incorrect_answer",
    ]
    assert body["ledger"][-1]["lives_after"] == 0
    rows = rows_of(client.get(f"/api/analytics/sessions/{cy.pk}/?format=csv"))
    assert [(r["turn"], r["outcome"]) for r in rows] == [
        ("1", "incorrect_answer"),
        ("1", "correct"),
        ("2", "wrong_language"),
        ("2", "incorrect_answer"),
    ]
    assert {r["learner"] for r in rows} == {learner_pseudonym(cy.learner_id)}


def test_the_schema_lists_the_analytics_endpoints(analyst) -> None:
    client = APIClient()
    client.force_authenticate(analyst)
    schema = client.get("/api/schema/?format=json").json()
    for path in [
        "/api/analytics/scenarios/",
        "/api/analytics/turns/",
        "/api/analytics/flagged-turns/",
        "/api/analytics/sessions/{session_id}/",
        "/api/attempts/{attempt_id}/disputes/",
    ]:
        assert path in schema["paths"], path
    assert "date_from" in str(schema["paths"]["/api/analytics/turns/"])
