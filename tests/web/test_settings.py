"""The learner's languages in the web app: ticked at sign-up from the browser, and changed
on the settings page (Django's test client; no browser)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from interaction.languages import LEARNER_LANGUAGES
from interaction.models import LearnerProfile
from interaction.selectors import learner_other_languages_get
from interaction.services import learner_languages_set
from tests.web.conftest import screenshot
from tests.web.test_learner import PHONE, no_horizontal_scroll

pytestmark = pytest.mark.django_db

NEW = {"username": "zoe", "password1": "a-long-Passphrase-9", "password2": "a-long-Passphrase-9"}


def ticked(html: str) -> list[str]:
    """The codes whose `other_languages` checkbox is ticked, in the page's order."""
    boxes = re.findall(r'<input type="checkbox" name="other_languages"[^>]*>', html)
    assert len(boxes) == len(LEARNER_LANGUAGES), boxes  # one checkbox per language
    return [re.search(r'value="(\w+)"', box).group(1) for box in boxes if " checked" in box]  # type: ignore[union-attr]


@pytest.fixture
def browser(learner: Any) -> Client:
    client = Client()
    client.force_login(learner)
    return client


class TestSignUp:
    @pytest.mark.parametrize(
        ("accept_language", "preselected"),
        [
            ("es-MX,es;q=0.9,en;q=0.8", {"es", "en"}),
            ("de-CH, fr;q=0.7, ja;q=0.9", {"de", "fr"}),
            ("ja,zh;q=0.8", set()),
            ("fr;q=0", set()),
            (None, set()),
        ],
    )
    def test_the_browsers_languages_are_ticked(
        self, accept_language: str | None, preselected: set[str]
    ) -> None:
        headers = {"Accept-Language": accept_language} if accept_language else {}
        response = Client().get("/signup/", headers=headers)
        assert response.status_code == 200
        assert "Accept-Language" in response["Vary"]  # a cache keeps one page per header
        assert set(ticked(response.content.decode())) == preselected

    def test_the_ticked_languages_are_stored(self) -> None:
        client = Client()
        response = client.post(
            "/signup/", {**NEW, "other_languages": ["es", "de"]}, HTTP_ACCEPT_LANGUAGE="fr"
        )
        assert response.status_code == 302
        learner = get_user_model().objects.get(username="zoe")
        assert LearnerProfile.objects.get(user=learner).other_languages == ["es", "de"]
        assert learner_other_languages_get(learner=learner) == ("es", "de")

    def test_none_ticked_leaves_the_global_default(self) -> None:
        assert Client().post("/signup/", NEW, HTTP_ACCEPT_LANGUAGE="es").status_code == 302
        learner = get_user_model().objects.get(username="zoe")
        assert not LearnerProfile.objects.filter(user=learner).exists()
        assert learner_other_languages_get(learner=learner) == ("en",)

    def test_an_unsupported_language_is_a_form_error_and_no_account(self) -> None:
        response = Client().post("/signup/", {**NEW, "other_languages": ["es", "xx"]})
        assert response.status_code == 200
        assert "xx is not one of the available choices" in response.content.decode()
        assert not get_user_model().objects.filter(username="zoe").exists()

    def test_a_refused_sign_up_keeps_what_the_learner_ticked(self) -> None:
        response = Client().post(
            "/signup/",
            {**NEW, "password2": "something-else-9", "other_languages": ["it"]},
            HTTP_ACCEPT_LANGUAGE="es",
        )
        assert response.status_code == 200
        assert ticked(response.content.decode()) == ["it"]  # theirs, not the browser's


class TestSettingsPage:
    def test_it_needs_a_login(self) -> None:
        for response in (Client().get("/settings/"), Client().post("/settings/", {})):
            assert response.status_code == 302
            assert response["Location"].startswith("/login/?next=/settings/")

    def test_the_nav_links_to_it(self, browser: Client) -> None:
        assert 'href="/settings/"' in browser.get("/").content.decode()
        assert 'href="/settings/"' not in Client().get("/").content.decode()

    def test_it_shows_the_stored_languages_not_the_browsers(
        self, browser: Client, learner: Any
    ) -> None:
        learner_languages_set(learner=learner, other_languages=["nl", "pt"])
        response = browser.get("/settings/", HTTP_ACCEPT_LANGUAGE="es")
        assert set(ticked(response.content.decode())) == {"nl", "pt"}

    def test_with_none_named_it_says_which_default_applies(self, browser: Client) -> None:
        page = browser.get("/settings/").content.decode()
        assert ticked(page) == []
        assert "With none ticked, Parley listens for English." in page

    def test_saving_stores_them_and_says_so(self, browser: Client, learner: Any) -> None:
        response = browser.post("/settings/", {"other_languages": ["es", "it"]}, follow=True)
        assert response.redirect_chain == [("/settings/", 302)]
        page = response.content.decode()
        assert "Your languages are saved." in page
        assert set(ticked(page)) == {"es", "it"}
        assert learner_other_languages_get(learner=learner) == ("es", "it")

    def test_unticking_all_goes_back_to_the_default(self, browser: Client, learner: Any) -> None:
        learner_languages_set(learner=learner, other_languages=["de"])
        assert browser.post("/settings/", {}).status_code == 302
        assert LearnerProfile.objects.get(user=learner).other_languages == []
        assert learner_other_languages_get(learner=learner) == ("en",)

    @pytest.mark.parametrize(
        ("ticked", "reason"),
        [
            (["klingon"], "klingon is not one of the available choices"),
            (["es", "en", "de", "it", "pt"], "Choose at most 4 languages."),
        ],
    )
    def test_a_refused_choice_changes_nothing(
        self, browser: Client, learner: Any, ticked: list[str], reason: str
    ) -> None:
        learner_languages_set(learner=learner, other_languages=["de"])
        response = browser.post("/settings/", {"other_languages": ticked})
        assert response.status_code == 200
        page = response.content.decode()
        assert 'role="alert"' in page
        assert reason in page
        assert LearnerProfile.objects.get(user=learner).other_languages == ["de"]


# --- in Chromium --------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_spanish_browser_signs_up_as_a_spanish_speaker_and_adds_english_on_a_phone(
    browser_with_mic: Any, live_app: str, silence_clip: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_with_mic(silence_clip(1.0), locale="es-MX", **PHONE)
    page.goto(f"{live_app}/signup/")
    expect(page.get_by_label("Spanish")).to_be_checked()  # from the browser's Accept-Language
    expect(page.get_by_label("English")).not_to_be_checked()
    no_horizontal_scroll(page)
    screenshot(page, "signup-languages")
    page.fill("#id_username", "lola")
    page.fill("#id_password1", "a-long-Passphrase-9")
    page.fill("#id_password2", "a-long-Passphrase-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_app}/")
    learner = get_user_model().objects.get(username="lola")
    assert learner_other_languages_get(learner=learner) == ("es",)

    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(f"{live_app}/settings/")
    expect(page.get_by_label("Spanish")).to_be_checked()
    page.get_by_label("English").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Your languages are saved.")
    no_horizontal_scroll(page)
    assert not page.errors, page.errors
    screenshot(page, "settings-saved")
    assert set(learner_other_languages_get(learner=learner)) == {"es", "en"}
