"""Oversized bodies are refused with 413 before anything reads them, on pages, the API and
the ASGI server path; oversized socket frames get an error and the socket stays open; a NUL
byte anywhere in a URL or a cursor is a 400."""

import base64
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator

from bunnybook.asgi import application
from bunnybook.tests.authz.test_sockets import WAIT, api_socket, live_state  # noqa: F401
from bunnybook.tests.authz.world import build_world
from chat.models import Message
from social.models import Post

LIMIT = 256 * 1024


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.REQUEST_BODY_MAX_BYTES = LIMIT


def _json_body(size: int) -> bytes:
    return json.dumps({"body": "x" * size}).encode()


async def test_the_server_path_refuses_a_declared_large_body_without_reading_it():
    body = _json_body(LIMIT)
    communicator = HttpCommunicator(
        application,
        "POST",
        "/api/posts/",
        body=body,
        headers=[(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
    )
    response = await communicator.get_response(timeout=WAIT)
    assert response["status"] == 413
    assert json.loads(response["body"])["detail"] == "The request body is too large."
    # The body is still waiting, unread, where the server handed it over.
    assert not communicator.input_queue.empty()


async def test_the_server_path_cuts_off_an_undeclared_large_body_with_a_page():
    communicator = HttpCommunicator(application, "POST", "/posts/new/", body=b"x" * (LIMIT + 1))
    response = await communicator.get_response(timeout=WAIT)
    assert response["status"] == 413
    assert b"too much at once" in response["body"]


@pytest.mark.django_db
def test_pages_and_the_api_refuse_a_large_body_and_nothing_is_stored(client, api, ann):
    client.force_login(ann)
    page = client.post("/posts/new/", {"body": "x" * LIMIT, "visibility": "friends"})
    assert page.status_code == 413
    assert b"too much at once" in page.content
    api.force_authenticate(ann)
    answer = api.post("/api/posts/", {"body": "x" * LIMIT}, format="json")
    assert answer.status_code == 413
    assert answer.json()["limit"] == LIMIT
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_the_largest_legitimate_body_still_gets_through(api, ann):
    # 5,000 characters, each escaped by JSON to 12 bytes: the worst case a post can be.
    api.force_authenticate(ann)
    answer = api.post("/api/posts/", {"body": "🥕" * 5000}, format="json")
    assert answer.status_code == 201


@pytest.mark.django_db(transaction=True)
async def test_a_huge_socket_frame_gets_an_error_and_the_socket_stays_open(live_state):  # noqa: F811
    world = await database_sync_to_async(build_world)()
    socket, state = await api_socket(world, "owner")
    assert state == "open"
    for size in (64 * 1024 + 1, 4 * 1024 * 1024):
        frame = {
            "type": "chat.send",
            "conversation_id": world.conversation.pk,
            "body": "x" * size,
            "client_id": str(uuid.uuid4()),
        }
        await socket.send_to(text_data=json.dumps(frame))
        answer = await socket.receive_json_from(timeout=WAIT)
        assert (answer["type"], answer["code"]) == ("error", "frame_too_large")
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=WAIT))["type"] == "pong"
    assert await database_sync_to_async(Message.objects.count)() == 1  # the world's own
    await socket.disconnect(timeout=WAIT)


NUL_CURSOR = base64.urlsafe_b64encode(json.dumps(["a\x00b", 1]).encode()).decode()


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/profiles/ol\x00ive/", {}),
        ("/api/blocks/ol\x00ive/", {}),
        ("/api/profiles/", {"q": "\x00"}),
        ("/api/friends/", {"cursor": NUL_CURSOR}),
        ("/u/ol\x00ive/", {}),
        ("/search/", {"q": "olive\x00"}),
        ("/friends/", {"cursor": NUL_CURSOR}),
    ],
)
@pytest.mark.django_db
def test_a_nul_byte_in_a_url_or_cursor_is_a_400(client, ann_api, ann, url, query):
    client.force_login(ann)
    response = (ann_api if url.startswith("/api/") else client).get(url, query)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response["Content-Type"] == "application/json"
