"""WebSocket authentication by API token (`?token=<key>`), beside Django's session cookie."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from interaction.selectors import learner_for_token_get

_user_for_token = database_sync_to_async(learner_for_token_get)


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?token=`; without one, leaves the session's user in place."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            scope = {**scope, "user": await _user_for_token(key=keys[0]) or AnonymousUser()}
        return await super().__call__(scope, receive, send)
