"""Upload size against a real Daphne (Parley's entry point, config.server).

Daphne buffers a whole request body before the application sees it, so the limit must act at
the server: a body declared too large is answered 413 from its headers, before any of it is
sent, and a chunked one is cut off when it passes the limit. The server's memory must not grow
with what a client tries to send.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open

MIB = 1024 * 1024
DECLARED = 200 * MIB
HEADERS_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, ServerProcess]]:
    """Parley's Daphne on a free port (no ASR: nothing here gets as far as recognition)."""
    from django.conf import settings

    port = free_port()
    process = ServerProcess(
        daphne_command(port),
        env=app_env(
            database_name=settings.DATABASES["default"]["NAME"], asr_servers="ws://127.0.0.1:9"
        ),
        log_path=tmp_path_factory.mktemp("daphne-upload") / "daphne.log",
    )
    process.start(lambda: port_open(port), timeout=60, what="Daphne")
    try:
        yield "127.0.0.1", port, process
    finally:
        process.stop()


def rss_bytes(process: ServerProcess) -> int:
    assert process.process is not None
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_response(sock: socket.socket, timeout: float = HEADERS_TIMEOUT_S) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    return data


def upload_head(
    path: str, *, length: int | None, token: str | None = None, expect: bool = True
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=xyz",
    ]
    if expect:
        lines.append("Expect: 100-continue")  # as curl sends for large uploads
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    if token:
        lines.append(f"Authorization: Token {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


ATTEMPTS = "/api/sessions/00000000-0000-0000-0000-000000000001/attempts/"


@pytest.mark.parametrize("token", [None, "0123456789abcdef0123456789abcdef01234567"])
def test_a_200_mib_upload_is_refused_from_its_headers(
    server: tuple[str, int, ServerProcess], token: str | None
) -> None:
    """Anonymous or not: 413 with the JSON error shape while the client has sent headers only."""
    host, port, _ = server
    with socket.create_connection((host, port)) as sock:
        sock.sendall(upload_head(ATTEMPTS, length=DECLARED, token=token))
        started = time.monotonic()
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert time.monotonic() - started < HEADERS_TIMEOUT_S
    assert b"100 Continue" not in response
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert b'"code": "request_too_large"' in body


def test_the_server_does_not_buffer_what_a_refused_client_keeps_sending(
    server: tuple[str, int, ServerProcess],
) -> None:
    host, port, process = server
    before = rss_bytes(process)
    sent = 0
    with socket.create_connection((host, port)) as sock:
        sock.sendall(upload_head(ATTEMPTS, length=DECLARED))
        block = b"\0" * MIB
        try:
            while sent < DECLARED:
                sock.sendall(block)
                sent += len(block)
        except OSError:
            pass  # the server closed the connection
        read_response(sock, timeout=2)
    grown = rss_bytes(process) - before
    assert sent < DECLARED / 4, f"the server kept reading: {sent / MIB:.0f} MiB accepted"
    assert grown < 32 * MIB, f"Daphne grew by {grown / MIB:.0f} MiB"


@pytest.mark.parametrize("expect", [True, False])
def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(
    server: tuple[str, int, ServerProcess], expect: bool
) -> None:
    from django.conf import settings

    host, port, process = server
    before = rss_bytes(process)
    response = b""
    sent = 0
    with socket.create_connection((host, port)) as sock:
        sock.sendall(upload_head(ATTEMPTS, length=None, expect=expect))
        chunk = b"%x\r\n" % MIB + b"\0" * MIB + b"\r\n"
        try:
            while sent < 64 * MIB and b" 413 " not in response:
                sock.sendall(chunk)
                sent += MIB
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable:
                    response += sock.recv(65536)
        except OSError:
            pass
        response += read_response(sock, timeout=2)
    response = response.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert sent <= settings.PARLEY_MAX_REQUEST_BYTES + 8 * MIB
    assert rss_bytes(process) - before < 32 * MIB


def test_a_body_within_the_limit_reaches_the_application(
    server: tuple[str, int, ServerProcess],
) -> None:
    host, port, _ = server
    response = requests.post(
        f"http://{host}:{port}{ATTEMPTS}",
        files={"audio": ("a.wav", b"\0" * MIB, "audio/wav")},
        timeout=30,
    )
    # Past the server's limit check: Django answers (anonymous → 401, in the JSON shape).
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- The ASGI guard, for servers that stream bodies to the application ------------------------


async def _call(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Any]:
    sent: list[Any] = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": ATTEMPTS, "headers": headers}
    await app(scope, receive, send)
    return [read, *sent]


async def test_the_asgi_guard_refuses_from_content_length_without_reading() -> None:
    from config.asgi import application

    read, start, body = await _call(
        application, [(b"content-length", str(DECLARED).encode())], [b"x"]
    )
    assert read == 0
    assert start["status"] == 413
    assert b"request_too_large" in body["body"]


async def test_the_asgi_guard_cuts_a_streamed_body_off() -> None:
    from django.conf import settings

    from config.body_limit import BodySizeLimit

    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (message := await receive())["type"] == "http.request":
            seen.append(len(message["body"]))
            if not message.get("more_body"):
                break

    chunks = [b"\0" * MIB] * (settings.PARLEY_MAX_REQUEST_BYTES // MIB + 3)
    _, start, body = await _call(BodySizeLimit(app), [], chunks)
    assert start["status"] == 413
    assert b"request_too_large" in body["body"]
    assert sum(seen) <= settings.PARLEY_MAX_REQUEST_BYTES
