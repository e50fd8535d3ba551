"""Disputes end to end: the learner flags, the designer accepts or dismisses, scores stay."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from interaction.models import Attempt, ScoreEvent
from interaction.services import answer_from_text, attempt_record, session_start
from scenarios.models import AcceptedAnswer
from telemetry.models import Dispute

pytestmark = pytest.mark.django_db

NEAR_MISS = "Un petit café, s'il vous plaît"


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def missed(learner, scenario):
    session = session_start(learner=learner, scenario=scenario)
    return attempt_record(session=session, answer=answer_from_text(text=NEAR_MISS)).attempt


@pytest.fixture
def designer():
    return get_user_model().objects.create_superuser("designer", password="pw-Parley-123")


def test_a_learner_disputes_their_own_attempt(learner_client, missed) -> None:
    assert missed.outcome == "incorrect_answer"
    response = learner_client.post(
        f"/api/attempts/{missed.pk}/disputes/", {"comment": "petit is fine"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "open"
    again = learner_client.post(f"/api/attempts/{missed.pk}/disputes/", {}, format="json")
    assert again.status_code == 409
    assert Dispute.objects.get().comment == "petit is fine"


def test_only_own_and_disputable_attempts(make_learner, missed, scenario) -> None:
    other = token_client(make_learner("mallory"))
    assert other.post(f"/api/attempts/{missed.pk}/disputes/", {}, format="json").status_code == 404
    assert other.post("/api/attempts/999999/disputes/", {}, format="json").status_code == 404
    own = session_start(learner=missed.session.learner, scenario=scenario)
    right = attempt_record(
        session=own, answer=answer_from_text(text="Un café, s'il vous plaît")
    ).attempt
    client = token_client(missed.session.learner)
    refused = client.post(f"/api/attempts/{right.pk}/disputes/", {}, format="json")
    assert refused.status_code == 409
    assert APIClient().post(f"/api/attempts/{missed.pk}/disputes/", {}).status_code == 401
    long = client.post(
        f"/api/attempts/{missed.pk}/disputes/", {"comment": "x" * 1001}, format="json"
    )
    assert long.status_code == 400
    assert not Dispute.objects.exists()


def test_review_page_form_queue_accept_and_outcome(learner, missed, designer, scenario) -> None:
    browser = Client()
    browser.force_login(learner)
    review_url = f"/sessions/{missed.session_id}/review/"
    page = browser.get(review_url).content.decode()
    assert "My answer should count" in page
    response = browser.post(
        f"/disputes/attempts/{missed.pk}/", {"comment": "I said it right", "next": review_url}
    )
    assert response.status_code == 302
    assert response["Location"] == review_url
    assert "Your dispute: <strong>Open</strong>" in browser.get(review_url).content.decode()

    ledger_before = list(ScoreEvent.objects.values_list("id", "score_delta", "lives_delta"))
    admin = Client()
    admin.force_login(designer)
    queue = admin.get("/admin/telemetry/dispute/").content.decode()
    assert NEAR_MISS in queue.replace("&#x27;", "'")
    assert "French 0." in queue  # language evidence, by name
    dispute = Dispute.objects.get()
    done = admin.post(
        "/admin/telemetry/dispute/",
        {"action": "accept_answers", "_selected_action": [dispute.pk]},
    )
    assert done.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "accepted"
    assert dispute.resolved_by == designer
    turn = missed.turn
    assert NEAR_MISS in AcceptedAnswer.objects.filter(turn=turn).values_list("text", flat=True)
    # History stays: the attempt and the ledger are as they were.
    missed.refresh_from_db()
    assert (missed.outcome, missed.lives_delta) == ("incorrect_answer", -1)
    assert list(ScoreEvent.objects.values_list("id", "score_delta", "lives_delta")) == ledger_before
    assert "Accepted: the answer now counts" in browser.get(review_url).content.decode()
    # The next learner who says it scores.
    later = session_start(learner=learner, scenario=scenario)
    assert (
        attempt_record(session=later, answer=answer_from_text(text=NEAR_MISS)).attempt.outcome
        == "correct"
    )


def test_dismiss_in_one_action(learner, missed, designer) -> None:
    dispute = Dispute.objects.create(attempt=missed, learner=learner)
    answers = list(AcceptedAnswer.objects.values_list("text", flat=True))
    admin = Client()
    admin.force_login(designer)
    admin.post(
        "/admin/telemetry/dispute/",
        {"action": "dismiss_disputes", "_selected_action": [dispute.pk]},
    )
    dispute.refresh_from_db()
    assert dispute.status == "dismissed"
    assert list(AcceptedAnswer.objects.values_list("text", flat=True)) == answers
    browser = Client()
    browser.force_login(learner)
    html = browser.get(f"/sessions/{missed.session_id}/review/").content.decode()
    assert "Your dispute: <strong>Dismissed</strong>" in html


def test_dispute_rate_counts_in_the_figures(missed, learner) -> None:
    from telemetry.analytics import analytics_turns_list

    Dispute.objects.create(attempt=missed, learner=learner)
    first, _ = analytics_turns_list()
    assert (first.disputed, first.dispute_rate) == (1, 1.0)
    assert Attempt.objects.count() == 1
