"""The learner's account over HTTP: `GET/PATCH /api/me/` and the languages at registration."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from interaction.languages import LanguagesInvalid
from interaction.models import LearnerProfile
from interaction.selectors import learner_other_languages_get
from interaction.services import RegistrationRefused, learner_languages_set, learner_register

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase"


def patch(client: APIClient, body: Any, expect: int = 200, **kwargs: Any) -> dict[str, Any]:
    response = client.patch("/api/me/", body, format=kwargs.pop("format", "json"), **kwargs)
    assert response.status_code == expect, response.content
    return response.json()


def test_a_new_learner_has_named_no_languages(learner_client: APIClient) -> None:
    response = learner_client.get("/api/me/")
    assert response.status_code == 200
    assert response.json() == {"username": "learner", "other_languages": []}


def test_patch_stores_the_languages_the_judge_then_suspects(
    learner_client: APIClient, learner: Any, settings: Any
) -> None:
    settings.PARLEY_JUDGING = {**settings.PARLEY_JUDGING, "other_languages": ["en"]}
    assert learner_other_languages_get(learner=learner) == ("en",)  # the global default

    body = patch(learner_client, {"other_languages": ["es", "de", "es"]})

    assert body == {"username": "learner", "other_languages": ["es", "de"]}
    assert learner_client.get("/api/me/").json()["other_languages"] == ["es", "de"]
    assert LearnerProfile.objects.get(user=learner).other_languages == ["es", "de"]
    assert learner_other_languages_get(learner=learner) == ("es", "de")  # not English


def test_an_empty_list_goes_back_to_the_global_default(
    learner_client: APIClient, learner: Any
) -> None:
    patch(learner_client, {"other_languages": ["it"]})
    assert patch(learner_client, {"other_languages": []})["other_languages"] == []
    assert learner_other_languages_get(learner=learner) == ("en",)


def test_patch_without_the_field_changes_nothing(learner_client: APIClient) -> None:
    patch(learner_client, {"other_languages": ["pt"]})
    assert patch(learner_client, {})["other_languages"] == ["pt"]


def test_a_form_body_repeats_the_key(learner_client: APIClient) -> None:
    body = patch(
        learner_client,
        "other_languages=nl&other_languages=fr",
        format=None,
        content_type="application/x-www-form-urlencoded",
    )
    assert body["other_languages"] == ["nl", "fr"]


@pytest.mark.parametrize(
    "value",
    [
        ["xx"],
        ["es", "klingon"],
        ["es-MX"],
        ["es", "en", "de", "it", "pt"],  # more than the judge suspects at once
        "es",
        {"es": 1},
        [None],
        [["es"]],
        None,
        3,
    ],
)
def test_anything_but_supported_codes_is_a_400_naming_the_field(
    learner_client: APIClient, learner: Any, value: Any
) -> None:
    patch(learner_client, {"other_languages": ["fr"]})
    body = patch(learner_client, {"other_languages": value}, expect=400)
    assert body["code"] == "invalid"
    assert "other_languages" in body["errors"]
    assert body["detail"].startswith("other_languages")
    assert LearnerProfile.objects.get(user=learner).other_languages == ["fr"]  # unchanged


@pytest.mark.parametrize("method", ["get", "patch"])
def test_anonymous_is_a_401_in_the_api_shape(api_client: APIClient, method: str) -> None:
    response = getattr(api_client, method)("/api/me/", {"other_languages": ["es"]}, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"].startswith("Token")
    assert not LearnerProfile.objects.exists()


def test_a_bad_token_is_a_401(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api_client.get("/api/me/")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


def test_a_logged_in_browser_uses_its_session_and_needs_csrf(learner: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner)
    assert browser.get("/api/me/").json()["username"] == "learner"
    refused = browser.patch(
        "/api/me/", {"other_languages": ["es"]}, content_type="application/json"
    )
    assert refused.status_code == 403  # no CSRF token: a session's write needs one
    browser.get("/settings/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    saved = browser.patch(
        "/api/me/",
        {"other_languages": ["es"]},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["other_languages"] == ["es"]


def test_put_and_post_are_not_allowed(learner_client: APIClient) -> None:
    for method in ("put", "post"):
        response = getattr(learner_client, method)("/api/me/", {}, format="json")
        assert response.status_code == 405


def test_each_learner_sees_and_changes_only_their_own(
    learner_client: APIClient, make_learner: Any
) -> None:
    other = APIClient()
    other.force_authenticate(make_learner("bea"))
    patch(other, {"other_languages": ["nl"]})
    assert learner_client.get("/api/me/").json() == {"username": "learner", "other_languages": []}
    assert other.get("/api/me/").json() == {"username": "bea", "other_languages": ["nl"]}


class TestRegister:
    def register(self, client: APIClient, **body: Any) -> Any:
        return client.post(
            "/api/auth/register/", {"username": "ana", "password": PASSWORD, **body}, format="json"
        )

    def test_with_languages_they_are_stored(self, api_client: APIClient) -> None:
        response = self.register(api_client, other_languages=["es", "en", "es"])
        assert response.status_code == 201, response.content
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        assert api_client.get("/api/me/").json() == {
            "username": "ana",
            "other_languages": ["es", "en"],
        }

    def test_without_them_the_global_default_applies(self, api_client: APIClient) -> None:
        response = self.register(api_client)
        assert response.status_code == 201, response.content
        learner = get_user_model().objects.get(username="ana")
        assert not LearnerProfile.objects.filter(user=learner).exists()
        assert learner_other_languages_get(learner=learner) == ("en",)

    @pytest.mark.parametrize("value", [["xx"], "es", [1]])
    def test_an_unsupported_language_creates_no_account(
        self, api_client: APIClient, value: Any
    ) -> None:
        response = self.register(api_client, other_languages=value)
        assert response.status_code == 400
        body = response.json()
        assert "other_languages" in body["errors"]
        assert body["detail"].startswith("other_languages")
        assert not get_user_model().objects.filter(username="ana").exists()


class TestServices:
    """The API, the pages and the admin save through these; the checks hold without them."""

    def test_learner_languages_set_refuses_and_keeps_what_was_stored(self, learner: Any) -> None:
        learner_languages_set(learner=learner, other_languages=["de"])
        with pytest.raises(LanguagesInvalid):
            learner_languages_set(learner=learner, other_languages=["de", "xx"])
        assert LearnerProfile.objects.get(user=learner).other_languages == ["de"]
        profile = learner_languages_set(learner=learner, other_languages=["EN", "en"])
        assert (profile.other_languages, LearnerProfile.objects.count()) == (["en"], 1)

    def test_learner_register_refuses_an_unsupported_language_before_creating(self) -> None:
        with pytest.raises(RegistrationRefused) as refused:
            learner_register(username="ana", password=PASSWORD, other_languages=["xx"])
        assert refused.value.field == "other_languages"
        assert not get_user_model().objects.filter(username="ana").exists()
