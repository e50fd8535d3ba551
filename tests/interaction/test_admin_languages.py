"""The admin shows each learner's languages and edits them through the service."""

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

pytestmark = pytest.mark.django_db

PROFILES = "/admin/interaction/learnerprofile/"


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", password="pw-Parley-123")
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_each_learners_languages_by_name(
    admin_client: Client, make_learner: Any
) -> None:
    learner_languages_set(learner=make_learner("ana"), other_languages=["es", "en"])
    learner_languages_set(learner=make_learner("bo"), other_languages=[])
    page = admin_client.get(PROFILES).content.decode()
    assert "Spanish, English" in page
    assert "defaults" in page  # bo named none
    assert admin_client.get(PROFILES, {"q": "ana"}).content.decode().count("Spanish") == 1


def test_editing_saves_through_the_service(admin_client: Client, learner: Any) -> None:
    profile = learner_languages_set(learner=learner, other_languages=["de"])
    url = f"{PROFILES}{profile.pk}/change/"
    form = admin_client.get(url).content.decode()
    boxes = re.findall(r'<input type="checkbox" name="other_languages" value="(\w+)"[^>]*>', form)
    assert len(boxes) == len(LEARNER_LANGUAGES)
    assert re.findall(r'value="(\w+)" id="id_other_languages_\d+" checked', form) == ["de"]
    assert 'name="user"' not in form  # whose profile it is does not change

    response = admin_client.post(url, {"other_languages": ["it", "nl"]})

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert LearnerProfile.objects.get(pk=profile.pk).other_languages == ["it", "nl"]
    assert learner_other_languages_get(learner=learner) == ("it", "nl")


def test_the_services_limits_hold_in_the_admin(admin_client: Client, learner: Any) -> None:
    profile = learner_languages_set(learner=learner, other_languages=["de"])
    response = admin_client.post(
        f"{PROFILES}{profile.pk}/change/", {"other_languages": ["es", "en", "de", "it", "pt"]}
    )
    assert response.status_code == 200
    assert "Choose at most 4 languages." in response.content.decode()
    assert LearnerProfile.objects.get(pk=profile.pk).other_languages == ["de"]


def test_a_learner_without_a_profile_gets_one(admin_client: Client, learner: Any) -> None:
    response = admin_client.post(f"{PROFILES}add/", {"user": learner.pk, "other_languages": ["pt"]})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert LearnerProfile.objects.get(user=learner).other_languages == ["pt"]
    again = admin_client.post(f"{PROFILES}add/", {"user": learner.pk, "other_languages": ["es"]})
    assert again.status_code == 200  # one profile per learner
    assert LearnerProfile.objects.get(user=learner).other_languages == ["pt"]
