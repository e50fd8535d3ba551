"""Try an answer: the designers' form on a turn runs the real judge and stores nothing.

Typed answers need no server; the spoken ones post WAVs to the form and, as a learner, to the
time-stop API, both recognised by the real WhisperLive server, and compare the verdicts.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from interaction.models import Attempt, ScoreEvent, Session
from telemetry.models import Dispute

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: None) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("designer", is_staff=True))
    return client


def stored() -> tuple[int, int, int, int]:
    return (
        Session.objects.count(),
        Attempt.objects.count(),
        ScoreEvent.objects.count(),
        Dispute.objects.count(),
    )


def test_the_form_shows_the_turn_and_its_fields(scenario, staff_client) -> None:
    turn = scenario.turns.get(order=0)
    page = staff_client.get(f"/designer/turns/{turn.pk}/try/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Bonjour ! Qu&#x27;est-ce que je vous sers ?" in html
    assert 'name="transcript"' in html
    assert 'type="file" name="audio"' in html
    assert "data-recorder" in html  # recording, where the browser allows it
    assert f"/admin/scenarios/scenario/{scenario.pk}/change/#turns-0" in html


def test_a_typed_answer_shows_the_verdict_as_a_learner_gets_it(scenario, staff_client) -> None:
    turn = scenario.turns.get(order=0)
    page = staff_client.post(
        f"/designer/turns/{turn.pk}/try/", {"transcript": "Un thé, s'il vous plaît"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-outcome="incorrect_answer">Incorrect answer</div>' in html
    assert "Not quite. Hint: Ask for a coffee. You lose 1 ♥." in html
    assert 'points <span class="tried-points">0</span>' in html
    assert 'hearts <span class="tried-hearts">-1</span>' in html
    assert '<span class="replace">thé, → café,</span>' in html  # against "Un café, s'il…"
    assert stored() == (0, 0, 0, 0)

    correct = staff_client.post(
        f"/designer/turns/{turn.pk}/try/", {"transcript": "un cafe, sil vous plait"}
    ).content.decode()
    assert "Correct! “un cafe, sil vous plait” +15" in correct
    assert 'points <span class="tried-points">+15</span>' in correct
    assert stored() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "Type an answer or give a recording"),
        ({"transcript": "   "}, "Type an answer or give a recording"),
        ({"transcript": "x" * 501}, "at most 500 characters"),
    ],
)
def test_bad_input_is_a_400_with_a_reason(scenario, staff_client, data, reason) -> None:
    turn = scenario.turns.get(order=0)
    page = staff_client.post(f"/designer/turns/{turn.pk}/try/", data)
    assert page.status_code == 400
    assert reason in page.content.decode()


def test_an_unreadable_recording_is_refused_with_a_reason(scenario, staff_client) -> None:
    turn = scenario.turns.get(order=0)
    upload = io.BytesIO(b"this is not audio at all" * 10)
    upload.name = "answer.wav"
    page = staff_client.post(f"/designer/turns/{turn.pk}/try/", {"audio": upload})
    assert 400 <= page.status_code < 500
    assert 'class="errors" role="alert"' in page.content.decode()
    assert stored() == (0, 0, 0, 0)


def test_both_a_text_and_a_recording_is_refused(scenario, staff_client, silence_clip) -> None:
    turn = scenario.turns.get(order=0)
    upload = io.BytesIO(silence_clip(0.5).read_bytes())
    upload.name = "answer.wav"
    page = staff_client.post(
        f"/designer/turns/{turn.pk}/try/", {"audio": upload, "transcript": "Un café"}
    )
    assert page.status_code == 400


def test_learners_analysts_and_anonymous_cannot_try(scenario, learner, analyst) -> None:
    turn = scenario.turns.get(order=0)
    path = f"/designer/turns/{turn.pk}/try/"
    anonymous = Client().post(path, {"transcript": "Un café"})
    assert (anonymous.status_code, anonymous["Location"].startswith("/login/")) == (302, True)
    for user in (learner, analyst):
        client = Client()
        client.force_login(user)
        assert client.post(path, {"transcript": "Un café"}).status_code == 403
    assert stored() == (0, 0, 0, 0)


def test_an_unknown_turn_is_404(staff_client) -> None:
    assert staff_client.get("/designer/turns/999999/try/").status_code == 404


def test_the_admin_links_each_saved_turn_to_it(scenario, admin_client) -> None:
    html = admin_client.get(f"/admin/scenarios/scenario/{scenario.pk}/change/").content.decode()
    for turn in scenario.turns.all():
        assert f'<a href="/designer/turns/{turn.pk}/try/">Try an answer</a>' in html


# --- Spoken: the real recogniser --------------------------------------------------------------

CLIPS = [
    ("Je voudrais un café, s'il vous plaît", "fr"),
    ("I would like a coffee please", "en"),
    ("Je voudrais une bière bien fraîche", "fr"),
    ("Un thé, s'il vous plaît", "fr"),
]


@pytest.mark.asr
def test_a_recording_gets_the_verdict_a_learners_attempt_gets(
    scenario,
    staff_client,
    learner_client,
    settings,
    asr_server,
    speech_clip: Callable[..., Path],
    silence_clip: Callable[[float], Path],
) -> None:
    settings.ASR_SERVERS = [asr_server]
    turn = scenario.turns.get(order=0)
    clips = [speech_clip(text, voice) for text, voice in CLIPS] + [silence_clip(2.0)]
    tried: list[dict[str, Any]] = []
    for clip in clips:
        page = staff_client.post(f"/designer/turns/{turn.pk}/try/", {"audio": upload_of(clip)})
        assert page.status_code == 200, page.content[:500]
        assert stored() == (0, 0, 0, 0)
        tried.append(page.context["result"])
    learned = []
    for clip in clips:  # each on a fresh session, so every one answers turn 1
        session = learner_client.post("/api/sessions/", {"scenario": "cafe-test"}, format="json")
        response = learner_client.post(
            f"/api/sessions/{session.json()['id']}/attempts/",
            {"audio": upload_of(clip)},
            format="multipart",
        )
        assert response.status_code == 200, response.content
        learned.append(response.json())
    assert [t["outcome"] for t in tried] == [r["outcome"] for r in learned]
    assert [(t["points"], t["hearts"]) for t in tried] == [
        (r["scoreDelta"], r["livesDelta"]) for r in learned
    ]
    assert [t["answer"].transcript for t in tried] == [r["transcript"] for r in learned]
    assert [t["similarity"] for t in tried] == [r["similarity"] for r in learned]
    assert tried[0]["outcome"] == "correct"
    assert tried[-1]["outcome"] == "no_speech"
    assert any(row.fit is not None for row in tried[0]["evidence"])  # the answers' scores
    html = staff_client.post(
        f"/designer/turns/{turn.pk}/try/", {"audio": upload_of(clips[0])}
    ).content.decode()
    assert "per token" in html  # how well each accepted answer explains the audio


def upload_of(path: Path) -> io.BytesIO:
    upload = io.BytesIO(path.read_bytes())
    upload.name = path.name
    return upload
