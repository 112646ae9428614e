"""Chat test fixtures: sockets through the real ASGI application and the real Redis channel
layer, authenticated with real sessions and JWTs."""

import asyncio
import contextlib
import gc
import json

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from chat import presence, services
from social.models import Friendship

ORIGIN = (b"origin", b"http://127.0.0.1")
TIMEOUT = 3


@pytest.fixture(scope="session", autouse=True)
def _fresh_channel_layer():
    """The layer's test database starts without stale `asgi:*` groups of earlier runs."""
    if settings.REDIS_URL:
        server = redis.Redis.from_url(settings.REDIS_URL)
        for key in server.scan_iter("asgi*"):
            server.delete(key)


@pytest.fixture(scope="session", autouse=True)
def _no_connections_left_in_pool_threads(django_db_setup):
    """Consumers run database work in the event loop's thread pool (chat.consumers.in_db_pool);
    those threads end with their loop, but their connections close only when collected, and
    an open one keeps the test database from being dropped at the end of the run."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _clean_live_state(settings):
    settings.WS_RESUME_GRACE = 0.3
    # Chat is not about the friendship graph: skip its Neo4j pushes (~0.4 s a friendship).
    settings.NEO4J_URI = ""
    # Each test runs in its own event loop; the layer keeps per-loop state, so use a new one.
    channel_layers.backends.clear()
    cache.clear()  # rate limits, typing throttles and presence start empty
    presence._store = None
    presence._servers.clear()
    if settings.CACHE_URL:
        server = redis.Redis.from_url(settings.CACHE_URL)
        for key in server.scan_iter("presence:*"):
            server.delete(key)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def roundtrip(event: dict) -> dict:
    """Events must be plain JSON: a model instance in one fails here, where it is made."""
    return json.loads(json.dumps(event))


class Sockets:
    """Opens sockets for a test and closes whatever is still open when it ends."""

    def __init__(self):
        self.open: list[WebsocketCommunicator] = []

    def _new(self, path: str, headers) -> WebsocketCommunicator:
        from bunnybook.asgi import application

        communicator = WebsocketCommunicator(application, path, headers=headers)
        self.open.append(communicator)
        return communicator

    async def api(self, user, *, go_live: bool = True) -> WebsocketCommunicator:
        """A `/ws/api/` socket authenticated by its first frame (no Origin, like a script)."""
        socket = self._new("/ws/api/", [])
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        await socket.send_json_to({"type": "auth", "token": str(AccessToken.for_user(user))})
        ready = await socket.receive_json_from(timeout=TIMEOUT)
        assert ready["type"] == "ready", ready
        socket.start_seq = ready["seq"]
        if go_live:  # a first frame ends the wait for a `resume`
            await socket.send_json_to({"type": "ping"})
            assert (await next_of(socket, "pong"))["type"] == "pong"
        return socket

    async def page(self, user, *, origin=ORIGIN) -> WebsocketCommunicator:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers = [(b"cookie", cookie)]
        if origin:
            headers.append(origin)
        socket = self._new("/ws/", headers)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        return socket

    def raw(self, path: str, headers=()) -> WebsocketCommunicator:
        """A socket not yet connected, for auth and origin checks."""
        return self._new(path, list(headers))

    async def close_all(self):
        for socket in self.open:
            # A socket the test left broken may fail to close; that is fine here.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await socket.disconnect(timeout=TIMEOUT)


@pytest.fixture
async def sockets():
    opened = Sockets()
    yield opened
    await opened.close_all()


async def next_of(socket, kind: str, *, timeout: float = TIMEOUT) -> dict:
    """The next JSON event of type `kind`, skipping others (e.g. presence news)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {kind} event within {timeout} s")
        event = await socket.receive_json_from(timeout=remaining)
        if event["type"] == kind:
            return event


async def events_of(socket, kind: str, *, wait: float = 0.4) -> list[dict]:
    """Every event of type `kind` that arrives within `wait` seconds. (Polls: a timed-out
    receive would cancel the application.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    found = []
    while loop.time() < deadline:
        if socket.output_queue.empty():
            await asyncio.sleep(0.01)
            continue
        event = await socket.receive_json_from(timeout=TIMEOUT)
        if event["type"] == kind:
            found.append(event)
    return found


# --- state built through the real services ------------------------------------------------


def befriend(first, second) -> None:
    """A friendship row, without the request/accept flow and its notifications: chat only
    needs the fact (tests about the flow itself use social.tests.factories.make_friends)."""
    user_a, user_b = Friendship.ordered(first.pk, second.pk)
    Friendship.objects.create(user_a_id=user_a, user_b_id=user_b)


@pytest.fixture
def friends(ann, bob):
    befriend(ann, bob)
    return ann, bob


@pytest.fixture
def chat(friends):
    """Ann and Bob, friends, with their conversation."""
    ann, bob = friends
    conversation, _ = services.start_conversation(user=ann, with_user=bob)
    return conversation
