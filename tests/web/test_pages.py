"""The learner's pages rendered by Django (no browser): auth, list, play shell, review."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings

from interaction.services import answer_from_text, attempt_record, session_start
from interaction.vocabulary import SessionStatus, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(learner) -> Client:
    client = Client()
    client.force_login(learner)
    return client


def test_sign_up_creates_the_account_and_logs_in() -> None:
    client = Client()
    response = client.post(
        "/signup/",
        {"username": "zoe", "password1": "a-long-Passphrase-9", "password2": "a-long-Passphrase-9"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert get_user_model().objects.filter(username="zoe").exists()
    assert "zoe" in client.get("/").content.decode()


def test_sign_up_shows_form_errors() -> None:
    response = Client().post("/signup/", {"username": "zoe", "password1": "x", "password2": "y"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not get_user_model().objects.filter(username="zoe").exists()


def test_log_in_page_logs_in_and_goes_to_the_list(learner) -> None:
    client = Client()
    response = client.post("/login/", {"username": "learner", "password": "pw-Parley-123"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").context["user"] == learner


def test_logout_is_a_post(browser) -> None:
    assert browser.post("/logout/").status_code == 302
    assert not browser.get("/").context["user"].is_authenticated


def test_the_list_shows_language_difficulty_and_the_best_result(
    browser, learner, scenario, make_scenario
) -> None:
    make_scenario(slug="tapas-test", language="es", difficulty="easy")
    failed = session_start(learner=learner, scenario=scenario)
    attempt_record(session=failed, answer=answer_from_text(text="Un café, s'il vous plaît"))
    for _ in range(3):
        attempt_record(session=failed, answer=answer_from_text(text="Une pizza"))
    failed.refresh_from_db()
    assert (failed.status, failed.score) == (SessionStatus.FAILED, 15)

    page = browser.get("/").content.decode()
    assert "French" in page
    assert "Spanish" in page
    assert "Easy" in page
    assert "Your best: <strong>15 points</strong>" in page
    assert "(not completed yet)" in page
    assert "Not played yet." in page  # the Spanish one


def test_play_needs_a_login(scenario) -> None:
    response = Client().get("/play/cafe-test/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/play/cafe-test/"  # settings.LOGIN_URL


def test_the_play_page_carries_its_config(browser, scenario) -> None:
    response = browser.get("/play/cafe-test/")
    assert response.status_code == 200
    config = json.loads(_json_script(response, "play-config"))
    assert config["scenario"]["languageName"] == "French"
    assert config["scenario"]["streaming"] is True
    assert config["scenario"]["typedAnswers"] is True
    assert config["urls"]["worklet"].endswith("/parley/pcm-worklet.js")
    assert config["placeholder"] in config["urls"]["attempts"]
    assert 'name="csrf-token"' in response.content.decode()


@override_settings(STREAMING_ENABLED=False)
def test_streaming_off_globally_forces_time_stop(browser, scenario) -> None:
    response = browser.get("/play/cafe-test/")
    config = json.loads(_json_script(response, "play-config"))
    assert config["scenario"]["streaming"] is False
    assert "Live mode is turned off" in response.content.decode()


def test_streaming_off_per_scenario_and_spoken_only(browser, make_scenario) -> None:
    make_scenario(slug="spoken-only", streaming_enabled=False, typed_answers=False)
    response = browser.get("/play/spoken-only/")
    config = json.loads(_json_script(response, "play-config"))
    assert config["scenario"]["streaming"] is False
    assert 'id="typed-form"' not in response.content.decode()


def test_an_unknown_scenario_is_404(browser) -> None:
    assert browser.get("/play/nope/").status_code == 404


def test_the_review_shows_every_attempt_with_shaded_words(browser, learner, scenario) -> None:
    session = session_start(learner=learner, scenario=scenario)
    attempt_record(session=session, answer=answer_from_text(text="I would like a coffee"))
    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    result = attempt_record(
        session=session, answer=answer_from_text(text="Un café, s'il vous plaît")
    )
    result.attempt.words = [
        {"word": " Un", "start": 0.0, "end": 0.2, "probability": 0.91},
        {"word": " café", "start": 0.2, "end": 0.6, "probability": 0.4},
    ]
    result.attempt.save(update_fields=["words"])

    page = browser.get(f"/sessions/{session.pk}/review/").content.decode()
    assert page.count('class="card attempt') == 3
    assert "Answer in French" in page  # the wrong-language reason
    assert "Ask for a coffee." in page  # the incorrect answer's hint
    assert "+15 points" in page
    assert "-1 ♥" in page
    assert 'style="--p: 0.40"' in page
    assert ">café</span>" in page


def test_another_learners_review_is_404(browser, make_learner, scenario) -> None:
    other = session_start(learner=make_learner("other"), scenario=scenario)
    assert browser.get(f"/sessions/{other.pk}/review/").status_code == 404


async def test_static_files_are_served_by_the_app() -> None:
    """Daphne serves no files: the ASGI application itself serves /static/."""
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/static/parley/pcm-worklet.js",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    assert start["status"] == 200
    assert b"registerProcessor" in body


def _json_script(response, element_id: str) -> str:
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    start = html.index(">", start) + 1
    return html[start : html.index("</script>", start)]


def test_the_review_hides_a_spoken_wrong_language_answers_invented_transcript(
    browser, learner, scenario
) -> None:
    from interaction.services import Answer
    from tests.asr.whisperlive_peer import evidence_payload

    session = session_start(learner=learner, scenario=scenario)
    attempt_record(
        session=session,
        answer=Answer(
            source=Source.AUDIO,
            transcript="Je m'en fous.",
            language_probabilities={"fr": 0.01, "en": 0.99},
            confidence=0.24,
            # the fair judge's evidence: English, and no accepted answer explains the audio
            evidence=evidence_payload(
                "Je m'en fous.",
                language_probabilities={"fr": 0.01, "en": 0.99},
                answers={"Je voudrais un café, s'il vous plaît": -6.0},
            ),
        ),
    )
    page = browser.get(f"/sessions/{session.pk}/review/").content.decode()
    assert "en fous" not in page
    assert "another language" in page
