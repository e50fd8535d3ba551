"""schemathesis against /api/schema/ on a real Daphne: no server error, every status documented.

Bounded: a few dozen generated requests per operation. The server is Parley's entry point with
the test database and no ASR server (a valid audio upload is then a documented 503).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from django.conf import settings as django_settings

    port = free_port()
    process = ServerProcess(
        daphne_command(port),
        env=app_env(
            database_name=django_settings.DATABASES["default"]["NAME"],
            asr_servers="ws://127.0.0.1:9",
            ASR_CONNECT_TIMEOUT_S="1",
        ),
        log_path=tmp_path_factory.mktemp("daphne-fuzz") / "daphne.log",
    )
    process.start(lambda: port_open(port), timeout=60, what="Daphne")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def served_schema() -> dict[str, Any]:
    """The document /api/schema/ serves, built by the same generator in this process.

    (schemathesis's lazy fixture loader does not run under pytest 9, so the cases are generated
    from this copy; test_the_live_schema_is_the_one_fuzzed checks it matches the server's.)
    """
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


@pytest.fixture
def token(learner: Any, scenario: Any) -> str:
    return Token.objects.get_or_create(user=learner)[0].key


SCHEMA = served_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)


def test_the_live_schema_is_the_one_fuzzed(fuzz_server: str) -> None:
    response = requests.get(f"{fuzz_server}/api/schema/?format=json", timeout=30)
    assert response.status_code == 200
    assert response.json() == SCHEMA


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_every_generated_request_as_documented(
    case: Any, token: str, fuzz_server: str
) -> None:
    case.call_and_validate(
        base_url=fuzz_server,
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, status_code_conformance],
        timeout=30,
    )
