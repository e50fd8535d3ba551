"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.auth import TokenAuthMiddleware  # noqa: E402
from config.body_limit import BodySizeLimit  # noqa: E402
from config.origin import SameOriginValidator  # noqa: E402
from config.shutdown import GracefulShutdown  # noqa: E402
from interaction.ws.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Daphne serves no files of its own; the learner pages' few small static files come
        # from Django's finders (a CDN or static file server may stand in front instead).
        # The size limit also holds under servers that stream bodies (config.body_limit).
        "http": BodySizeLimit(ASGIStaticFilesHandler(django_asgi_app)),
        # SIGTERM closes every socket (1001, or 4503 where the server refuses 1001) after its
        # consumer cleaned up (shutdown.py);
        # the Origin must be this site's, port included (origin.py).
        "websocket": GracefulShutdown(
            SameOriginValidator(
                AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
            )
        ),
    }
)
