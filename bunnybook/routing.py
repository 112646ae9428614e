"""Websocket routes: `/ws/` for pages (session auth, browser origins only) and `/ws/api/`
for API clients (session or a token in the first frame; no Origin is fine, a foreign one
is not)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import (
    AllowedHostsOriginValidator,
    OriginValidator,
    WebsocketDenier,
)
from django.conf import settings
from django.urls import path, re_path

from chat.consumers import ApiConsumer, PageConsumer


class NoneOrAllowedOriginValidator(OriginValidator):
    """Like AllowedHostsOriginValidator, but a client that sends no Origin at all (a
    non-browser API client) may connect: the API socket never trusts a cookie without a
    matching Origin, and a browser always sends one."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


def api_origin_validator(application):
    return NoneOrAllowedOriginValidator(application, settings.ALLOWED_HOSTS)


websocket_application = URLRouter(
    [
        path(
            "ws/",
            AllowedHostsOriginValidator(AuthMiddlewareStack(PageConsumer.as_asgi())),
            name="ws-page",
        ),
        path(
            "ws/api/",
            api_origin_validator(AuthMiddlewareStack(ApiConsumer.as_asgi())),
            name="ws-api",
        ),
        # Any other path is refused (403) rather than crashing the router (a 500).
        re_path(r"", WebsocketDenier.as_asgi(), name="ws-unknown"),
    ]
)
