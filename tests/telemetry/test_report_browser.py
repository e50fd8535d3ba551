"""The analytics report in a real browser: an analyst logs in at /login/ and the SVG charts
render with real sizes (Debian's Chromium driven by Playwright, against Daphne)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

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


def test_an_analyst_logs_in_and_sees_the_charts(played, analyst, report_app, monkeypatch):
    if not CHROMIUM.is_file():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{report_app}/analytics/")
            assert "/login/" in page.url
            page.fill("input[name=username]", "analyst")
            page.fill("input[name=password]", "pw-Parley-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{report_app}/analytics/")
            expect(page.get_by_role("heading", name="Analytics")).to_be_visible()

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
