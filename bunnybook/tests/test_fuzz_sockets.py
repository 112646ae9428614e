"""The sockets under hostile frames and handshakes, through the real ASGI application and
Redis layer: invalid JSON, wrong shapes and types, unknown types, missing fields, frames
over 64 KiB, binary junk, NUL bytes, and other bunnies' conversations. Nothing may crash a
consumer (a 1011 close) or a handshake (a 500), every bad frame gets an `error` event, and
the socket keeps working afterwards.

FUZZ_FRAMES sets how many hostile frames each socket gets (2,000 in `make test`).
"""

import json
import os
import random
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from bunnybook.asgi import application
from bunnybook.tests.authz.test_sockets import WAIT, api_socket, live_state  # noqa: F401
from bunnybook.tests.authz.world import World, build_world
from bunnybook.tests.conftest import count_cases
from chat import services as chat_services

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = int(os.environ.get("FUZZ_FRAMES", "2000"))
BATCH = 25  # hostile frames between two pings
HUGE = 64 * 1024 + 1
# What a hostile frame may get back: an error, a pong for a ping with junk beside it, a
# resume's replay or resync, or (junk in a frame about Olive's own conversation that still
# reads as valid) her own message, read state or typing news.
ANSWERS = {"error", "pong", "resync", "chat.message", "chat.read", "notification", "friendship"}
KINDS = ["ping", "resume", "chat.send", "chat.typing", "chat.read", "auth"]


def _junk_value(rng: random.Random):
    return rng.choice(
        [
            None,
            True,
            -1,
            2**70,
            1.5,
            "",
            "12abc",
            "\x00",
            [],
            [1, 2],
            {},
            {"$gt": 0},
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "💥" * 50,
            "9" * 400,
        ]
    )


def hostile_frame(rng: random.Random, world: World, theirs: int) -> str | bytes:
    """One hostile frame: text or bytes, never a well-formed request of Olive's own."""
    roll = rng.randrange(12)
    if roll == 0:  # not JSON at all
        return rng.choice(["{", "}", "nul", "{'type': 'ping'}", '{"type": "ping"', "\x00\x01"])
    if roll == 1:  # binary junk, invalid UTF-8 included
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if roll == 2:  # JSON, but not an object with a string type
        return json.dumps(rng.choice([[], [1], 1, "ping", None, {"type": 7}, {"kind": "ping"}]))
    if roll == 3:  # too large, however well formed
        return json.dumps({"type": "chat.send", "body": "x" * HUGE})
    if roll == 4:  # unknown types
        kind = rng.choice(["", "chat", "live.close", "websocket.connect", "x" * 5000, "__init__"])
        return json.dumps({"type": kind})
    frame = {"type": rng.choice(KINDS)}
    if roll == 5:  # someone else's conversation, well formed otherwise
        frame |= {"conversation_id": theirs, "body": "Let me in", "client_id": str(uuid.uuid4())}
    elif roll == 6:  # required fields missing
        frame |= rng.choice([{}, {"body": "Hi"}, {"conversation_id": world.conversation.pk}])
    else:  # fields of the wrong type or out of range
        for name in ("conversation_id", "body", "client_id", "after", "token"):
            if rng.random() < 0.6:
                frame[name] = _junk_value(rng)
    return json.dumps(frame)


async def _send(socket: WebsocketCommunicator, frame: str | bytes):
    if isinstance(frame, bytes):
        await socket.send_to(bytes_data=frame)
    else:
        await socket.send_to(text_data=frame)


def answered_by_pong(frame: str | bytes) -> bool:
    """Whether the consumer answers this frame with a pong (a ping with junk beside it)."""
    if isinstance(frame, bytes) or len(frame.encode()) > HUGE - 1:
        return False
    try:
        parsed = json.loads(frame)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "ping"


async def _answers_until_pong(socket: WebsocketCommunicator, pongs: int = 0) -> list[dict]:
    """Every event up to the pong of our own ping (after `pongs` others); fails on a close."""
    await socket.send_json_to({"type": "ping"})
    events = []
    while True:
        message = await socket.receive_output(timeout=WAIT)
        assert message["type"] == "websocket.send", f"the socket closed: {message}"
        event = json.loads(message["text"])
        if event["type"] == "pong":
            if pongs == 0:
                return events
            pongs -= 1
        events.append(event)


@pytest.fixture
async def fuzz_world(live_state) -> tuple[World, int]:  # noqa: F811
    """The matrix's world, plus a conversation of Wally's and Fern's that Olive is not in."""

    def build():
        world = build_world()
        theirs, _ = chat_services.start_conversation(
            user=world.users["wall_owner"], with_user=world.users["friend"]
        )
        return world, theirs.pk

    return await database_sync_to_async(build)()


async def test_hostile_frames_get_errors_and_the_socket_keeps_working(fuzz_world):
    world, theirs = fuzz_world
    rng = random.Random(20261128)
    socket, state = await api_socket(world, "owner")
    assert state == "open"
    sent, errors = 0, 0
    while sent < FRAMES:
        batch = [hostile_frame(rng, world, theirs) for _ in range(min(BATCH, FRAMES - sent))]
        for frame in batch:
            await _send(socket, frame)
        sent += len(batch)
        pongs = sum(answered_by_pong(frame) for frame in batch)
        events = await _answers_until_pong(socket, pongs)
        errors += sum(event["type"] == "error" for event in events)
        kinds = {event["type"] for event in events}
        assert kinds <= ANSWERS, f"unexpected events: {kinds - ANSWERS}"
    count_cases("socket fuzz frames", sent)
    count_cases("socket fuzz frames answered with an error event", errors)
    assert errors >= sent // 3, f"{errors} errors for {sent} hostile frames"

    # Still the same working socket: a real message goes out and comes back.
    good = {
        "type": "chat.send",
        "conversation_id": world.conversation.pk,
        "body": "Still here",
        "client_id": str(uuid.uuid4()),
    }
    await socket.send_json_to(good)
    events = await _answers_until_pong(socket)
    assert any(e["type"] == "chat.message" and e["message"]["body"] == "Still here" for e in events)
    await socket.disconnect(timeout=WAIT)


HANDSHAKES = [
    ("/ws/", []),  # no origin: refused
    ("/ws/", [(b"origin", b"http://evil.example")]),
    ("/ws/", [(b"origin", b"http://127.0.0.1"), (b"cookie", b"sessionid=forged")]),
    ("/ws/", [(b"origin", b"http://127.0.0.1"), (b"cookie", b"sessionid=" + b"x" * 8000)]),
    ("/ws/", [(b"origin", b"null")]),
    ("/ws/", [(b"origin", b"\xff\xfe")]),
    ("/ws/api/", [(b"origin", b"http://evil.example")]),
    ("/ws/api/", [(b"cookie", b"=;;==;sessionid")]),
    ("/ws/api/?token=forged", []),
    ("/ws/../admin/", []),
    ("/ws/api/extra/", []),
    ("/ws/%00/", []),
    ("/" + "a" * 4000, []),
    ("/", []),
]


@pytest.mark.parametrize(("path", "headers"), HANDSHAKES)
async def test_hostile_handshakes_are_refused_or_closed_never_crash(path, headers, live_state):  # noqa: F811
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await socket.connect(timeout=WAIT)  # a crash would raise here
    count_cases("socket fuzz handshakes")
    if connected:
        await socket.send_to(text_data="{")  # not authenticated: closed 4001, not 1011
        message = await socket.receive_output(timeout=WAIT + 6)
        assert message == {"type": "websocket.close", "code": 4001}, message
    else:
        assert code in (None, 1000), code  # a refused handshake: HTTP 403
