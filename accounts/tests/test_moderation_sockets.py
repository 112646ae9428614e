"""A ban closes the bunny's open sockets at once, and she cannot open new ones."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from accounts import moderation
from chat.tests.conftest import ORIGIN, TIMEOUT, Sockets, session_cookie
from conftest import make_bunny

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _close_worker_connections(django_db_blocker):
    """asgiref's database thread keeps its own connection, which pytest-django never
    closes: close it after each test, from a helper thread, so the test database can go."""
    yield

    def close():
        asyncio.run(sync_to_async(connections.close_all)())

    with django_db_blocker.unblock():
        helper = threading.Thread(target=close)
        helper.start()
        helper.join()


@pytest.fixture
async def sockets():
    opened = Sockets()
    yield opened
    await opened.close_all()


async def closed_with(socket) -> int:
    """The close code of the socket's next close, skipping events sent before it."""
    while True:
        message = await socket.receive_output(timeout=TIMEOUT)
        if message["type"] == "websocket.close":
            return message.get("code")


@database_sync_to_async
def bunnies():
    return make_bunny("ann"), make_bunny("bob"), make_bunny("mod", is_staff=True)


@database_sync_to_async
def ban(bunny, moderator):
    moderation.ban_bunny(bunny=bunny, moderator=moderator, reason="Spam")


async def test_a_ban_closes_every_open_socket_of_the_bunny(sockets):
    ann, bob, mod = await bunnies()
    page = await sockets.page(ann)
    api = await sockets.api(ann)
    bobs = await sockets.api(bob)

    await ban(ann, mod)

    assert await closed_with(page) == 4003
    assert await closed_with(api) == 4003
    await bobs.send_json_to({"type": "ping"})  # Bob's socket lives on
    while (await bobs.receive_json_from(timeout=TIMEOUT))["type"] != "pong":
        pass


async def test_a_banned_bunny_cannot_open_a_page_socket_with_her_old_session(sockets):
    ann, _, mod = await bunnies()
    cookie = await database_sync_to_async(session_cookie)(ann)

    await ban(ann, mod)

    page = sockets._new("/ws/", [(b"cookie", cookie), ORIGIN])
    connected, _ = await page.connect(timeout=TIMEOUT)
    assert not connected or await closed_with(page) == 4001


async def test_a_banned_bunny_cannot_open_an_api_socket_with_her_unexpired_token(sockets):
    ann, _, mod = await bunnies()
    token = str(AccessToken.for_user(ann))

    await ban(ann, mod)

    api = sockets._new("/ws/api/", [])
    connected, _ = await api.connect(timeout=TIMEOUT)
    assert connected
    await api.send_json_to({"type": "auth", "token": token})
    assert await closed_with(api) == 4001
