"""ASGI entry point: HTTP goes to Django, websockets to the Channels consumers."""

import gc
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

# The startup heap (~150,000 objects: Django, the URLconf, the apps) goes to the permanent
# generation, as in gunicorn's workers (deploy/gunicorn.conf.py): full collections under
# chat load stop re-walking it (collection was ~5% of daphne's Python time in
# bench/bench_chat.py, ~3% with this).
gc.collect()
gc.freeze()
