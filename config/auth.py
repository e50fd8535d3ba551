"""Who is asking, and how often: the client's address, login lockout, rate limits.

- `client_ip` is the one answer to "which address is this request from": `X-Forwarded-For` is
  read only behind `PARLEY_TRUSTED_PROXY_COUNT` trusted proxies (0 → the socket's address), so
  a client cannot pick its own identity by sending the header. Throttles and django-axes use it.
- Login lockout is django-axes (failures stored in Postgres); `TokenLoginApi` applies it to
  the API token endpoint, `lockout_response` answers a locked-out form or API call.
- Rate limits are DRF throttles on the Redis-backed cache; the rates live in
  `settings.PARLEY_RATE_LIMITS` (read on each request, so a test can change them).
- WebSocket authentication by API token (`?token=<key>`), beside Django's session cookie.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from interaction.selectors import learner_for_token_get

SOCKET_TOKEN_TTL_S = 30.0
"""How long a looked-up token stands for its learner when more sockets open with it, in s.

A socket keeps the learner it opened with for its whole life (as it always has); the cache
only spares the lookup when the same learner opens sockets again soon (reconnects, resumes,
a second tab). A token deleted (or a learner deactivated) within this time still opens
sockets in a process that has it cached, for at most this long."""
SOCKET_TOKEN_CACHE_SIZE = 10_000
"""Most tokens remembered per process (the oldest are forgotten first)."""

# One read with no transaction: it need not wait in the thread-sensitive queue behind other
# sockets' database work (a handshake waiting there past Daphne's connect timeout is dropped).
_user_for_token = database_sync_to_async(learner_for_token_get, thread_sensitive=False)


class TokenCache:
    """Token key → learner (or None: no such active learner), for `ttl_s` seconds."""

    def __init__(
        self, *, ttl_s: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s, self.size, self.clock = ttl_s, size, clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, learner or None) when known and fresh, else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self.clock():
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, key: str, user: Any) -> None:
        self._entries[key] = (self.clock() + self.ttl_s, user)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


socket_tokens = TokenCache(ttl_s=SOCKET_TOKEN_TTL_S, size=SOCKET_TOKEN_CACHE_SIZE)


async def socket_learner_for_token(key: str) -> Any:
    """The active learner of an API token for a new socket, or None; cached briefly."""
    known, user = socket_tokens.get(key)
    if not known:
        user = await _user_for_token(key=key)
        socket_tokens.put(key, user)
    return user


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address: REMOTE_ADDR, or the one the outermost trusted proxy saw.

    With N = PARLEY_TRUSTED_PROXY_COUNT proxies in front, each appends the address it received
    from to `X-Forwarded-For`; the N-th entry from the right was written by our outermost proxy,
    and anything left of it is the client's own (untrusted) claim.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.PARLEY_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


# --- Rate limits ------------------------------------------------------------------------------


class ParleyRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is `settings.PARLEY_RATE_LIMITS[scope]`, applied to `methods`.

    `per` = "user" keys on the authenticated learner (anonymous requests on the address),
    "ip" always on `client_ip`.
    """

    per = "user"
    methods: frozenset[str] = frozenset({"POST"})

    def __init__(self) -> None:
        # Read the rate per request (not at import, as DRF's THROTTLE_RATES is).
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str:
        return settings.PARLEY_RATE_LIMITS[str(self.scope)]

    def get_ident(self, request: Request) -> str:
        return client_ip(request)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.method not in self.methods:
            return None
        if self.per == "user" and request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginThrottle(ParleyRateThrottle):
    scope = "login"
    per = "ip"


class SignupThrottle(ParleyRateThrottle):
    scope = "signup"
    per = "ip"


class SessionStartThrottle(ParleyRateThrottle):
    scope = "session_start"


class AttemptThrottle(ParleyRateThrottle):
    scope = "attempt"


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def form_throttled(*throttles: type[ParleyRateThrottle]) -> Callable[..., Any]:
    """Rate-limit a form view's POSTs with DRF throttles; a refusal is a readable 429 page."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            drf_request = Request(request)
            for throttle_class in throttles:
                throttle = throttle_class()
                if not throttle.allow_request(drf_request, None):  # type: ignore[arg-type]
                    return rate_limited_page(request, throttle.wait() or 60)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def rate_limited_page(request: HttpRequest, wait_s: float) -> HttpResponse:
    retry = retry_after_header(wait_s)
    response = render(
        request,
        "registration/rate_limited.html",
        {"retry_after_s": int(retry), "retry_after_min": math.ceil(int(retry) / 60)},
        status=429,
    )
    response["Retry-After"] = retry
    return response


# --- Login lockout (django-axes) ---------------------------------------------------------------


def _cool_off_s(request: HttpRequest | Request) -> float:
    cool_off = get_cool_off(request)
    return cool_off.total_seconds() if isinstance(cool_off, timedelta) else 3600.0


def lockout_response(request: HttpRequest, *_: Any) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After; JSON under /api/, a page for the forms."""
    retry = retry_after_header(_cool_off_s(request))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": LOCKED_OUT_MESSAGE, "code": "locked_out"}, status=429
        )
    else:
        response = render(
            request,
            "registration/rate_limited.html",
            {
                "locked_out": True,
                "retry_after_s": int(retry),
                "retry_after_min": math.ceil(int(retry) / 60),
            },
            status=429,
        )
    response["Retry-After"] = retry
    return response


LOCKED_OUT_MESSAGE = "Too many failed logins for this account from your address; try again later."


class LockedOut(exceptions.Throttled):
    default_detail = LOCKED_OUT_MESSAGE
    default_code = "locked_out"


class TokenLoginApi(ObtainAuthToken):
    """POST username + password → {"token"}; locked out (429) after repeated failures."""

    throttle_classes = [LoginThrottle]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        credentials = {"username": username if isinstance(username, str) else None}
        if not AxesProxyHandler.is_allowed(request, credentials):
            raise LockedOut(wait=_cool_off_s(request))
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            # axes marks the request when this failure was the one that locked the account.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=_cool_off_s(request)) from None
            raise


# --- WebSocket ---------------------------------------------------------------------------------


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?token=`; without one, leaves the session's user in place."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            user = await socket_learner_for_token(keys[0])
            scope = {**scope, "user": user or AnonymousUser()}
        return await super().__call__(scope, receive, send)
