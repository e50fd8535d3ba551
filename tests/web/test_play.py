"""The learner's web app in a real browser: Chromium with an espeak-ng WAV as microphone,
against Daphne and the real WhisperLive server (tests/conftest.py's `live_app`).

Every wait is for something on the page (generous timeouts, no sleeps); every test saves
screenshots under artifacts/web/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from interaction.models import Attempt, Session
from scenarios.models import Scenario
from tests.web.conftest import PASSWORD, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TURN0 = ("Je voudrais un café, s'il vous plaît", "fr")
# Clips the fair judge hears clearly from espeak-ng's voice through the fake microphone
# ("Sur place, s'il vous plaît" comes out "Coups plus…" and, rightly, unclear).
TURN1 = ("Je voudrais manger sur place", "fr")
ENGLISH = ("Can I have a coffee, please?", "en")
HINT = "Ask for a coffee: « Je voudrais… »"


@pytest.fixture
def cafe(make_scenario) -> Scenario:
    return make_scenario(
        slug="cafe-web",
        title="Coffee in Paris (web)",
        turns=[
            {
                "prompt": "Bonjour ! Qu'est-ce que je vous sers ?",
                "answers": [TURN0[0]],
                "hint": HINT,
                "reward": 15,
            },
            {"prompt": "Sur place ou à emporter ?", "answers": [TURN1[0]]},
        ],
    )


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def start_playing(page: Any, base_url: str, slug: str, *, mode: str = "streaming") -> None:
    page.goto(f"{base_url}/play/{slug}/?debug=1")
    page.check(f"input[name=mode][value={mode}]")
    page.click("#start")  # a real click, as a learner's: it starts audio and the microphone


def stats(page: Any) -> dict[str, Any]:
    return page.evaluate("window.parley.stats()")


def assert_heard_sound(page: Any) -> None:
    """The fake microphone fails silently on a bad WAV: prove the page captured speech."""
    mic = stats(page)["mic"]
    assert mic["kind"] == "pcm", mic
    assert mic["chunks"] > 10, mic
    assert mic["peak"] > 0.1, mic
    assert mic["maxRms"] > 0.02, mic


def test_sign_up_and_complete_a_scenario_by_voice(
    browser_with_mic, live_app, cafe, spoken_answers
) -> None:
    from playwright.sync_api import expect

    page = browser_with_mic(spoken_answers(TURN0, TURN1))
    page.goto(f"{live_app}/signup/")
    page.fill("#id_username", "ana")
    page.fill("#id_password1", "a-long-Passphrase-9")
    page.fill("#id_password2", "a-long-Passphrase-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_app}/")
    card = page.locator("li.scenario[data-slug=cafe-web]")
    expect(card).to_contain_text("French")
    expect(card).to_contain_text("Not played yet.")
    card.get_by_role("link", name="Play").click()

    page.check("input[name=mode][value=streaming]")
    page.click("#start")
    expect(page.locator("#prompt")).to_have_text("Bonjour ! Qu'est-ce que je vous sers ?")
    expect(page.locator("#hearts")).to_have_attribute("aria-label", "3 of 3 lives left")
    expect(page.locator("#progress")).to_have_attribute("value", "0")
    expect(page.locator(".keys")).to_be_visible()  # a desktop: keyboard hints shown
    expect(page.locator("#partial")).not_to_have_text("…")  # a live partial transcript
    screenshot(page, "voice-partial")
    expect(page.locator("#turn-number")).to_have_text("2")  # the first answer advanced the turn
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#progress")).to_have_attribute("value", "1")
    expect(page.locator("#progress-text")).to_have_text("1 of 2 turns done")
    expect(page.locator("#clarity")).not_to_have_text("")  # how well it was heard, in words
    # The learner's own last answer can be played back (kept in the page only).
    expect(page.locator("#replay-answer")).to_be_enabled()
    page.click("#replay-answer")
    assert stats(page)["lastAnswerChunks"] > 10
    expect(page.locator("#prompt")).to_have_text("Sur place ou à emporter ?")
    screenshot(page, "voice-turn-2")
    expect(page.locator("#end-title")).to_contain_text("Scenario complete!")
    expect(page.locator("#score")).to_have_text("25")
    # The completion screen: score, hearts left, a line per turn.
    expect(page.locator("#end-score")).to_have_text("25")
    expect(page.locator("#end-hearts")).to_have_text("♥♥♥")
    expect(page.locator("#turn-summary li")).to_have_count(2)
    expect(page.locator("#turn-summary li").first).to_contain_text("✓ first try · +15 points")
    expect(page.locator("#progress")).to_have_attribute("value", "2")
    expect(page.locator("#end-reveal")).to_be_hidden()
    assert_heard_sound(page)
    assert not page.errors, page.errors
    screenshot(page, "voice-complete")

    page.click("#review-link")
    expect(page.locator("h1")).to_contain_text("Review")
    expect(page.locator("li.attempt")).to_have_count(2)
    expect(page.locator("li.attempt .word").first).to_be_visible()  # the words as recognised
    expect(page.locator("li.attempt").first).to_contain_text("+15 points")
    expect(page.locator("li.attempt").first).not_to_contain_text("s 'il")  # elisions joined
    expect(page.locator(".turn-answers li")).to_have_count(2)
    expect(page.locator(".turn-answers li").first).to_contain_text(TURN0[0])
    screenshot(page, "voice-review")

    page.goto(f"{live_app}/")
    expect(card).to_contain_text("Your best: 25 points (completed)")
    session = Session.objects.get(learner__username="ana")
    assert (session.mode, session.status, session.score) == ("streaming", "completed", 25)


def test_an_english_answer_costs_a_heart_with_an_answer_in_french_message(
    browser_with_mic, live_app, cafe, make_learner, spoken_answers
) -> None:
    from playwright.sync_api import expect

    make_learner("ben")
    page = browser_with_mic(spoken_answers(ENGLISH))
    log_in(page, live_app, "ben")
    start_playing(page, live_app, "cafe-web")

    feedback = page.locator("#feedback")
    expect(feedback).to_contain_text("Answer in French")
    expect(page.locator("#hearts")).to_have_attribute("aria-label", "2 of 3 lives left")
    expect(page.locator("#hearts .heart.lost")).to_have_count(1)
    expect(page.locator("#turn-number")).to_have_text("1")  # the turn stays
    # English forced into French is invented text: it is not shown as what was said.
    expect(page.locator("#partial")).to_have_text("…")
    screenshot(page, "wrong-language")

    # A typed answer (the scenario allows them) goes through the same HUD.
    page.fill("#typed-answer", TURN0[0])
    page.click("#typed-form button")
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#turn-number")).to_have_text("2")
    assert_heard_sound(page)
    assert not page.errors, page.errors
    attempt = Attempt.objects.filter(session__learner__username="ben").first()
    assert attempt is not None
    assert attempt.outcome == "wrong_language"


# An answer nobody can make out: espeak-ng's "Sur place, s'il vous plaît" played backwards
# (mumbled syllables; the `mumbled_clip` fixture). No accepted answer explains it and the
# recogniser is unsure of what it hears ("Et une liste, à l'huile."): the fair judge says
# `unclear`.
GARBLED_ANSWER = "Sur place, s'il vous plaît"


@pytest.mark.parametrize("mode", ["time_stop", "streaming"])
def test_an_unclear_answer_asks_again_and_costs_no_heart(
    browser_with_mic,
    live_app,
    make_scenario,
    make_learner,
    spoken_answers,
    mumbled_clip,
    mode,
) -> None:
    from playwright.sync_api import expect

    make_scenario(
        slug="to-go-web",
        title="Eat in or take away (web)",
        turns=[
            {"prompt": "Sur place ou à emporter ?", "answers": [GARBLED_ANSWER]},
            *[{"prompt": "Et avec ça ?", "answers": ["Rien d'autre, merci"]}],
        ],
    )
    make_learner("cleo")
    page = browser_with_mic(spoken_answers(mumbled_clip(GARBLED_ANSWER, "fr+f3", speed=130)))
    log_in(page, live_app, "cleo")
    if mode == "streaming":
        start_playing(page, live_app, "to-go-web", mode=mode)
    else:
        # As test_without_streaming_the_game_falls_back_to_time_stop: the socket refuses the
        # start, and the answer being spoken goes to the time-stop POST when it ends.
        page.goto(f"{live_app}/play/to-go-web/?debug=1")
        Scenario.objects.filter(slug="to-go-web").update(streaming_enabled=False)
        page.click("#start")
        expect(page.locator("#mode-badge")).to_contain_text("Time-stop")

    expect(page.locator("#feedback")).to_contain_text(
        "I couldn't quite make that out — no heart lost. Say it again?"
    )
    expect(page.locator("#clarity")).to_have_text("unclear")
    expect(page.locator("#hearts")).to_have_attribute("aria-label", "3 of 3 lives left")
    expect(page.locator("#hearts .heart.lost")).to_have_count(0)
    expect(page.locator("#turn-number")).to_have_text("1")  # the turn stays
    expect(page.locator("#score")).to_have_text("0")
    screenshot(page, f"unclear-{mode}")
    assert_heard_sound(page)
    assert not page.errors, page.errors
    attempts = list(Attempt.objects.filter(session__learner__username="cleo"))
    assert [a.outcome for a in attempts] == ["unclear"], [
        (a.outcome, a.transcript) for a in attempts
    ]
    session = Session.objects.get(learner__username="cleo")
    assert (session.lives_remaining, session.turn_index, session.status) == (3, 0, "active")


def test_a_dropped_socket_reconnects_and_resumes_the_session(
    browser_with_mic, live_app, cafe, make_learner, spoken_answers
) -> None:
    from playwright.sync_api import expect

    make_learner("cleo")
    page = browser_with_mic(spoken_answers(TURN0, TURN1))
    log_in(page, live_app, "cleo")
    start_playing(page, live_app, "cafe-web")

    expect(page.locator("#partial")).not_to_have_text("…")  # in the middle of the first answer
    page.evaluate("window.parley.dropConnection()")  # as a bad network would
    expect(page.locator("#debug-reconnects")).to_have_text("1")
    expect(page.locator("#debug-resumes")).to_have_text("1")
    expect(page.locator("#end-title")).to_contain_text("Scenario complete!")
    expect(page.locator("#score")).to_have_text("25")
    stream = stats(page)["stream"]
    assert (stream["reconnects"], stream["resumes"]) == (1, 1), stream
    assert stream["rttMs"] is not None, stream  # ping/pong measured the round trip
    assert not page.errors, page.errors
    screenshot(page, "reconnect-complete")
    session = Session.objects.get(learner__username="cleo")
    assert (session.status, session.score, session.lives_remaining) == ("completed", 25, 3)


@pytest.mark.parametrize("microphone_opens", ["at_once", "after_the_refusal"])
def test_without_streaming_the_game_falls_back_to_time_stop(
    browser_with_mic, live_app, cafe, make_learner, spoken_answers, microphone_opens
) -> None:
    from playwright.sync_api import expect

    make_learner("dan")
    page = browser_with_mic(spoken_answers(TURN0))
    if microphone_opens == "after_the_refusal":
        # The server's refusal reaches the page before the microphone is open.
        page.add_init_script(
            """
            const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
            navigator.mediaDevices.getUserMedia = (constraints) =>
              new Promise((resolve) => setTimeout(resolve, 2000)).then(() => open(constraints));
            """
        )
    log_in(page, live_app, "dan")
    page.goto(f"{live_app}/play/cafe-web/?debug=1")
    # Streaming is switched off after the page offered it: the socket refuses the start
    # with `fallback: "http"`, and the answer being spoken goes to the time-stop API.
    Scenario.objects.filter(pk=cafe.pk).update(streaming_enabled=False)
    page.click("#start")

    expect(page.locator("#mode-badge")).to_contain_text("Time-stop")
    expect(page.locator("#feedback")).to_contain_text("Live mode is switched off right now")
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#turn-number")).to_have_text("2")
    expect(page.locator("#feedback")).to_contain_text("Correct!")
    assert stats(page)["fellBack"] is True
    assert_heard_sound(page)
    assert not page.errors, page.errors
    screenshot(page, "fallback-time-stop")
    session = Session.objects.get(learner__username="dan")
    assert (session.mode, session.score, session.turn_index) == ("time_stop", 15, 1)
    assert session.attempts.get().source == "audio"


def test_a_socket_that_keeps_failing_falls_back_to_time_stop(
    browser_with_mic, live_app, cafe, make_learner, silence_clip
) -> None:
    from playwright.sync_api import expect

    make_learner("eve")
    page = browser_with_mic(silence_clip(3.0))
    log_in(page, live_app, "eve")
    refused: list[str] = []

    def refuse(socket: Any) -> None:  # the network: every connection dies before `ready`
        refused.append(socket.url)
        socket.close(code=1011, reason="unreachable")

    page.route_web_socket(re.compile(r"/stream/interaction$"), refuse)
    start_playing(page, live_app, "cafe-web")

    expect(page.locator("#mode-badge")).to_contain_text("Time-stop")
    expect(page.locator("#feedback")).to_contain_text("The connection keeps dropping")
    assert len(refused) == 5  # reconnects with growing delays, then gives up
    stream = stats(page)["stream"]
    assert (stream["state"], stream["reconnects"]) == ("failed", 4), stream
    screenshot(page, "keeps-failing-time-stop")

    # The fallback created a time-stop session; typed answers go through the same HUD.
    page.fill("#typed-answer", TURN0[0])
    page.click("#typed-form button")
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#turn-number")).to_have_text("2")
    assert not page.errors, page.errors
    session = Session.objects.get(learner__username="eve")
    assert (session.mode, session.score) == ("time_stop", 15)
