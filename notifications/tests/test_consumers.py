"""Notifications live, through the real sockets and the Redis channel layer: every tab of
the recipient hears of it at once, as HTML on `/ws/` and JSON with `seq` on `/ws/api/`,
and a client that was away catches up with `resume`."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from bunnybook.routing import websocket_application
from conftest import make_bunny
from social import services

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
WAIT = 1.0  # the bar: within a second


@pytest.fixture(autouse=True)
def _close_worker_connections(django_db_blocker):
    """asgiref's database thread keeps its own connection, which pytest-django never
    closes (django/channels#2118): close it after each test."""
    yield

    def close():
        with django_db_blocker.unblock():
            async_to_sync(sync_to_async(connections.close_all))()

    thread = threading.Thread(target=close)
    thread.start()
    thread.join()


@database_sync_to_async
def bunny(name: str):
    return make_bunny(name)


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def page_socket(user) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        websocket_application, "/ws/", headers=[ORIGIN, (b"cookie", await session_cookie(user))]
    )
    connected, _ = await socket.connect()
    assert connected
    await socket.send_to(text_data=json.dumps({"type": "ping"}))  # go live without resuming
    return socket


async def api_socket(user, *, resume_after: int | None = None) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(websocket_application, "/ws/api/")
    connected, _ = await socket.connect()
    assert connected
    token = await database_sync_to_async(lambda: str(RefreshToken.for_user(user).access_token))()
    await socket.send_json_to({"type": "auth", "token": token})
    ready = await socket.receive_json_from(timeout=WAIT)
    assert ready["type"] == "ready"
    if resume_after is None:
        await socket.send_json_to({"type": "ping"})
    else:
        await socket.send_json_to({"type": "resume", "after": resume_after})
    return socket


async def next_json(socket, kind: str, timeout: float = WAIT) -> dict:
    """The next frame of type `kind` (presence and pongs may come first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = await socket.receive_json_from(timeout=max(left, 0.01))
        if frame["type"] == kind:
            return frame


async def next_html(socket, needle: str, timeout: float = WAIT) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        html = await socket.receive_from(timeout=max(left, 0.01))
        if needle in html:
            return html


@database_sync_to_async
def public_post(author):
    return services.create_post(author=author, body="Clover season", visibility="public")


@database_sync_to_async
def like(post, user):
    return services.like_post(post=post, user=user)


@database_sync_to_async
def unlike(post, user):
    return services.unlike_post(post=post, user=user)


async def test_every_tab_of_the_recipient_hears_of_it_within_a_second():
    ann, bob = await bunny("ann"), await bunny("bob")
    post = await public_post(ann)
    tabs = [await page_socket(ann), await page_socket(ann)]
    client = await api_socket(ann)
    try:
        await like(post, bob)

        for tab in tabs:
            html = await next_html(tab, 'id="notification-badge"')
            assert 'hx-swap-oob="true">1<span' in html
            assert "Bob liked your post" in html
            assert 'hx-swap-oob="afterbegin:#notification-list"' in html
            assert 'id="live-seq"' in html
        event = await next_json(client, "notification")
        assert event["seq"] >= 1
        assert event["unread_count"] == 1
        assert event["notification"]["type"] == "post_liked"
        assert event["notification"]["actor"]["username"] == "bob"
        assert event["notification"]["text"] == "Bob liked your post"
    finally:
        for socket in [*tabs, client]:
            await socket.disconnect()


async def test_a_growing_group_and_an_emptied_one_reach_the_socket_in_order():
    ann, bob, cid = await bunny("ann"), await bunny("bob"), await bunny("cid")
    post = await public_post(ann)
    client = await api_socket(ann)
    try:
        await like(post, bob)
        await like(post, cid)
        await unlike(post, cid)
        await unlike(post, bob)

        first = await next_json(client, "notification")
        second = await next_json(client, "notification")
        removed = await next_json(client, "notification.removed")
        assert second["seq"] > first["seq"]
        assert second["notification"]["id"] == first["notification"]["id"]
        assert second["notification"]["text"] == "Cid and Bob liked your post"
        assert removed == {
            "type": "notification.removed",
            "id": first["notification"]["id"],
            "unread_count": 0,
            "seq": removed["seq"],
        }
        assert removed["seq"] > second["seq"]
    finally:
        await client.disconnect()


async def test_the_bunny_who_acted_hears_nothing():
    ann, bob = await bunny("ann"), await bunny("bob")
    post = await public_post(ann)
    client = await api_socket(bob)
    try:
        await like(post, bob)

        frames = []
        while not await client.receive_nothing(timeout=0.5):
            frames.append(await client.receive_json_from())
        assert "notification" not in {frame["type"] for frame in frames}
    finally:
        await client.disconnect()


async def test_a_reconnecting_client_catches_up_on_missed_notifications():
    ann, bob, cid = await bunny("ann"), await bunny("bob"), await bunny("cid")
    post = await public_post(ann)
    client = await api_socket(ann)
    await like(post, bob)
    seen = await next_json(client, "notification")
    await client.disconnect()

    # Away: two notifications happen.
    await like(post, cid)
    await database_sync_to_async(services.send_friend_request)(sender=cid, to=ann)

    client = await api_socket(ann, resume_after=seen["seq"])
    try:
        missed = [await next_json(client, "notification"), await next_json(client, "notification")]
        assert [event["notification"]["type"] for event in missed] == [
            "post_liked",
            "friend_request_received",
        ]
        assert missed[0]["notification"]["actor_count"] == 2
        assert missed[0]["seq"] > seen["seq"]
        assert missed[1]["seq"] > missed[0]["seq"]
        assert missed[1]["unread_count"] == 2

        await like(post, await bunny("dan"))  # and then live again
        live = await next_json(client, "notification")
        assert live["seq"] > missed[1]["seq"]
    finally:
        await client.disconnect()
