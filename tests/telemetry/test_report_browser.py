"""The analytics report in a real browser: an analyst logs in at /login/, reads the overview and
a scenario's page at desktop and tablet widths, and the SVG charts render with real sizes; a
designer tries an answer (Debian's Chromium driven by Playwright, against Daphne)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


@pytest.fixture
def report_app(tmp_path: Path) -> Iterator[str]:
    """Daphne serving Parley on the test database (no ASR needed for the report)."""
    port = free_port()
    server = ServerProcess(
        daphne_command(port),
        env=app_env(
            database_name=settings.DATABASES["default"]["NAME"], asr_servers="ws://127.0.0.1:9"
        ),
        log_path=tmp_path / "daphne.log",
    )
    server.start(lambda: port_open(port), timeout=60, what="Daphne")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


VIEWPORTS = [(1280, 800), (768, 1024)]
NO_PAGE_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _browser(driver):
    return driver.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
    )


def _log_in(page, base: str, path: str, username: str) -> None:
    page.goto(f"{base}{path}")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-Parley-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_report_reads_well_at_desktop_and_tablet_widths(
    played, analyst, report_app, monkeypatch, width, height
):
    if not CHROMIUM.is_file():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        browser = _browser(driver)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            _log_in(page, report_app, "/analytics/", "analyst")
            expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
            row = page.locator("tr.scenario-row")
            expect(row).to_have_count(1)
            expect(row.locator("td.rate").first).to_have_text("40%2 of 5")  # completed
            expect(row.locator("td.difficulty")).to_have_text("38%")
            assert page.evaluate(NO_PAGE_SCROLL), "the overview scrolls sideways"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"analytics-overview-{width}.png"), full_page=True)

            row.get_by_role("link", name="Order a coffee (test)").click()  # one click
            page.wait_for_url(f"{report_app}/analytics/scenarios/cafe-test/")
            expect(page.get_by_role("heading", name="Order a coffee (test)")).to_be_visible()
            expect(page.locator("tr.turn td.difficulty").first).to_have_text("20%")
            prompt = page.locator("tr.turn td.prompt-cell").first
            expect(prompt).to_have_text("Bonjour ! Qu'est-ce que je vous sers ?")
            box = prompt.bounding_box()
            assert box is not None
            assert box["width"] >= 200, box  # legible: never a column one word wide
            expect(page.locator("section.turn ol.answers").first).to_contain_text(
                "Je voudrais une bière bien fraîche"
            )
            assert page.evaluate(NO_PAGE_SCROLL), "the scenario page scrolls sideways"
            # The wide turns table scrolls inside its own box instead.
            scroller = page.locator("div.scroll:has(table.turn-figures)")
            assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")
            last_cell = page.locator("tr.turn").first.locator("td").last
            before = last_cell.bounding_box()
            scroller.evaluate("box => box.scrollTo(box.scrollWidth, 0)")
            after = last_cell.bounding_box()
            assert before is not None
            assert after is not None
            assert before["x"] + before["width"] > width  # off the page's right edge…
            assert after["x"] + after["width"] <= width  # …until its own box is scrolled
            scroller.evaluate("box => box.scrollTo(0, 0)")
            page.screenshot(path=str(ARTIFACTS / f"analytics-scenario-{width}.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


def test_an_analyst_logs_in_and_sees_the_charts(played, analyst, report_app, monkeypatch):
    if not CHROMIUM.is_file():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        browser = _browser(driver)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            _log_in(page, report_app, "/analytics/scenarios/cafe-test/", "analyst")
            bars = page.locator("svg.difficulty-chart rect.difficulty")
            expect(bars).to_have_count(1)  # turn 1; turn 2 has too few sessions
            box = bars.first.bounding_box()
            assert box is not None
            assert 0.15 * 160 < box["height"] < 0.25 * 160  # difficulty 0.2 of the plot
            expect(page.locator("svg.difficulty-chart .no-data")).to_have_count(1)
            steps = page.locator("svg.funnel-chart rect.passed")
            expect(steps).to_have_count(2)
            boxes = [steps.nth(i).bounding_box() for i in range(2)]
            heights = [box["height"] for box in boxes if box is not None]
            assert heights[0] == pytest.approx(160, abs=1)  # 5 of 5 passed turn 1
            assert heights[1] == pytest.approx(160 * 2 / 5, abs=1)
            expect(page.locator("td.difficulty").nth(1)).to_have_text("not enough data")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "analytics-report.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


def test_a_designer_tries_an_answer(scenario, report_app, monkeypatch):
    if not CHROMIUM.is_file():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    get_user_model().objects.create_user("designer", password="pw-Parley-123", is_staff=True)
    turn = scenario.turns.get(order=0)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        browser = _browser(driver)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            _log_in(page, report_app, f"/designer/turns/{turn.pk}/try/", "designer")
            # Plain http on 127.0.0.1 is a secure context: recording is offered.
            expect(page.locator("[data-recorder]")).to_be_visible()
            page.fill("textarea[name=transcript]", "Un thé, s'il vous plaît")
            page.click("form.try-form button[type=submit]")
            expect(page.locator(".verdict .word")).to_have_text("Incorrect answer")
            expect(page.locator(".verdict .message")).to_have_text(
                "Not quite. Hint: Ask for a coffee. You lose 1 ♥."
            )
            expect(page.locator("table.evidence .replace").first).to_have_text("thé, → café,")
            assert page.evaluate(NO_PAGE_SCROLL)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "try-an-answer.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
