"""Browser fixtures: Debian's Chromium driven by Playwright, with a WAV as its microphone.

Chromium plays the WAV once (`%noloop`) from the moment the page opens the device, and a new
file needs a new browser, so each test launches its own (`browser_with_mic`). The flags and
their reasons are in the shared FINDINGS.md and docs/webapp.md.
"""

from __future__ import annotations

import shutil
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.speech import SAMPLE_RATE, read_wav

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "pw-Parley-123"  # tests/conftest.py's make_learner
TIMEOUT_MS = 90_000  # ASR on a 2-core machine: generous, and every wait is for an event


def chromium_args(wav: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]


@pytest.fixture
def browser_with_mic(
    live_app: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Callable[[Path], Any]]:
    """`browser_with_mic(wav)` → a page whose microphone plays `wav` once; always closed.

    A screenshot of the page as the test left it is saved to artifacts/web/<test>-end.png.
    """
    if not CHROMIUM.is_file():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("Browser tests need Playwright's Python package: pip install playwright")
    # Playwright's sync API keeps an event loop running in this thread, which Django takes
    # for async code; the test's own ORM calls are plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    expect.set_options(timeout=TIMEOUT_MS)
    pages: list[Any] = []

    with sync_playwright() as driver:

        def launch(wav: Path, **context_options: Any) -> Any:
            """context_options: Playwright's new_context options (a phone's viewport…)."""
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(wav))
            context = browser.new_context(
                **{"viewport": {"width": 1000, "height": 900}, **context_options}
            )
            context.grant_permissions(["microphone"], origin=live_app)
            page: Any = context.new_page()  # carries `errors` for the tests
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.errors = errors  # uncaught page errors, checked by the tests
            page.on("pageerror", lambda error: errors.append(str(error)))
            pages.append(page)
            return page

        try:
            yield launch
        finally:
            for page in pages:
                screenshot(page, f"{request.node.name}-end")
                page.context.browser.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if not page.is_closed():
        page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def spoken_answers(speech_clip: Callable[..., Path], tmp_path: Path) -> Callable[..., Path]:
    """`spoken_answers(("text", "fr"), ..., gap_s=7.5)` → one WAV: lead-in, answers, gaps.

    A gap covers the server's end-of-utterance silence (1.2 s) and the final pass over the
    answer before it on a busy 2-core machine (2–4 s measured, more after a reconnect's
    catch-up): an utterance that starts before that judgement is recorded is recognised with
    the previous turn's answers as its candidates, and it is judged against the wrong turn.
    """

    def build(*answers: tuple[Any, ...] | Path, gap_s: float = 7.5, lead_s: float = 1.0) -> Path:
        """Each answer is (text, voice), (text, voice, speed in words/min) or a WAV's path."""

        def quiet(seconds: float) -> np.ndarray:
            return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)

        parts = [quiet(lead_s)]
        for answer in answers:
            if isinstance(answer, Path):
                parts += [read_wav(answer)]
            else:
                text, voice, *speed = answer
                parts += [read_wav(speech_clip(text, voice, speed=speed[0] if speed else 150))]
            parts += [quiet(gap_s)]
        samples = np.concatenate(parts)
        path = tmp_path / "microphone.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        return path

    return build


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
