"""Errors over HTTP: one JSON shape under /api/ whatever the settings; the run command's settings.

A 500 must never carry a traceback or a setting (the technical page shows REDIS_URL,
ASR_SERVERS, the database host); Django's own 400 and 404 answers under /api/ come as JSON too.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("hunter2", "Traceback", "REDIS_URL", "ASR_SERVERS", "DATABASES", "SECRET_KEY")


def assert_json_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"detail", "code"}
    assert isinstance(body["detail"], str)
    if code:
        assert body["code"] == code
    text = response.content.decode()
    assert not any(secret in text for secret in SECRETS), text
    return body


@pytest.mark.urls("tests.reliability.error_urls")
@pytest.mark.parametrize("debug", [False, True])
def test_an_api_500_is_json_and_leaks_nothing(debug: bool) -> None:
    client = Client(raise_request_exception=False)
    with override_settings(DEBUG=debug):
        response = client.get("/api/broken/")
    assert_json_error(response, 500, "server_error")


@pytest.mark.urls("tests.reliability.error_urls")
def test_a_page_500_stays_html_and_leaks_nothing() -> None:
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert not any(secret.encode() in response.content for secret in SECRETS)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_url_is_a_json_404_and_a_page_stays_html(debug: bool) -> None:
    client = Client()
    with override_settings(DEBUG=debug):
        assert_json_error(client.get("/api/no-such-thing/"), 404, "not_found")
        page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_json_body_over_the_memory_limit_is_a_json_400(debug: bool) -> None:
    from django.conf import settings

    big = json.dumps(
        {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "password": "p"}
    )
    with override_settings(DEBUG=debug):
        response = Client().post("/api/auth/register/", big, content_type="application/json")
    assert_json_error(response, 400, "request_too_large")


@pytest.mark.django_db
def test_a_wrong_method_keeps_its_allow_header_in_the_json_shape(learner_client: Any) -> None:
    response = learner_client.delete("/api/scenarios/")
    assert_json_error(response, 405)
    assert "GET" in response["Allow"]


PRINT_SETTINGS = (
    "import json; from django.conf import settings; print(json.dumps({"
    "'module': settings.SETTINGS_MODULE, 'debug': settings.DEBUG, 'key': settings.SECRET_KEY}))"
)


def _settings_of(entry: str, env: dict[str, str]) -> dict[str, Any]:
    """The settings a process started through `entry` gets from its defaults."""
    command = {
        "manage.py": [sys.executable, "manage.py", "shell", "-c", PRINT_SETTINGS],
        "asgi": [sys.executable, "-c", f"import config.asgi; {PRINT_SETTINGS}"],
    }[entry]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("entry", ["manage.py", "asgi"])
def test_the_run_command_has_debug_off_and_a_generated_key_in_var(
    entry: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "var" / "secret_key"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
    }
    env["SECRET_KEY_FILE"] = str(key_file)
    first = _settings_of(entry, env)
    assert first["module"] == "config.settings.production"
    assert first["debug"] is False
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first["key"]) >= 50
    assert _settings_of(entry, env)["key"] == first["key"]  # kept, not regenerated
    # Developer settings only when asked for.
    local = _settings_of(entry, {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"})
    assert local["debug"] is True


def test_run_sh_starts_parley_daphne_with_the_default_settings() -> None:
    script = (REPO / "scripts" / "run.sh").read_text()
    assert "-m config.server" in script
    assert "DJANGO_SETTINGS_MODULE" not in script
    assert "settings.local" not in script


def test_the_secret_key_file_is_ignored_by_git() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", "var/secret_key"], cwd=REPO, capture_output=True, timeout=30
    )
    assert done.returncode == 0
