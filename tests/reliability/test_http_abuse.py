"""Abuse limits over HTTP: login lockout, sign-up and play throttles, the client's address.

Each limit is shown against a client that changes `X-Forwarded-For` on every request: with no
trusted proxy configured the header must not change who the server thinks is asking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from config.auth import client_ip
from interaction.models import Attempt

PASSWORD = "pw-Parley-123"  # tests/conftest.py make_learner


def spoofed(i: int) -> dict[str, Any]:
    return {"HTTP_X_FORWARDED_FOR": f"203.0.113.{i % 250}, 198.51.100.{i % 250}"}


def rates(**changed: str) -> Any:
    from django.conf import settings

    return override_settings(PARLEY_RATE_LIMITS={**settings.PARLEY_RATE_LIMITS, **changed})


def assert_rate_limited_json(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] in {"throttled", "locked_out"}


# --- The client's address ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "192.0.2.7"),
        (0, "203.0.113.1", "192.0.2.7"),  # no trusted proxy: the header is the client's claim
        (1, "203.0.113.1", "203.0.113.1"),
        (1, "6.6.6.6, 203.0.113.1", "203.0.113.1"),  # left of our proxy's entry: ignored
        (2, "6.6.6.6, 203.0.113.1, 10.0.0.2", "203.0.113.1"),
        (2, "203.0.113.1", "203.0.113.1"),  # fewer entries than proxies: the oldest one
        (1, None, "192.0.2.7"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_behind_configured_proxies(
    proxies: int, forwarded: str | None, expected: str
) -> None:
    extra: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7", **extra)
    with override_settings(PARLEY_TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected


# --- Login lockout (django-axes, stored in Postgres) -----------------------------------------


@pytest.mark.django_db
def test_api_token_login_locks_out_after_repeated_failures(
    api_client: APIClient, learner: Any
) -> None:
    for i in range(5):
        response = api_client.post(
            "/api/auth/token/",
            {"username": "learner", "password": f"wrong-{i}"},
            format="json",
            **spoofed(i),
        )
        assert response.status_code in {400, 429}
    # The right password no longer works from this address, whatever the header says.
    response = api_client.post(
        "/api/auth/token/",
        {"username": "learner", "password": PASSWORD},
        format="json",
        **spoofed(99),
    )
    assert_rate_limited_json(response)
    assert response.json()["code"] == "locked_out"
    assert int(response["Retry-After"]) >= 60
    # The lock is on this username from this address: another learner logs in.
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="other", password=PASSWORD)
    response = api_client.post(
        "/api/auth/token/", {"username": "other", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert "token" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["/login/", "/admin/login/"])
def test_login_forms_lock_out_after_repeated_failures(form: str, learner: Any) -> None:
    client = Client()
    for i in range(5):
        client.post(form, {"username": "learner", "password": f"wrong-{i}"}, **spoofed(i))
    response = client.post(form, {"username": "learner", "password": PASSWORD}, **spoofed(7))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 60
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_successful_login_before_the_limit_resets_the_count(learner: Any) -> None:
    client = Client()
    for i in range(4):
        client.post("/login/", {"username": "learner", "password": f"wrong-{i}"})
    assert client.post("/login/", {"username": "learner", "password": PASSWORD}).status_code == 302
    client.logout()
    for i in range(4):
        client.post("/login/", {"username": "learner", "password": f"wrong-{i}"})
    assert client.post("/login/", {"username": "learner", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_login_is_throttled_per_address_across_usernames(api_client: APIClient) -> None:
    with rates(login="3/minute"):
        for i in range(3):
            response = api_client.post(
                "/api/auth/token/",
                {"username": f"user{i}", "password": "guess"},
                format="json",
                **spoofed(i),
            )
            assert response.status_code == 400
        response = api_client.post(
            "/api/auth/token/",
            {"username": "user9", "password": "guess"},
            format="json",
            **spoofed(9),
        )
        assert_rate_limited_json(response)
        assert response.json()["code"] == "throttled"


# --- Sign-up --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_register_is_throttled_per_address_whatever_forwarded_for_says(
    api_client: APIClient,
) -> None:
    with rates(signup="3/hour"):
        for i in range(3):
            response = api_client.post(
                "/api/auth/register/",
                {"username": f"ana{i}", "password": "a-long-passphrase"},
                format="json",
                **spoofed(i),
            )
            assert response.status_code == 201, response.content
        response = api_client.post(
            "/api/auth/register/",
            {"username": "ana9", "password": "a-long-passphrase"},
            format="json",
            **spoofed(9),
        )
    assert_rate_limited_json(response)
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="ana9").exists()


@pytest.mark.django_db
def test_signup_form_is_throttled_with_a_readable_page() -> None:
    client = Client()
    with rates(signup="2/hour"):
        for i in range(2):
            response = client.post(
                "/signup/",
                {
                    "username": f"bo{i}",
                    "password1": "a-long-passphrase",
                    "password2": "a-long-passphrase",
                },
                **spoofed(i),
            )
            assert response.status_code == 302
            client.logout()
        response = client.post(
            "/signup/",
            {"username": "bo9", "password1": "a-long-passphrase", "password2": "a-long-passphrase"},
            **spoofed(9),
        )
        # Reading the form is never limited.
        assert client.get("/signup/").status_code == 200
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert b"Too many requests" in response.content
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="bo9").exists()


# --- Play: session starts and attempts, per learner -------------------------------------------


@pytest.fixture
def small_play_rates() -> Iterator[None]:
    with rates(session_start="2/minute", attempt="3/minute"):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("scenario", "small_play_rates")
def test_session_starts_are_throttled_per_learner(
    learner_client: APIClient, make_learner: Any
) -> None:
    for i in range(2):
        response = learner_client.post(
            "/api/sessions/", {"scenario": "cafe-test"}, format="json", **spoofed(i)
        )
        assert response.status_code == 201
    response = learner_client.post(
        "/api/sessions/", {"scenario": "cafe-test"}, format="json", **spoofed(9)
    )
    assert_rate_limited_json(response)
    # Reading is not a session start; another learner has a budget of their own.
    assert learner_client.get("/api/sessions/").status_code == 200
    other = APIClient()
    other.force_authenticate(make_learner("someone-else"))
    assert other.post("/api/sessions/", {"scenario": "cafe-test"}, format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.usefixtures("scenario", "small_play_rates")
def test_attempts_are_throttled_per_learner_and_a_refusal_records_nothing(
    learner_client: APIClient,
) -> None:
    session = learner_client.post("/api/sessions/", {"scenario": "cafe-test"}, format="json").json()
    url = f"/api/sessions/{session['id']}/attempts/"
    for i in range(3):
        response = learner_client.post(
            url, {"transcript": "Une bière"}, format="json", **spoofed(i)
        )
        assert response.status_code == 200, response.content
    before = Attempt.objects.count()
    response = learner_client.post(url, {"transcript": "Une bière"}, format="json", **spoofed(9))
    assert_rate_limited_json(response)
    assert Attempt.objects.count() == before
