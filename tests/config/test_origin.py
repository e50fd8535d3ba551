"""The socket's Origin check compares the scheme's host *and port* with the request's own."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application
from config.origin import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost:8000", "localhost:8000", True),
        ("http://127.0.0.1", "127.0.0.1", True),
        ("https://localhost", "localhost", True),  # behind a TLS proxy: the default port
        ("http://[::1]:8000", "[::1]:8000", True),
        # another program on the same host: the port differs (the check ignored it)
        ("http://127.0.0.1:3000", "127.0.0.1:8000", False),
        ("http://localhost:8001", "localhost:8000", False),
        ("http://localhost", "localhost:8000", False),
        ("https://localhost", "localhost:80", False),
        ("http://evil.example", "evil.example", False),  # not an allowed host
        ("http://evil.example:8000", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, True),  # no Host (in-process): the host name decides
        ("http://127.0.0.1:99999", "127.0.0.1:8000", False),  # not a port
        ("null", "127.0.0.1:8000", False),
        (None, "127.0.0.1:8000", False),
    ],
)
def test_origin_allowed(origin: str | None, host: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, host) is allowed


def test_trusted_origins_pass_from_elsewhere(settings) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://play.parley.example"]
    assert origin_allowed("https://play.parley.example", "127.0.0.1:8000")
    assert not origin_allowed("https://play.parley.example:8443", "127.0.0.1:8000")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "connects"), [(b"http://localhost:8000", True), (b"http://localhost:3000", False)]
)
async def test_a_page_on_another_port_cannot_open_the_socket(learner, origin, connects) -> None:
    from asgiref.sync import sync_to_async

    token = (await sync_to_async(Token.objects.create)(user=learner)).key
    communicator = WebsocketCommunicator(
        application,
        f"/stream/interaction?token={token}",
        headers=[(b"origin", origin), (b"host", b"localhost:8000")],
    )
    connected, _ = await communicator.connect()
    assert connected is connects
    await communicator.disconnect()
