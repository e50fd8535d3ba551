"""Who may do what: anonymous, learner A, learner B, staff, superuser × every endpoint.

Data-driven from the URL conf: every pattern outside the admin needs a row in ENDPOINTS (a new
endpoint without one fails `test_every_endpoint_has_a_row`; "<name> <METHOD>" rows check more
methods of the same URL); the admin is covered model by model from its registry. The socket:
anonymous is refused, B cannot resume A's session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from interaction.models import Attempt, Session, SessionEvent
from interaction.services import session_start
from telemetry.access import analysts_group_get

ROLES = ("anonymous", "learner_a", "learner_b", "analyst", "staff", "superuser")
LOGIN = 302  # a page that needs a login redirects to it


@dataclass(frozen=True)
class Row:
    method: str
    path: Callable[[dict[str, Any]], str]
    expected: dict[str, int]  # role → status
    data: Callable[[str], dict[str, Any]] | None = None  # role → body (JSON for /api/)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def only_a(*, anonymous: int, a: int, others: int) -> dict[str, int]:
    """A's own resource: B, the analyst, staff and the superuser are learners elsewhere (404,
    not 403)."""
    return {"anonymous": anonymous, "learner_a": a, **dict.fromkeys(ROLES[2:], others)}


def signed_in(*, anonymous: int, others: int) -> dict[str, int]:
    return {"anonymous": anonymous, **dict.fromkeys(ROLES[1:], others)}


def staff_only(*, anonymous: int, outsiders: int) -> dict[str, int]:
    return {
        "anonymous": anonymous,
        **dict.fromkeys(ROLES[1:4], outsiders),
        "staff": 200,
        "superuser": 200,
    }


def analysts(*, anonymous: int, learners: int, status: int = 200) -> dict[str, int]:
    """Staff and the `analysts` group; learners are refused."""
    return {
        "anonymous": anonymous,
        "learner_a": learners,
        "learner_b": learners,
        **dict.fromkeys(ROLES[3:], status),
    }


SESSION = "/api/sessions/{session}/"
ENDPOINTS: dict[str, Row] = {
    # --- API ---
    "auth-register": Row(
        "POST",
        lambda c: "/api/auth/register/",
        everyone(201),
        lambda role: {"username": f"new-{role}", "password": "a-long-passphrase"},
    ),
    "auth-token": Row(
        "POST",
        lambda c: "/api/auth/token/",
        everyone(400),  # public; wrong credentials for everyone
        lambda role: {"username": "nobody", "password": "wrong"},
    ),
    "me": Row("GET", lambda c: "/api/me/", signed_in(anonymous=401, others=200)),
    "me PATCH": Row(
        "PATCH",
        lambda c: "/api/me/",
        signed_in(anonymous=401, others=200),
        lambda role: {"other_languages": ["es"]},
    ),
    "scenario-list": Row("GET", lambda c: "/api/scenarios/", everyone(200)),
    "scenario-detail": Row("GET", lambda c: "/api/scenarios/cafe-test/", everyone(200)),
    "session-list": Row("GET", lambda c: "/api/sessions/", signed_in(anonymous=401, others=200)),
    "session-detail": Row(
        "GET", lambda c: SESSION.format(**c), only_a(anonymous=401, a=200, others=404)
    ),
    "attempt-create": Row(
        "POST",
        lambda c: SESSION.format(**c) + "attempts/",
        only_a(anonymous=401, a=200, others=404),
        lambda role: {"transcript": "Un café, s'il vous plaît"},
    ),
    "schema": Row("GET", lambda c: "/api/schema/", everyone(200)),
    # --- analytics (staff and analysts; pages redirect anonymous visitors to /login/) ---
    "analytics-report": Row(
        "GET", lambda c: "/analytics/", analysts(anonymous=LOGIN, learners=403)
    ),
    "analytics-difficulty": Row(
        "GET",
        lambda c: "/analytics/difficulty/",
        analysts(anonymous=LOGIN, learners=403, status=302),
    ),
    "analytics-attempts": Row(
        "GET", lambda c: "/analytics/attempts.csv", analysts(anonymous=LOGIN, learners=403)
    ),
    "analytics-sessions": Row(
        "GET",
        lambda c: "/analytics/scenarios/cafe-test/sessions/",
        analysts(anonymous=LOGIN, learners=403),
    ),
    "analytics-session": Row(
        "GET",
        lambda c: "/analytics/sessions/{session}/".format(**c),
        analysts(anonymous=LOGIN, learners=403),
    ),
    "api-analytics-scenarios": Row(
        "GET", lambda c: "/api/analytics/scenarios/", analysts(anonymous=401, learners=403)
    ),
    "api-analytics-turns": Row(
        "GET", lambda c: "/api/analytics/turns/", analysts(anonymous=401, learners=403)
    ),
    "api-analytics-flags": Row(
        "GET", lambda c: "/api/analytics/flagged-turns/", analysts(anonymous=401, learners=403)
    ),
    "api-analytics-answers": Row(
        "GET", lambda c: "/api/analytics/frequent-answers/", analysts(anonymous=401, learners=403)
    ),
    "analytics-scenario": Row(
        "GET", lambda c: "/analytics/scenarios/cafe-test/", analysts(anonymous=LOGIN, learners=403)
    ),
    # --- designers' tools (staff; adding an answer also needs the scenarios' change right) ---
    "turn-try": Row(
        "GET",
        lambda c: "/designer/turns/{turn}/try/".format(**c),
        staff_only(anonymous=LOGIN, outsiders=403),
    ),
    "analytics-answer-add": Row(
        "POST",
        lambda c: "/analytics/turns/{turn}/answers/".format(**c),
        {**staff_only(anonymous=LOGIN, outsiders=403), "staff": 403, "superuser": 302},
        lambda role: {"transcript": "Bonjour"},
    ),
    "api-analytics-session": Row(
        "GET",
        lambda c: "/api/analytics/sessions/{session}/".format(**c),
        analysts(anonymous=401, learners=403),
    ),
    # --- disputes: a learner's own attempts only ---
    "api-dispute-create": Row(
        "POST",
        lambda c: "/api/attempts/{attempt}/disputes/".format(**c),
        only_a(anonymous=401, a=201, others=404),
        lambda role: {"comment": "It was right"},
    ),
    "dispute-create-page": Row(
        "POST",
        lambda c: "/disputes/attempts/{attempt}/".format(**c),
        only_a(anonymous=LOGIN, a=302, others=404),
        lambda role: {"comment": "It was right"},
    ),
    # --- metrics: staff (or a scrape token) only ---
    "metrics": Row("GET", lambda c: "/metrics", staff_only(anonymous=401, outsiders=403)),
    # --- pages ---
    "scenario-list-page": Row("GET", lambda c: "/", everyone(200)),
    "signup": Row("GET", lambda c: "/signup/", signed_in(anonymous=200, others=302)),
    "login": Row("GET", lambda c: "/login/", signed_in(anonymous=200, others=302)),
    "logout": Row("POST", lambda c: "/logout/", everyone(302)),
    "settings-page": Row("GET", lambda c: "/settings/", signed_in(anonymous=LOGIN, others=200)),
    "settings-page POST": Row(
        "POST",
        lambda c: "/settings/",
        signed_in(anonymous=LOGIN, others=302),  # saved, back to the page
        lambda role: {"other_languages": ["es"]},
    ),
    "play-page": Row("GET", lambda c: "/play/cafe-test/", signed_in(anonymous=LOGIN, others=200)),
    "session-review-page": Row(
        "GET",
        lambda c: "/sessions/{session}/review/".format(**c),
        only_a(anonymous=LOGIN, a=200, others=404),
    ),
}


def url_patterns() -> Iterator[tuple[str, str | None, str]]:
    """(namespace, URL name or None, route) of every pattern in the URL conf."""

    def walk(
        patterns: list[Any], prefix: str, namespace: str
    ) -> Iterator[tuple[str, str | None, str]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                yield namespace, pattern.name, route

    yield from walk(get_resolver().url_patterns, "", "")


def test_every_endpoint_has_a_row() -> None:
    keys = {name or route for namespace, name, route in url_patterns() if namespace != "admin"}
    names = {row.split(" ")[0] for row in ENDPOINTS}
    assert keys - names == set(), "endpoints without a row in ENDPOINTS"
    assert names - keys == set(), "rows for endpoints that no longer exist"


def test_every_pattern_outside_the_admin_is_checked_by_name() -> None:
    unnamed = [route for ns, name, route in url_patterns() if ns != "admin" and not name]
    assert unnamed == []


@pytest.fixture
def world(db: None, scenario: Any) -> dict[str, Any]:
    users = get_user_model().objects
    people = {
        "learner_a": users.create_user(username="learner-a", password="pw-Parley-123"),
        "learner_b": users.create_user(username="learner-b", password="pw-Parley-123"),
        "staff": users.create_user(username="staff", password="pw-Parley-123", is_staff=True),
        "superuser": users.create_superuser(username="root", password="pw-Parley-123"),
    }
    people["analyst"] = users.create_user(username="analyst", password="pw-Parley-123")
    people["analyst"].groups.add(analysts_group_get())
    session = session_start(learner=people["learner_a"], scenario=scenario)
    wrong = client_for("learner_a", {"people": people}).post(
        f"/api/sessions/{session.pk}/attempts/",
        json.dumps({"transcript": "Bonjour"}),
        content_type="application/json",
    )
    assert wrong.json()["outcome"] == "incorrect_answer", wrong.content
    attempt = Attempt.objects.get(session=session)
    return {
        "people": people,
        "session": str(session.pk),
        "attempt": attempt.pk,
        "turn": attempt.turn_id,
    }


def client_for(role: str, world: dict[str, Any]) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["people"][role])
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_permission_matrix(name: str, role: str, world: dict[str, Any]) -> None:
    row = ENDPOINTS[name]
    path = row.path(world)
    client = client_for(role, world)
    body = row.data(role) if row.data else None
    if row.method == "GET":
        response = client.get(path)
    elif path.startswith("/api/"):
        response = client.generic(
            row.method, path, json.dumps(body or {}), content_type="application/json"
        )
    else:
        response = client.post(path, body or {})
    expected = row.expected[role]
    assert response.status_code == expected, (name, role, response.content[:300])
    if expected == LOGIN and row.method == "GET" and role == "anonymous":
        assert "login" in response["Location"]


def test_a_learner_lists_only_their_own_sessions(world: dict[str, Any]) -> None:
    ids = lambda role: {s["id"] for s in client_for(role, world).get("/api/sessions/").json()}  # noqa: E731
    assert world["session"] in ids("learner_a")
    for role in ("learner_b", "staff", "superuser"):
        assert world["session"] not in ids(role)


def admin_urls() -> list[tuple[str, str]]:
    urls = [("admin-index", reverse("admin:index"))]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(
            (
                f"{meta.app_label}.{meta.model_name}",
                reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
            )
        )
    return urls


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_is_for_staff_with_permissions(role: str, world: dict[str, Any]) -> None:
    client = client_for(role, world)
    for what, url in admin_urls():
        response = client.get(url)
        if role in {"anonymous", "learner_a", "learner_b", "analyst"}:
            assert response.status_code == 302, (what, role)
            assert response["Location"].startswith(reverse("admin:login")), (what, role)
        elif role == "staff":  # staff without model permissions: the index, nothing else
            assert response.status_code == (200 if what == "admin-index" else 403), (what, role)
        else:
            assert response.status_code == 200, (what, role)


# --- The socket --------------------------------------------------------------------------------

ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def _first_event(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=5))


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_anonymous_connections() -> None:
    from config.asgi import application

    communicator = WebsocketCommunicator(application, "/stream/interaction", headers=ORIGIN)
    connected, _ = await communicator.connect()
    if connected:
        event = await _first_event(communicator)
        assert (event["type"], event["code"]) == ("error", "unauthenticated")
        assert (await communicator.receive_output(timeout=2))["type"] == "websocket.close"


@pytest.mark.django_db(transaction=True)
async def test_learner_b_cannot_resume_learner_a_session(world_async: dict[str, Any]) -> None:
    from config.asgi import application

    session_id, token_b = world_async["session"], world_async["token_b"]
    before = await _event_count(session_id)
    communicator = WebsocketCommunicator(
        application, f"/stream/interaction?token={token_b}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "start", "session": session_id, "last_seq": 0})
    event = await _first_event(communicator)
    assert event["type"] == "error", event
    assert "score" not in event or event.get("session") != session_id
    await communicator.disconnect()
    assert await _event_count(session_id) == before  # nothing of A's was replayed or stored


@pytest.fixture
def world_async(world: dict[str, Any]) -> dict[str, Any]:
    token_b = Token.objects.create(user=world["people"]["learner_b"]).key
    return {**world, "token_b": token_b}


async def _event_count(session_id: str) -> int:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: SessionEvent.objects.filter(session=Session.objects.get(pk=session_id)).count()
    )()
