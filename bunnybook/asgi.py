"""ASGI entry point: HTTP goes to Django, websockets to the Channels consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bunnybook.settings")
# Load Django before importing anything that touches models.
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from bunnybook.guards import RefuseLargeBodies  # noqa: E402
from bunnybook.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {"http": RefuseLargeBodies(django_http), "websocket": websocket_application}
)
