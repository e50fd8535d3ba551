"""The learner's game in Chromium (issue 11): a reload resumes, mistakes teach the answer,
an ASR outage loses no answer, and a phone's screen holds the pages.

Same harness as test_play.py: a WAV as the fake microphone, Daphne and the real WhisperLive
server; screenshots under artifacts/web/ (the names are in docs/webapp.md).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from interaction.asr.wire import READY_MARKER
from interaction.models import Attempt, Session
from interaction.services import answer_from_text, attempt_record, session_start
from scenarios.models import Scenario
from tests.live import REPO, ServerProcess, free_port
from tests.web.conftest import screenshot
from tests.web.test_play import TURN0, assert_heard_sound, log_in, start_playing, stats

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROMPT0 = "Bonjour ! Qu'est-ce que je vous sers ?"
PROMPT1 = "Pardon ? Vous pouvez répéter ?"
WRONG = "Une pizza"


SLOW_MICROPHONE = """
const openDevice = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return openDevice(constraints);
};
"""


@pytest.fixture
def twice(make_scenario) -> Scenario:
    """Two turns with the same answer: a microphone that plays its WAV again after a reload
    (Chromium's fake device starts its file over when it is opened again) answers turn 2."""
    return make_scenario(
        slug="twice-web",
        title="Coffee, twice (web)",
        penalties={"incorrect_answer": {"lives": 1, "points": 4}},
        turns=[
            {"prompt": PROMPT0, "answers": [TURN0[0]], "hint": "Ask for a coffee.", "reward": 15},
            {"prompt": PROMPT1, "answers": [TURN0[0]], "hint": "Say it again.", "reward": 15},
        ],
    )


def test_a_reload_mid_session_resumes_the_same_turn_and_score(
    browser_with_mic, live_app, twice, make_learner, spoken_answers
) -> None:
    from playwright.sync_api import expect

    make_learner("fay")
    page = browser_with_mic(spoken_answers(TURN0))
    log_in(page, live_app, "fay")
    start_playing(page, live_app, "twice-web")
    expect(page.locator("#turn-number")).to_have_text("2")
    expect(page.locator("#score")).to_have_text("15")
    session = Session.objects.get(learner__username="fay")

    # After the reload the microphone opens slowly, as a real one can: the stream is ready
    # first, and its greeting must not give way to "Listening…" when the microphone opens.
    page.add_init_script(SLOW_MICROPHONE)
    page.reload()
    # Before anything is clicked, the page shows where the game stands and offers Continue.
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#turn-number")).to_have_text("2")
    expect(page.locator("#hearts")).to_have_attribute("aria-label", "3 of 3 lives left")
    expect(page.locator("#progress")).to_have_attribute("value", "1")
    expect(page.locator("#resume-panel")).to_contain_text("Welcome back!")
    expect(page.locator("#start")).to_have_text("Start over")
    screenshot(page, "resume-after-reload")

    page.click("#continue")
    expect(page.locator("#prompt")).to_have_text(PROMPT1)
    page.wait_for_function("window.parley.stats().mic.chunks > 0")  # the microphone is open
    expect(page.locator("#feedback")).to_contain_text("Welcome back — carry on")
    expect(page.locator("#mode-badge")).to_have_text("Live")
    assert stats(page)["stream"]["resumes"] == 1  # `start` with the session and its last_seq
    screenshot(page, "resume-continued")
    # The microphone plays its WAV again: turn 2 is answered by voice on the same session.
    expect(page.locator("#end-title")).to_contain_text("Scenario complete!")
    expect(page.locator("#end-score")).to_have_text("30")
    assert_heard_sound(page)
    assert not page.errors, page.errors
    screenshot(page, "resume-complete")
    assert Session.objects.filter(learner__username="fay").count() == 1
    session.refresh_from_db()
    assert (session.status, session.score, session.lives_remaining) == ("completed", 30, 3)

    page.goto(f"{live_app}/")
    expect(page.locator(".sessions li")).to_have_count(1)
    expect(page.locator(".sessions li").get_by_role("link", name="Continue")).to_have_count(0)


# A stand-in for the browser's speech engine, which headless Chromium lacks: it records what
# the page asks it to say, so the test sees the prompt read at the turn's start.
FAKE_VOICE = """
window.__spoken = [];
window.SpeechSynthesisUtterance = class { constructor(text) { this.text = text; } };
const voice = { lang: "fr-FR", name: "Test French", default: true, localService: true };
Object.defineProperty(window, "speechSynthesis", { value: {
  getVoices: () => [voice], speak: (u) => { window.__spoken.push(u.text); u.onend?.(); },
  cancel: () => {}, addEventListener: () => {}, speaking: false,
}});
"""


def test_wrong_answers_reveal_the_accepted_answer_after_reveal_after_tries(
    browser_with_mic, live_app, twice, make_learner, silence_clip
) -> None:
    from playwright.sync_api import expect

    make_learner("gus")
    page = browser_with_mic(silence_clip(2.0))
    page.add_init_script(FAKE_VOICE)
    log_in(page, live_app, "gus")
    start_playing(page, live_app, "twice-web", mode="time_stop")
    expect(page.locator("#prompt")).to_have_text(PROMPT0)
    page.wait_for_function("window.__spoken.length === 1")
    assert page.evaluate("window.__spoken") == [PROMPT0]  # read aloud as the turn starts
    expect(page.locator("#hear-again")).to_be_enabled()
    expect(page.locator("#voice-note")).to_be_hidden()

    page.fill("#typed-answer", TURN0[0])
    page.click("#typed-form button")
    expect(page.locator("#prompt")).to_have_text(PROMPT1)
    page.wait_for_function("window.__spoken.length === 2")  # the next turn's prompt too

    feedback, reveal = page.locator("#feedback"), page.locator("#reveal")
    page.fill("#typed-answer", WRONG)
    page.click("#typed-form button")
    # Lives and points lost, named in one message.
    expect(feedback).to_have_text("Not quite. Hint: Say it again. You lose 1 ♥ and 4 points.")
    expect(page.locator("#score")).to_have_text("11")
    expect(reveal).to_be_hidden()  # one wrong try (reveal_after 2): nothing given away
    screenshot(page, "reveal-first-wrong")

    page.fill("#typed-answer", WRONG)
    page.click("#typed-form button")
    expect(page.locator("#hearts")).to_have_attribute("aria-label", "1 of 3 lives left")
    expect(reveal).to_be_visible()
    expect(reveal).to_have_text(f"You could say: {TURN0[0]}")
    expect(page.locator("#turn-number")).to_have_text("2")  # while the turn is still going
    screenshot(page, "reveal-after-two-wrong")

    page.fill("#typed-answer", WRONG)
    page.click("#typed-form button")
    expect(page.locator("#end-title")).to_have_text("Game over")
    expect(page.locator("#end-reveal")).to_have_text(f"You could have said: {TURN0[0]}")
    expect(page.locator("#end-hearts")).to_have_text("♡♡♡")
    expect(page.locator("#end-score")).to_have_text("3")
    summary = page.locator("#turn-summary li")
    expect(summary).to_have_count(2)
    expect(summary.nth(0)).to_contain_text("✓ first try · +15 points")
    expect(summary.nth(1)).to_contain_text("✗ 3 tries · -12 points")
    screenshot(page, "reveal-game-over")

    page.click("#review-link")
    answers = page.locator(".turn-answers li")
    expect(answers).to_have_count(2)
    expect(answers.nth(1)).to_contain_text(f"You could say: {TURN0[0]}")
    assert not page.errors, page.errors
    screenshot(page, "reveal-review")


def test_without_a_voice_for_the_language_hear_it_again_says_why(
    browser_with_mic, live_app, twice, make_learner, silence_clip
) -> None:
    from playwright.sync_api import expect

    make_learner("hal")
    page = browser_with_mic(silence_clip(2.0))
    page.add_init_script(FAKE_VOICE.replace('"fr-FR"', '"en-US"'))  # only an English voice
    log_in(page, live_app, "hal")
    start_playing(page, live_app, "twice-web", mode="time_stop")
    expect(page.locator("#voice-note")).to_have_text(
        "Your browser has no French voice, so prompts are not read aloud."
    )
    expect(page.locator("#hear-again")).to_be_disabled()
    assert page.evaluate("window.__spoken") == []
    screenshot(page, "no-voice")


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


def on_other_phones(page: Any, url: str, ready: str) -> None:
    """`url` (once `ready` is visible) has no horizontal scroll at 360 and 414 px either: each
    in a phone context of its own (resizing a page would drop its touch emulation)."""
    from playwright.sync_api import expect

    state = page.context.storage_state()
    for width in (360, 414):
        context = page.context.browser.new_context(
            **{**PHONE, "viewport": {"width": width, "height": 844}}, storage_state=state
        )
        other = context.new_page()
        other.goto(url)
        expect(other.locator(ready).first).to_be_visible()
        no_horizontal_scroll(other)
        expect(other.locator(".keys")).to_be_hidden()
        context.close()


def test_a_phone_screen_holds_every_page_without_horizontal_scroll(
    browser_with_mic, live_app, twice, make_learner, silence_clip
) -> None:
    from playwright.sync_api import expect

    learner = make_learner("ivy")
    long_title = Scenario.objects.filter(pk=twice.pk)
    long_title.update(title="Ordering two coffees in a crowded Parisian café at rush hour")
    for _ in range(3):
        session_start(learner=learner, scenario=twice)
    done = session_start(learner=learner, scenario=twice)
    for text in (TURN0[0], WRONG):
        attempt_record(session=done, answer=answer_from_text(text=text))
    page = browser_with_mic(silence_clip(2.0), **PHONE)
    page.add_init_script(FAKE_VOICE)
    log_in(page, live_app, "ivy")

    expect(page.locator(".sessions li")).to_have_count(4)
    no_horizontal_scroll(page)
    box = page.locator(".sessions li").first.get_by_role("link", name="Review").bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390  # on the screen
    screenshot(page, "phone-list")
    on_other_phones(page, f"{live_app}/", ".sessions li")

    page.locator(".sessions li").first.get_by_role("link", name="Continue").click()
    page.click("#continue")
    expect(page.locator("#prompt")).to_have_text(PROMPT1)
    expect(page.locator(".keys")).to_be_hidden()  # no keyboard hint on a touch screen
    page.fill("#typed-answer", WRONG)
    page.click("#typed-form button")
    expect(page.locator("#feedback")).to_contain_text("You lose 1 ♥ and 4 points")
    expect(page.locator("#reveal")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(page, "phone-play")
    on_other_phones(page, f"{live_app}/play/twice-web/", "#continue")

    page.goto(f"{live_app}/sessions/{done.pk}/review/")
    expect(page.locator(".turn-answers li")).to_have_count(2)
    expect(page.locator("li.attempt")).to_have_count(3)
    no_horizontal_scroll(page)
    assert not page.errors, page.errors
    screenshot(page, "phone-review")
    on_other_phones(page, page.url, "li.attempt")


# --- an ASR outage --------------------------------------------------------------------------


class AsrServer:
    """A WhisperLive server of this test's own, on a fixed port, that can be killed and
    started again (the session's shared one must stay up for the other tests)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / "asr.log"
        self.process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, str(REPO / "manage.py"), "run_asr_server"]
        self.process = ServerProcess(
            [*command, "--port", str(self.port)], env=env, log_path=self.log_path
        )
        self.process.start(
            lambda: READY_MARKER in self.log_path.read_bytes()[offset:].decode(errors="replace"),
            timeout=180,
            what="ASR server",
        )

    def kill(self) -> None:
        """As a crash would: no goodbye to the connections."""
        assert self.process is not None
        assert self.process.process is not None
        self.process.process.send_signal(signal.SIGKILL)
        self.process.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def own_asr(tmp_path: Path) -> Iterator[AsrServer]:
    server = AsrServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_on_own_asr(live_app_factory: Callable[..., str], own_asr: AsrServer) -> str:
    return live_app_factory(ASR_SERVERS=own_asr.url)


def test_an_asr_crash_while_speaking_loses_no_answer_and_live_mode_comes_back(
    browser_with_mic, app_on_own_asr, own_asr, twice, make_learner, spoken_answers
) -> None:
    from playwright.sync_api import expect

    base = app_on_own_asr
    make_learner("jo")
    page = browser_with_mic(spoken_answers(TURN0, gap_s=3.0))
    log_in(page, base, "jo")
    start_playing(page, base, "twice-web")
    expect(page.locator("#partial")).not_to_have_text("…")  # in the middle of the answer
    own_asr.kill()

    feedback = page.locator("#feedback")
    expect(page.locator("#mode-badge")).to_contain_text("Time-stop")
    # Plain words: no host, no port, no error number; the answer is kept.
    expect(feedback).to_contain_text("taking a break")
    page.wait_for_function("window.parley.stats().pendingAnswer")
    text = feedback.inner_text()
    for internal in ("127.0.0.1", "ws://", "Errno", "Error"):
        assert internal not in text, text
    screenshot(page, "asr-down-answer-kept")
    assert Attempt.objects.filter(session__learner__username="jo").count() == 0

    own_asr.start()
    # The kept answer is judged over time-stop once the recogniser is back …
    expect(page.locator("#score")).to_have_text("15")
    expect(page.locator("#turn-number")).to_have_text("2")
    # … and live mode comes back on the same session.
    expect(page.locator("#mode-badge")).to_have_text("Live")
    expect(feedback).to_contain_text("Live mode is back")
    assert stats(page)["liveReturns"] == 1
    assert stats(page)["stream"]["state"] == "ready"
    assert_heard_sound(page)
    assert not page.errors, page.errors
    screenshot(page, "asr-back-live-again")
    session = Session.objects.get(learner__username="jo")
    attempt = session.attempts.get()
    assert (attempt.source, attempt.outcome) == ("audio", "correct")
    assert (session.mode, session.score, session.status) == ("streaming", 15, "active")
