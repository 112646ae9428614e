"""The sockets' side of the matrix, through the real ASGI application and Redis layer:
every socket route's handshake and every client frame type, tried by every actor, and every
server event type, checked to reach exactly the actors it is meant for."""

import asyncio
import json
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from bunnybook.asgi import application
from bunnybook.tests.authz.routes import websocket_routes
from bunnybook.tests.authz.world import ACTORS, World, build_world
from bunnybook.tests.conftest import count_cases
from chat import live, presence
from chat import services as chat_services
from chat.consumers import CLOSE_UNAUTHENTICATED, FRAME_HANDLERS
from notifications import services as notification_services
from social import services as social_services
from social.models import FriendRequest

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
WAIT = 3.0
QUIET = 0.3  # after the expected receivers have an event, how long others get to show one
SIGNED_IN = [actor for actor in ACTORS if actor not in ("anonymous", "banned")]


def answers(default, **by_actor) -> dict:
    return {actor: by_actor.get(actor, default) for actor in ACTORS}


# --- what the table says --------------------------------------------------------------

# A socket either stays open for its bunny or is closed 4001 (no session, bad or
# sanctioned token).
HANDSHAKES = {
    "ws-page": answers("open", anonymous=CLOSE_UNAUTHENTICATED, banned=CLOSE_UNAUTHENTICATED),
    "ws-api": answers("open", anonymous=CLOSE_UNAUTHENTICATED, banned=CLOSE_UNAUTHENTICATED),
    # Any other path: the handshake is refused (HTTP 403), whoever asks.
    "ws-unknown": answers("refused"),
}

MEMBERS = {"owner", "friend"}  # of Olive and Fern's conversation


def _in_chat(ok) -> dict:
    members = {actor: ok for actor in MEMBERS}
    return answers(
        "not_found", anonymous=CLOSE_UNAUTHENTICATED, banned=CLOSE_UNAUTHENTICATED, **members
    )


def _everyone(answer) -> dict:
    return answers(answer, anonymous=CLOSE_UNAUTHENTICATED, banned=CLOSE_UNAUTHENTICATED)


# Client frames: (the frame, the answer per actor). "ok" is no error and nothing else of
# note; an error's code otherwise.
FRAMES = {
    "ping": (lambda world: {"type": "ping"}, _everyone("pong")),
    "resume": (lambda world: {"type": "resume", "after": 0}, _everyone("ok")),
    "chat.send": (
        lambda world: {
            "type": "chat.send",
            "conversation_id": world.conversation.pk,
            "body": "Hi",
            "client_id": str(uuid.uuid4()),
        },
        _in_chat("chat.message"),
    ),
    "chat.typing": (
        lambda world: {"type": "chat.typing", "conversation_id": world.conversation.pk},
        _in_chat("ok"),
    ),
    "chat.read": (
        lambda world: {"type": "chat.read", "conversation_id": world.conversation.pk},
        _in_chat("ok"),
    ),
    # Authenticating twice is not a thing: the socket already belongs to a bunny.
    "auth": (lambda world: {"type": "auth", "token": "x"}, _everyone("unknown_type")),
}


def _olive_sends(world):
    return {"frame": FRAMES["chat.send"][0](world)}


def _olive_types(world):
    return {"frame": FRAMES["chat.typing"][0](world)}


def _olive_reads(world: World):
    chat_services.send_message(
        sender=world.users["friend"],
        conversation_id=world.conversation.pk,
        body="Read me",
        client_id=uuid.uuid4(),
    )
    chat_services.mark_read(user=world.owner, conversation_id=world.conversation.pk)


def _wally_likes(world: World):
    social_services.like_post(post=world.post, user=world.users["wall_owner"])


def _olive_reads_notification(world: World):
    notification_services.mark_read(notification=world.notification, by=world.owner)


def _sid_takes_it_back(world: World):
    request = FriendRequest.objects.get(from_user=world.users["stranger"], to_user=world.owner)
    social_services.cancel_friend_request(friend_request=request, by=world.users["stranger"])


def _sid_asks_olive(world: World):
    social_services.send_friend_request(sender=world.users["stranger"], to=world.owner)


# Server events: (what makes one, who must hear it; nobody else may). A trigger returning
# {"frame": ...} is a frame Olive's socket sends; any other runs in a database thread.
DELIVERIES = {
    "presence": (None, {"friend", "wall_owner"}),  # Olive's first socket opens
    "chat.message": (_olive_sends, {"owner", "friend"}),
    "chat.typing": (_olive_types, {"friend"}),
    "chat.read": (_olive_reads, {"owner"}),
    "notification": (_wally_likes, {"owner"}),
    "notification.read": (_olive_reads_notification, {"owner"}),
    "friendship": (_sid_asks_olive, {"stranger", "owner"}),
    "notification.removed": (_sid_takes_it_back, {"owner"}),
}
# Answers to the frame's own socket only, checked with the frames above.
REPLIES = {"error", "resync", "pong", "ready"}


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def live_state(settings, unlimited):
    settings.WS_RESUME_GRACE = 0.1
    channel_layers.backends.clear()  # the layer keeps per-event-loop state
    cache.clear()
    presence._store = None
    presence._last_sweep = 0.0
    for url, prefix in ((settings.REDIS_URL, "asgi*"), (settings.CACHE_URL, "presence:*")):
        if url:
            server = redis.Redis.from_url(url)
            for key in server.scan_iter(prefix):
                server.delete(key)


@pytest.fixture
async def live_world(live_state) -> World:
    return await database_sync_to_async(build_world)()


class Inbox:
    """Everything the sockets received, per actor, and how each was closed."""

    def __init__(self, sockets: dict[str, WebsocketCommunicator]):
        self.sockets = sockets
        self.events: dict[str, list[dict]] = {actor: [] for actor in sockets}
        self.closed: dict[str, int] = {}

    async def pump(self):
        for actor, socket in self.sockets.items():
            while not socket.output_queue.empty():
                message = await socket.receive_output(timeout=WAIT)
                if message["type"] == "websocket.close":
                    self.closed[actor] = message.get("code", 1000)
                elif message["type"] == "websocket.send":
                    self.events[actor].append(json.loads(message["text"]))

    async def wait_for(self, kind: str, actors: set[str]):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            await self.pump()
            if all(any(e["type"] == kind for e in self.events[a]) for a in actors):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(QUIET)
        await self.pump()

    def clear(self):
        for events in self.events.values():
            events.clear()


async def api_socket(world: World, actor: str) -> tuple[WebsocketCommunicator, object]:
    """A `/ws/api/` socket authenticated by its first frame, live, or its close code."""
    socket = WebsocketCommunicator(application, "/ws/api/")
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    token = world.tokens.get(actor)
    await socket.send_json_to({"type": "auth", "token": token} if token else {"type": "ping"})
    first = await socket.receive_output(timeout=WAIT)
    if first["type"] == "websocket.close":
        return socket, first["code"]
    await socket.send_json_to({"type": "ping"})  # a first frame ends the wait for a resume
    await _until_pong(socket)
    return socket, "open"


async def page_socket(world: World, actor: str) -> tuple[WebsocketCommunicator, object]:
    headers = [ORIGIN]
    if actor in world.sessions:
        headers.append((b"cookie", f"sessionid={world.sessions[actor]}".encode()))
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    await asyncio.sleep(0.2)
    while not socket.output_queue.empty():
        message = await socket.receive_output(timeout=WAIT)
        if message["type"] == "websocket.close":
            return socket, message["code"]
    return socket, "open"


async def unknown_socket(world: World, actor: str) -> tuple[WebsocketCommunicator, object]:
    headers = [ORIGIN]
    if actor in world.sessions:
        headers.append((b"cookie", f"sessionid={world.sessions[actor]}".encode()))
    socket = WebsocketCommunicator(application, "/ws/no-such-socket/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    return socket, "open" if connected else "refused"


async def _until_pong(socket) -> list[dict]:
    events = []
    while True:
        message = await socket.receive_output(timeout=WAIT)
        if message["type"] == "websocket.close":
            return [*events, {"type": "closed", "code": message["code"]}]
        event = json.loads(message["text"])
        if event["type"] == "pong":
            return events
        events.append(event)


def answer_to(kind: str, events: list[dict]) -> object:
    for event in events:
        if event["type"] == "error":
            return event["code"]
        if event["type"] == "closed":
            return event["code"]
    if kind == "ping":
        return "pong"
    if kind == "chat.send" and any(event["type"] == "chat.message" for event in events):
        return "chat.message"
    return "ok"


async def close_all(sockets):
    for socket in sockets:
        await socket.disconnect(timeout=WAIT)


# --- the tests --------------------------------------------------------------------------


def test_every_socket_route_frame_and_event_type_has_an_entry():
    assert set(HANDSHAKES) == {route.key for route in websocket_routes()}
    assert set(FRAMES) == {*FRAME_HANDLERS, "auth"}
    missing = set(live.PAGE_FRAGMENTS) - set(DELIVERIES) - REPLIES
    assert not missing, f"server events with no delivery row: {sorted(missing)}"


async def test_handshakes_answer_every_actor_as_the_table_says(live_world):
    failures, opened = [], []
    for key, open_socket in (
        ("ws-page", page_socket),
        ("ws-api", api_socket),
        ("ws-unknown", unknown_socket),
    ):
        for actor in ACTORS:
            socket, got = await open_socket(live_world, actor)
            count_cases("authorization cases (sockets)")
            opened.append(socket)
            if got != HANDSHAKES[key][actor]:
                failures.append(f"{key} as {actor}: {got}, expected {HANDSHAKES[key][actor]}")
    await close_all(opened)
    assert not failures, "\n".join(failures)


async def test_frames_answer_every_actor_as_the_table_says(live_world):
    failures, opened = [], []
    for actor in ACTORS:
        for kind, (make_frame, expected) in FRAMES.items():
            if actor in ("anonymous", "banned"):
                socket, got = await api_socket(live_world, actor)  # the frame is never read
            else:
                socket, _ = await api_socket(live_world, actor)
                await socket.send_json_to(make_frame(live_world))
                await socket.send_json_to({"type": "ping"})
                events = await _until_pong(socket)
                if kind == "chat.send" and not events:
                    # The message comes back through the channel layer, maybe after the pong.
                    events = [json.loads(await socket.receive_from(timeout=WAIT))]
                got = answer_to(kind, events)
            opened.append(socket)
            count_cases("authorization cases (sockets)")
            if got != expected[actor]:
                failures.append(f"{kind} as {actor}: {got}, expected {expected[actor]}")
    await close_all(opened)
    assert not failures, "\n".join(failures)


async def test_server_events_reach_exactly_the_bunnies_they_are_for(live_world):
    observers = [actor for actor in SIGNED_IN if actor != "owner"]
    sockets = {actor: (await api_socket(live_world, actor))[0] for actor in observers}
    inbox = Inbox(sockets)
    failures = []
    for kind, (trigger, receivers) in DELIVERIES.items():
        await inbox.pump()
        inbox.clear()
        if trigger is None:  # presence: Olive's first socket opens
            sockets["owner"] = (await api_socket(live_world, "owner"))[0]
            inbox.events["owner"] = []
        else:
            made = await database_sync_to_async(trigger)(live_world)
            if made:
                await sockets["owner"].send_json_to(made["frame"])
        await inbox.wait_for(kind, receivers)
        count_cases("authorization cases (sockets)", len(inbox.events))
        heard = {
            actor
            for actor, events in inbox.events.items()
            if any(event["type"] == kind for event in events)
        }
        if heard != receivers:
            failures.append(f"{kind}: heard by {sorted(heard)}, expected {sorted(receivers)}")
    await close_all(sockets.values())
    assert not failures, "\n".join(failures)
    assert not inbox.closed, inbox.closed
