"""The socket's Origin check: the page that opens it must come from this very site, port too.

Channels' `AllowedHostsOriginValidator` compares the Origin's host name with ALLOWED_HOSTS
and ignores its port, so a page served by another program on the same host (say
`http://localhost:3000`) could open the learner's socket with the learner's cookie. Here an
Origin passes when its host name is allowed *and* its scheme-qualified host and port are
the request's own (the `Host` header's; a missing port is the Origin scheme's default), or
it is listed in CSRF_TRUSTED_ORIGINS (a front end on another origin, as Django's CSRF check
allows). A handshake without an Origin is refused, as Channels' validator refuses it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Does a handshake with this Origin and Host header come from this site?"""
    if origin is None:
        return False
    trusted = {value.rstrip("/").lower() for value in settings.CSRF_TRUSTED_ORIGINS}
    if origin.rstrip("/").lower() in trusted:
        return True
    try:
        parsed = urlsplit(origin)
        origin_port = parsed.port or DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:
        return False
    if not parsed.hostname or origin_port is None:
        return False
    if not validate_host(_hostname(parsed), settings.ALLOWED_HOSTS):
        return False
    if host is None:
        return True  # no Host header (an in-process test client): the host name decides
    host_name, host_port = split_domain_port(host.lower())
    if not host_name:
        return False
    port = int(host_port) if host_port.isdigit() else DEFAULT_PORTS[parsed.scheme]
    return (_hostname(parsed), origin_port) == (host_name, port)


def _hostname(parsed: SplitResult) -> str:
    name = parsed.hostname or ""
    return f"[{name}]" if ":" in name else name  # IPv6, as Host headers spell it


class SameOriginValidator:
    """ASGI middleware: refuse a WebSocket handshake whose Origin is not this site's."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        origin, host = headers.get(b"origin"), headers.get(b"host")
        if origin_allowed(
            origin.decode("latin1") if origin is not None else None,
            host.decode("latin1") if host is not None else None,
        ):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
