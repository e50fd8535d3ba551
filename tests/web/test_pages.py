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


def test_the_review_shows_every_attempt_and_marks_only_weak_words(
    browser, learner, scenario
) -> None:
    session = session_start(learner=learner, scenario=scenario)
    attempt_record(session=session, answer=answer_from_text(text="I would like a coffee"))
    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    result = attempt_record(
        session=session, answer=answer_from_text(text="Un café, s'il vous plaît")
    )
    result.attempt.words = [
        {"word": " Un", "start": 0.0, "end": 0.2, "probability": 0.91},
        {"word": " café,", "start": 0.2, "end": 0.6, "probability": 0.12},
        {"word": " s", "start": 0.6, "end": 0.7, "probability": 0.8},
        {"word": " 'il", "start": 0.7, "end": 0.8, "probability": 0.7},
        {"word": " vous", "start": 0.8, "end": 0.9, "probability": 0.6},
        {"word": " plaît.", "start": 0.9, "end": 1.2, "probability": 0.55},
    ]
    result.attempt.save(update_fields=["words"])

    page = browser.get(f"/sessions/{session.pk}/review/").content.decode()
    assert page.count('class="card attempt') == 3
    assert "Answer in French" in page  # the wrong-language reason
    assert "Ask for a coffee." in page  # the incorrect answer's hint
    assert "+15 points" in page
    assert "-1 ♥" in page
    # Only the word the recogniser barely heard is marked; the elision is one word.
    assert page.count('title="barely heard"') == 1
    assert '<span class="word weak" title="barely heard">café,</span>' in page
    assert '<span class="word">s&#x27;il</span>' in page
    assert "partly clear" in page  # one format: the play page's words
    assert "confidence" not in page


def test_the_review_lists_the_accepted_answers_of_the_turns_reached(
    browser, learner, scenario
) -> None:
    session = session_start(learner=learner, scenario=scenario)
    attempt_record(session=session, answer=answer_from_text(text="Un café, s'il vous plaît"))
    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    page = browser.get(f"/sessions/{session.pk}/review/").content.decode()
    assert "The answers, turn by turn" in page
    assert "Je voudrais un café, s&#x27;il vous plaît" in page  # turn 1: passed
    # Turn 2 is under way with one wrong try (reveal_after 2): its answers stay hidden.
    assert "Sur place, s&#x27;il vous plaît" not in page
    assert "Continue this game" in page

    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    page = browser.get(f"/sessions/{session.pk}/review/").content.decode()
    assert "Sur place, s&#x27;il vous plaît" in page
    assert "À emporter, s&#x27;il vous plaît" in page


def test_the_list_offers_continue_for_an_active_session(browser, learner, scenario) -> None:
    active = session_start(learner=learner, scenario=scenario)
    done = session_start(learner=learner, scenario=scenario)
    for text in ("Un café, s'il vous plaît", "Sur place, s'il vous plaît"):
        attempt_record(session=done, answer=answer_from_text(text=text))
    page = browser.get("/").content.decode()
    assert page.count(">Continue</a>") == 1
    assert f'href="/play/cafe-test/?session={active.pk}">Continue</a>' in page
    assert page.count(">Review</a>") == 2


def test_the_play_page_resumes_the_active_session(browser, learner, make_learner, scenario) -> None:
    older = session_start(learner=learner, scenario=scenario)
    session = session_start(learner=learner, scenario=scenario)
    attempt_record(session=session, answer=answer_from_text(text="Un café, s'il vous plaît"))
    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    session_start(learner=make_learner("other"), scenario=scenario)
    session.refresh_from_db()
    session.event_seq = 7
    session.save(update_fields=["event_seq"])

    response = browser.get("/play/cafe-test/")
    resume = json.loads(_json_script(response, "play-config"))["resume"]
    assert resume["session"] == str(session.pk)  # the latest one played
    assert (resume["score"], resume["lives_remaining"], resume["last_seq"]) == (15, 2, 7)
    assert resume["turn"]["index"] == 1
    assert resume["reveal"] is None  # one wrong try: not yet
    html = response.content.decode()
    assert 'id="continue"' in html
    assert "Start over" in html

    chosen = browser.get(f"/play/cafe-test/?session={older.pk}")
    assert json.loads(_json_script(chosen, "play-config"))["resume"]["session"] == str(older.pk)
    junk = browser.get("/play/cafe-test/?session=not-a-uuid")
    assert json.loads(_json_script(junk, "play-config"))["resume"]["session"] == str(session.pk)

    attempt_record(session=session, answer=answer_from_text(text="Une pizza"))
    resume = json.loads(_json_script(browser.get("/play/cafe-test/"), "play-config"))["resume"]
    assert resume["reveal"] == "Sur place, s'il vous plaît"


def test_the_play_page_without_an_active_session_starts_afresh(browser, scenario) -> None:
    response = browser.get("/play/cafe-test/")
    config = json.loads(_json_script(response, "play-config"))
    assert config["resume"] is None
    assert config["scenario"]["revealAfter"] == 2
    assert len(config["scenario"]["prompts"]) == 2
    assert "answers" not in json.dumps(config).lower().replace("typedanswers", "")
    assert 'id="continue"' not in response.content.decode()


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


def test_the_play_page_and_the_review_mark_weak_words_alike() -> None:
    """One format everywhere: static/parley/clarity.js holds the review's threshold."""
    from pathlib import Path

    from interaction.pages import WEAK_WORD_PROBABILITY

    script = (Path(__file__).resolve().parents[2] / "static/parley/clarity.js").read_text()
    assert f"WEAK_WORD_PROBABILITY = {WEAK_WORD_PROBABILITY};" in script


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("Je voudrais un café, s 'il vous plaît", "Je voudrais un café, s'il vous plaît"),
        ("Oui, j' ai une réservation", "Oui, j'ai une réservation"),
        ("Qu' est-ce que c'est", "Qu'est-ce que c'est"),
        ("Where is the station?", "Where is the station?"),
    ],
)
def test_transcripts_are_written_with_their_elisions_joined(raw: str, written: str) -> None:
    from interaction.pages import tidy_transcript

    assert tidy_transcript(raw) == written
