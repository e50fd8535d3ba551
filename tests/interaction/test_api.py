"""The time-stop API over HTTP, on the real Postgres: flows, the ledger, every error path."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from interaction.models import Attempt, ScoreEvent, Session
from interaction.selectors import session_ledger_totals
from interaction.services import answer_from_text, attempt_record, session_start

RIGHT = ["Je voudrais un café, s'il vous plaît", "Sur place, s'il vous plaît"]
WRONG_FRENCH = "Je voudrais une bière bien fraîche"
ENGLISH = "I would like a coffee please, thank you very much"


def start(client: APIClient, slug: str = "cafe-test") -> dict[str, Any]:
    response = client.post("/api/sessions/", {"scenario": slug}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def answer(client: APIClient, session_id: str, text: str, expect: int = 200) -> dict[str, Any]:
    response = client.post(
        f"/api/sessions/{session_id}/attempts/", {"transcript": text}, format="json"
    )
    assert response.status_code == expect, response.content
    return response.json()


def assert_ledger_matches(session_id: str) -> None:
    session = Session.objects.get(pk=session_id)
    assert session_ledger_totals(session=session) == (session.score, session.lives_remaining)


@pytest.mark.django_db
class TestAccounts:
    def test_register_returns_a_token_that_authenticates(self, api_client: APIClient) -> None:
        response = api_client.post(
            "/api/auth/register/", {"username": "ana", "password": "s3cret-Parley"}, format="json"
        )
        assert response.status_code == 201
        token = response.json()["token"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api_client.get("/api/sessions/").status_code == 200

    def test_token_endpoint(self, api_client: APIClient, learner: Any) -> None:
        response = api_client.post(
            "/api/auth/token/", {"username": "learner", "password": "pw-Parley-123"}, format="json"
        )
        assert response.status_code == 200
        assert len(response.json()["token"]) == 40
        response = api_client.post(
            "/api/auth/token/", {"username": "learner", "password": "nope"}, format="json"
        )
        assert response.status_code == 400

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"username": "learner", "password": "s3cret-Parley"}, "username"),
            ({"username": "bo", "password": "s3cret-Parley"}, "username"),
            ({"username": "newbie", "password": "123"}, "password"),
            ({"username": "newbie"}, "password"),
        ],
    )
    def test_register_errors(self, api_client: APIClient, learner: Any, payload, field) -> None:
        response = api_client.post("/api/auth/register/", payload, format="json")
        assert response.status_code == 400
        body = response.json()
        assert field in body["errors"]
        assert body["detail"].startswith(field)


@pytest.mark.django_db
class TestPlaying:
    def test_completion(self, learner_client: APIClient, scenario) -> None:
        session = start(learner_client)
        assert session["status"] == "active"
        assert session["turn"] == {
            "index": 0,
            "count": 2,
            "prompt": scenario.turns.get(order=0).prompt,
            "language": "fr",
        }
        assert (session["score"], session["lives_remaining"], session["lives_total"]) == (0, 3, 3)

        first = answer(learner_client, session["id"], RIGHT[0])
        assert first["outcome"] == "correct"
        assert (first["scoreDelta"], first["livesDelta"], first["score"]) == (15, 0, 15)
        assert first["penalty"] is None
        assert first["turn"]["index"] == 1
        assert first["language"] == "fr"

        last = answer(learner_client, session["id"], RIGHT[1])
        assert (last["outcome"], last["status"], last["turn"]) == ("correct", "completed", None)
        assert (last["scoreDelta"], last["score"], last["lives_remaining"]) == (10, 25, 3)

        detail = learner_client.get(f"/api/sessions/{session['id']}/").json()
        assert [a["outcome"] for a in detail["attempts"]] == ["correct", "correct"]
        assert [row["reason"] for row in detail["ledger"]] == [
            "session_start",
            "correct",
            "correct",
        ]
        assert [row["score_after"] for row in detail["ledger"]] == [0, 15, 25]
        assert_ledger_matches(session["id"])

    def test_failure(self, learner_client: APIClient, make_scenario) -> None:
        make_scenario(
            slug="hard-test",
            difficulty="hard",
            lives=3,
            penalties={"incorrect_answer": {"lives": 1, "points": 5}},
        )
        session = start(learner_client, "hard-test")
        answer(learner_client, session["id"], RIGHT[0])  # +15

        wrong_language = answer(learner_client, session["id"], ENGLISH)
        assert wrong_language["outcome"] == "wrong_language"
        assert wrong_language["penalty"]["type"] == "wrong_language"
        assert wrong_language["penalty"]["detected_language"] == "en"
        assert (wrong_language["livesDelta"], wrong_language["lives_remaining"]) == (-2, 1)
        assert wrong_language["turn"]["index"] == 1  # the turn stays

        incorrect = answer(learner_client, session["id"], WRONG_FRENCH)
        assert incorrect["outcome"] == "incorrect_answer"
        assert incorrect["penalty"]["type"] == "incorrect_answer"
        assert (incorrect["scoreDelta"], incorrect["livesDelta"]) == (-5, -1)
        assert (incorrect["score"], incorrect["lives_remaining"]) == (10, 0)
        assert (incorrect["status"], incorrect["turn"]) == ("failed", None)
        assert_ledger_matches(session["id"])
        assert ScoreEvent.objects.filter(session_id=session["id"]).count() == 4

    def test_an_incorrect_answer_carries_the_turns_hint(self, learner_client, scenario) -> None:
        session = start(learner_client)
        result = answer(learner_client, session["id"], WRONG_FRENCH)
        assert result["penalty"]["hint"] == "Ask for a coffee."
        assert result["similarity"] < 90

    def test_learner_sees_only_their_own_sessions(
        self, learner_client: APIClient, make_learner, scenario
    ) -> None:
        own = start(learner_client)
        other = APIClient()
        other.force_authenticate(make_learner("someone-else"))
        theirs = start(other)
        listed = [s["id"] for s in learner_client.get("/api/sessions/").json()]
        assert listed == [own["id"]]
        assert learner_client.get(f"/api/sessions/{theirs['id']}/").status_code == 404
        answer(learner_client, theirs["id"], RIGHT[0], expect=404)
        assert Attempt.objects.count() == 0


@pytest.mark.django_db
class TestErrors:
    def test_401_without_credentials(self, api_client: APIClient, scenario) -> None:
        response = api_client.post("/api/sessions/", {"scenario": "cafe-test"}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert api_client.get("/api/sessions/").status_code == 401

    def test_400_unknown_or_missing_scenario(self, learner_client: APIClient, scenario) -> None:
        response = learner_client.post("/api/sessions/", {"scenario": "nope"}, format="json")
        assert response.status_code == 400
        assert response.json()["detail"] == "scenario: No scenario 'nope'."
        assert learner_client.post("/api/sessions/", {}, format="json").status_code == 400
        response = learner_client.post(
            "/api/sessions/", {"scenario": "cafe-test", "mode": "telepathy"}, format="json"
        )
        assert response.status_code == 400
        assert Session.objects.count() == 0

    @pytest.mark.parametrize("payload", [{}, {"transcript": ""}, {"transcript": "x" * 501}])
    def test_400_bad_attempt_loses_nothing(self, learner_client, scenario, payload) -> None:
        session = start(learner_client)
        response = learner_client.post(
            f"/api/sessions/{session['id']}/attempts/", payload, format="json"
        )
        assert response.status_code == 400
        assert response.json()["detail"].startswith("transcript")
        assert Attempt.objects.count() == 0
        assert Session.objects.get(pk=session["id"]).lives_remaining == 3

    def test_400_malformed_json(self, learner_client: APIClient, scenario) -> None:
        session = start(learner_client)
        response = learner_client.post(
            f"/api/sessions/{session['id']}/attempts/", "{not json", content_type="application/json"
        )
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]

    def test_403_typed_answer_in_spoken_only_scenario(self, learner_client, make_scenario) -> None:
        make_scenario(slug="spoken-only", typed_answers=False)
        session = start(learner_client, "spoken-only")
        response = learner_client.post(
            f"/api/sessions/{session['id']}/attempts/", {"transcript": RIGHT[0]}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["code"] == "typed_answers_disabled"
        assert Attempt.objects.count() == 0

    def test_404_unknown_session(self, learner_client: APIClient) -> None:
        response = learner_client.get("/api/sessions/00000000-0000-0000-0000-000000000000/")
        assert response.status_code == 404
        assert response.json()["detail"] == "No such session."

    def test_409_after_the_session_ended(self, learner_client: APIClient, scenario) -> None:
        session = start(learner_client)
        answer(learner_client, session["id"], RIGHT[0])
        answer(learner_client, session["id"], RIGHT[1])
        response = learner_client.post(
            f"/api/sessions/{session['id']}/attempts/", {"transcript": RIGHT[1]}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == {
            "detail": "The session is completed; it takes no more answers.",
            "code": "session_ended",
        }
        assert Attempt.objects.count() == 2


@pytest.mark.django_db
def test_scenarios_are_listed_without_their_answers(api_client: APIClient, scenario) -> None:
    listed = api_client.get("/api/scenarios/").json()
    assert [item["slug"] for item in listed] == ["cafe-test"]
    assert listed[0]["rules"]["penalties"]["wrong_language"] == {"lives": 1, "points": 0}
    detail = api_client.get("/api/scenarios/cafe-test/")
    assert detail.status_code == 200
    assert [turn["index"] for turn in detail.json()["turns"]] == [0, 1]
    assert "café, s'il" not in detail.content.decode()
    assert api_client.get("/api/scenarios/nope/").status_code == 404


@pytest.mark.django_db
def test_openapi_schema_describes_the_contract(api_client: APIClient) -> None:
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/sessions/{session_id}/attempts/" in schema["paths"]
    attempt = schema["components"]["schemas"]["AttemptOutput"]["properties"]
    for name in (
        "outcome",
        "scoreDelta",
        "livesDelta",
        "score",
        "lives_remaining",
        "lives_total",
        "penalty",
        "turn",
        "status",
    ):
        assert name in attempt


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_attempts_neither_lose_nor_double(learner, scenario) -> None:
    session = session_start(learner=learner, scenario=scenario)
    wrong = answer_from_text(text=WRONG_FRENCH)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            barrier.wait(timeout=5)
            attempt_record(session=session, answer=wrong)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    session.refresh_from_db()
    assert session.lives_remaining == 1
    rows = list(ScoreEvent.objects.filter(session=session).order_by("id"))
    assert [row.lives_after for row in rows] == [3, 2, 1]
    assert session_ledger_totals(session=session) == (session.score, session.lives_remaining)


@pytest.mark.django_db
def test_responses_match_the_openapi_schema(learner_client: APIClient, scenario) -> None:
    schema = learner_client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()["components"]["schemas"]
    session = start(learner_client)
    assert set(session) == set(schema["SessionOutput"]["properties"])
    result = answer(learner_client, session["id"], WRONG_FRENCH)
    assert set(result) == set(schema["AttemptOutput"]["properties"])
    penalty_schema = schema["AttemptOutput"]["properties"]["penalty"]
    penalty_ref = next(
        item["$ref"]
        for item in [
            penalty_schema,
            *penalty_schema.get("allOf", []),
            *penalty_schema.get("oneOf", []),
        ]
        if "$ref" in item
    ).rsplit("/", 1)[-1]
    assert set(result["penalty"]) <= set(schema[penalty_ref]["properties"])
    detail = learner_client.get(f"/api/sessions/{session['id']}/").json()
    assert set(detail) == set(schema["SessionDetailOutput"]["properties"])


@pytest.mark.django_db
def test_listing_sessions_costs_the_same_queries_for_one_or_many(
    learner_client: APIClient, scenario, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        start(learner_client)
    with django_assert_max_num_queries(4):  # auth token, sessions, their turns (+ savepoint)
        listed = learner_client.get("/api/sessions/").json()
    assert [item["turn"]["index"] for item in listed] == [0] * 5


@pytest.mark.django_db
def test_a_spoken_answer_without_evidence_is_judged_on_its_transcript(learner, scenario) -> None:
    """A provider that gives only a transcript: it may score, never be judged incorrect."""
    from interaction.services import Answer
    from interaction.vocabulary import Source

    session = session_start(learner=learner, scenario=scenario)
    right = Answer(source=Source.AUDIO, transcript="Un café, s'il vous plaît")
    assert attempt_record(session=session, answer=right).verdict.outcome == "correct"
    wrong = Answer(source=Source.AUDIO, transcript="Une bière", language_probabilities={"fr": 1})
    result = attempt_record(session=session, answer=wrong)
    assert (result.verdict.outcome, result.change.lives_delta) == ("unclear", 0)
