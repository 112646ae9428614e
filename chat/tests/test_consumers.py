"""Live chat through the real ASGI app and the real Redis channel layer: delivery to every
tab, retries, typing, read sync, presence, resume, membership, bad frames and auth."""

import asyncio
import json
import uuid
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.models import User
from bunnybook.events import _next_seqs, record_and_publish_on_commit, user_group
from chat import live, presence, services
from chat.models import Message, UserEvent
from chat.tests.conftest import ORIGIN, TIMEOUT, befriend, events_of, next_of, roundtrip
from social import services as social_services
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db(transaction=True)


def send_frame(conversation, body="Hello!", client_id=None) -> dict:
    return {
        "type": "chat.send",
        "conversation_id": conversation.pk,
        "body": body,
        "client_id": client_id or str(uuid.uuid4()),
    }


@database_sync_to_async
def send_over_http(user, conversation, body: str, client_id=None):
    from conftest import bearer_client

    response = bearer_client(user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"body": body, "client_id": client_id or str(uuid.uuid4())},
        format="json",
    )
    return response.status_code, response.json()


@database_sync_to_async
def message_count() -> int:
    return Message.objects.count()


@database_sync_to_async
def lose_one_then_publish_the_next(user) -> None:
    """Two notifications for `user`: n=1 stored but never published (lost in transit), then
    n=2 stored and published."""
    with transaction.atomic():
        UserEvent.objects.create(
            user=user, seq=_next_seqs([user.pk])[user.pk], payload={"type": "notification", "n": 1}
        )
    with transaction.atomic():
        record_and_publish_on_commit([user.pk], {"type": "notification", "n": 2})


# --- delivery -----------------------------------------------------------------------------


async def test_a_message_reaches_every_open_socket_of_both_bunnies(chat, ann, bob, sockets):
    ann_tab, ann_phone = await sockets.api(ann), await sockets.api(ann)
    bob_tab, bob_page = await sockets.api(bob), await sockets.page(bob)
    frame = send_frame(chat, "Carrots at noon?")

    await ann_tab.send_json_to(frame)

    for socket in (ann_tab, ann_phone, bob_tab):
        event = roundtrip(await next_of(socket, "chat.message"))
        assert event["message"]["body"] == "Carrots at noon?"
        assert event["message"]["client_id"] == frame["client_id"]
        assert event["message"]["conversation_id"] == chat.pk
        assert event["message"]["sender"]["username"] == "ann"
        assert isinstance(event["seq"], int)
    html = await bob_page.receive_from(timeout=TIMEOUT)
    assert f'hx-swap-oob="beforeend:#messages-{chat.pk}"' in html
    assert "Carrots at noon?" in html
    assert await message_count() == 1


async def test_the_sender_sees_herself_as_self_and_the_friend_as_friends(chat, ann, bob, sockets):
    ann_socket, bob_socket = await sockets.api(ann), await sockets.api(bob)
    await ann_socket.send_json_to(send_frame(chat))
    mine = await next_of(ann_socket, "chat.message")
    theirs = await next_of(bob_socket, "chat.message")
    assert mine["message"]["sender"]["friendship"] == "self"
    assert theirs["message"]["sender"]["friendship"] == "friends"
    assert theirs["message"]["sender"]["online"] is True


async def test_a_message_sent_over_http_is_delivered_live(chat, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    status, body = await send_over_http(bob, chat, "Sent the old way")
    assert status == 201
    event = await next_of(ann_socket, "chat.message")
    assert event["message"]["id"] == body["id"]


async def test_a_retry_with_the_same_client_id_answers_the_first_copy(chat, ann, bob, sockets):
    ann_socket, bob_socket = await sockets.api(ann), await sockets.api(bob)
    frame = send_frame(chat, "Once only")
    await ann_socket.send_json_to(frame)
    first = await next_of(ann_socket, "chat.message")
    await next_of(bob_socket, "chat.message")

    await ann_socket.send_json_to({**frame, "body": "Once only (retry)"})

    answer = await next_of(ann_socket, "chat.message")
    assert answer["duplicate"] is True
    assert answer["message"]["id"] == first["message"]["id"]
    assert answer["message"]["body"] == "Once only"
    assert await events_of(bob_socket, "chat.message") == []
    assert await message_count() == 1
    status, body = await send_over_http(ann, chat, "Once only", frame["client_id"])
    assert (status, body["id"]) == (200, first["message"]["id"])


# --- typing -------------------------------------------------------------------------------


async def test_typing_reaches_the_others_only_and_is_throttled(chat, ann, bob, sockets, settings):
    settings.TYPING_THROTTLE = 0.5
    ann_socket, bob_socket = await sockets.api(ann), await sockets.api(bob)
    typing = {"type": "chat.typing", "conversation_id": chat.pk}

    for _ in range(4):
        await ann_socket.send_json_to(typing)
    relayed = await events_of(bob_socket, "chat.typing")
    assert relayed == [
        {
            "type": "chat.typing",
            "conversation_id": chat.pk,
            "user": "ann",
            "user_id": ann.pk,
            "display_name": "Ann",
        }
    ]
    assert await events_of(ann_socket, "chat.typing", wait=0.1) == []

    await asyncio.sleep(0.3)  # the throttle window (0.5 s) has passed
    await ann_socket.send_json_to(typing)
    assert (await next_of(bob_socket, "chat.typing"))["user"] == "ann"


async def test_typing_shows_on_the_page_socket(chat, ann, bob, sockets):
    ann_socket, bob_page = await sockets.api(ann), await sockets.page(bob)
    per_bunny = mock.Mock(wraps=live.render_page_event)
    with mock.patch.object(live, "render_page_event", per_bunny):
        await ann_socket.send_json_to({"type": "chat.typing", "conversation_id": chat.pk})
        html = await bob_page.receive_from(timeout=TIMEOUT)
    assert f'id="typing-{chat.pk}"' in html
    assert "Ann is typing…" in html
    assert f'id="conversation-typing-{chat.pk}"' in html
    # The same for every bunny: rendered once per process, not per socket (chat.live).
    assert not per_bunny.called


async def test_typing_writes_nothing_to_the_database(chat, ann, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def relay():
        with CaptureQueriesContext(connection) as queries:
            services.relay_typing(user_id=ann.pk, conversation_id=chat.pk)
        return [q["sql"] for q in queries.captured_queries]

    statements = await database_sync_to_async(relay)()
    assert statements
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements)


# --- read state ---------------------------------------------------------------------------


async def test_reading_tells_the_readers_other_sockets(chat, ann, bob, sockets):
    ann_tab, ann_phone, ann_page = (
        await sockets.api(ann),
        await sockets.api(ann),
        await sockets.page(ann),
    )
    await send_over_http(bob, chat, "One")
    await send_over_http(bob, chat, "Two")
    for socket in (ann_tab, ann_phone):
        await next_of(socket, "chat.message")
        await next_of(socket, "chat.message")
    page_html = "".join([await ann_page.receive_from(timeout=TIMEOUT) for _ in range(2)])
    assert '<span id="chat-unread-badge" class="badge" hx-swap-oob="true">2' in page_html

    await ann_tab.send_json_to({"type": "chat.read", "conversation_id": chat.pk})

    read = await next_of(ann_phone, "chat.read")
    assert read["conversation_id"] == chat.pk
    assert read["unread_count"] == 0
    assert read["unread_total"] == 0
    assert "_origin" not in read
    assert await events_of(ann_tab, "chat.read") == []  # the asking socket knows already
    html = await ann_page.receive_from(timeout=TIMEOUT)
    assert 'id="chat-unread-badge" class="badge is-empty"' in html
    assert f'id="conversation-unread-{chat.pk}" class="badge is-empty"' in html

    await ann_phone.send_json_to({"type": "chat.read", "conversation_id": chat.pk})
    assert await events_of(ann_tab, "chat.read") == []  # nothing new: no event at all


# --- presence -----------------------------------------------------------------------------


async def test_presence_counts_several_sockets_once(friends, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    bob_first = await sockets.api(bob)
    online = await next_of(ann_socket, "presence")
    assert online == {"type": "presence", "user": "bob", "user_id": bob.pk, "online": True}

    bob_second = await sockets.api(bob)
    assert await events_of(ann_socket, "presence") == []
    await bob_first.disconnect()
    assert await events_of(ann_socket, "presence") == []

    await bob_second.disconnect()
    offline = await next_of(ann_socket, "presence", timeout=2)
    assert offline["online"] is False


async def test_a_dead_servers_sockets_lapse_and_friends_see_offline(
    friends, ann, bob, sockets, settings
):
    settings.PRESENCE_TTL = 1.0
    settings.PRESENCE_HEARTBEAT = 0.25
    ann_socket = await sockets.api(ann)
    # Bob's socket lives on another server, which beats once (as it opens) and then dies.
    assert presence.socket_alive(bob.pk, "bob-channel", "server-that-dies")
    await database_sync_to_async(services.announce_presence_changes)(online=[bob.pk])
    assert (await next_of(ann_socket, "presence"))["online"] is True

    # Ann's server beats and sweeps: Bob has no live socket left.
    offline = await next_of(ann_socket, "presence", timeout=3)
    assert (offline["user"], offline["online"]) == ("bob", False)
    assert not presence.online_ids([bob.pk])


async def test_a_bunny_with_a_socket_on_a_live_server_outlives_a_dead_one(
    friends, ann, bob, sockets, settings
):
    settings.PRESENCE_TTL = 1.0
    settings.PRESENCE_HEARTBEAT = 0.25
    ann_socket = await sockets.api(ann)
    assert presence.socket_alive(bob.pk, "bob-on-the-dying-server", "server-that-dies")
    await sockets.api(bob)  # and a second tab, here

    assert await events_of(ann_socket, "presence", wait=1.6) == []  # the dead one lapsed
    assert presence.online_ids([bob.pk]) == {bob.pk}


async def test_a_socket_that_crashes_is_forgotten_at_once(friends, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    bob_socket = await sockets.api(bob)
    assert (await next_of(ann_socket, "presence"))["online"] is True

    bob_socket.future.cancel()  # the consumer dies without a close; its server lives on

    offline = await next_of(ann_socket, "presence", timeout=2)
    assert (offline["user"], offline["online"]) == ("bob", False)


async def test_a_flushed_presence_store_is_rebuilt_by_the_next_heartbeat(
    friends, ann, bob, sockets, settings
):
    import redis

    if not settings.CACHE_URL:
        pytest.fail("CACHE_URL is not set: presence lives in the real Redis (make test)")
    settings.PRESENCE_HEARTBEAT = 0.25
    ann_socket = await sockets.api(ann)
    await sockets.api(bob)
    assert (await next_of(ann_socket, "presence"))["online"] is True

    server = redis.Redis.from_url(settings.CACHE_URL)
    await asyncio.to_thread(lambda: [server.delete(k) for k in server.scan_iter("presence:*")])
    assert not presence.online_ids([bob.pk])

    # Friends hear Bob is (still) online again, and the store knows it.
    again = await next_of(ann_socket, "presence", timeout=3)
    assert (again["user"], again["online"]) == ("bob", True)
    assert presence.online_ids([ann.pk, bob.pk]) == {ann.pk, bob.pk}


async def test_when_a_real_server_dies_friends_see_its_bunnies_offline_soon(
    friends, ann, bob, sockets, settings
):
    import websockets
    from rest_framework_simplejwt.tokens import AccessToken

    from chat.tests.servers import Daphne

    settings.PRESENCE_TTL, settings.PRESENCE_HEARTBEAT = 2.0, 0.5
    server = await asyncio.to_thread(Daphne(PRESENCE_TTL=2, PRESENCE_HEARTBEAT=0.5).start)
    try:
        ann_socket = await sockets.api(ann)
        bob_client = await websockets.connect(server.url.replace("http", "ws") + "/ws/api/")
        await bob_client.send(json.dumps({"type": "auth", "token": str(AccessToken.for_user(bob))}))
        assert json.loads(await bob_client.recv())["type"] == "ready"
        assert (await next_of(ann_socket, "presence", timeout=10))["online"] is True

        loop = asyncio.get_running_loop()
        died_at = loop.time()
        await asyncio.to_thread(server.kill)

        offline = await next_of(ann_socket, "presence", timeout=10)
        assert (offline["user"], offline["online"]) == ("bob", False)
        # TTL + a sweep interval (+ slack for a loaded machine); production: 10 s + 2 s.
        assert loop.time() - died_at < 2.0 + 0.5 + 3.0
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_page_socket_updates_every_presence_dot_of_a_friend(friends, ann, bob, sockets):
    ann_page = await sockets.page(ann)
    bob_socket = await sockets.api(bob)
    html = await ann_page.receive_from(timeout=TIMEOUT)
    assert f'hx-swap-oob="outerHTML:.presence-u{bob.pk}"' in html
    assert "is-online" in html

    await bob_socket.disconnect()
    html = await ann_page.receive_from(timeout=2)  # within 2 s of his last tab closing
    assert f"presence-u{bob.pk}" in html
    assert "is-online" not in html


async def test_a_page_socket_that_resumes_gets_its_friends_dots_as_they_are_now(
    friends, ann, bob, cid, sockets
):
    # Bob came online, and Cid (a friend who appears offline) too, before Ann's page socket
    # joined: no `presence` event was ever sent to it.
    await database_sync_to_async(befriend)(ann, cid)
    await database_sync_to_async(User.objects.filter(pk=cid.pk).update)(appear_offline=True)
    await sockets.api(bob)
    await sockets.api(cid)
    page = await sockets.page(ann)
    current = (await sockets.api(ann)).start_seq

    await page.send_json_to({"type": "resume", "after": current})

    html = await page.receive_from(timeout=TIMEOUT)
    assert f'class="presence presence-u{bob.pk} is-online"' in html
    assert f'class="presence presence-u{cid.pk}"' in html  # offline to her friends
    assert f'hx-swap-oob="outerHTML:.presence-u{bob.pk}"' in html
    assert f"presence-u{ann.pk}" not in html  # friends only


async def test_strangers_are_never_told_of_presence(ann, cid, sockets):
    ann_socket = await sockets.api(ann)
    await sockets.api(cid)
    assert await events_of(ann_socket, "presence") == []


async def test_appearing_offline_hides_presence_and_typing(chat, ann, bob, sockets):
    from conftest import bearer_client

    bob_socket = await sockets.api(bob)
    ann_socket = await sockets.api(ann)
    assert (await next_of(bob_socket, "presence"))["online"] is True

    def patch_me(value):
        return bearer_client(ann).patch("/api/me/", {"appear_offline": value}, format="json")

    response = await database_sync_to_async(patch_me)(True)
    assert response.status_code == 200
    assert response.json()["appear_offline"] is True
    assert (await next_of(bob_socket, "presence"))["online"] is False

    await ann_socket.send_json_to({"type": "chat.typing", "conversation_id": chat.pk})
    assert await events_of(bob_socket, "chat.typing") == []

    def friends_seen_by_bob():
        return bearer_client(bob).get("/api/friends/").json()["results"]

    [seen] = await database_sync_to_async(friends_seen_by_bob)()
    assert (seen["username"], seen["online"]) == ("ann", False)

    await database_sync_to_async(patch_me)(False)
    assert (await next_of(bob_socket, "presence"))["online"] is True


# --- resume -------------------------------------------------------------------------------


async def test_resume_replays_exactly_the_missed_events_in_order(chat, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    last_seen = ann_socket.start_seq
    await ann_socket.disconnect()
    sent = [(await send_over_http(bob, chat, f"While away {n}"))[1]["id"] for n in range(3)]

    again = await sockets.api(ann, go_live=False)
    await again.send_json_to({"type": "resume", "after": last_seen})

    replayed = [await next_of(again, "chat.message") for _ in range(3)]
    assert [event["message"]["id"] for event in replayed] == sent
    assert [event["seq"] for event in replayed] == [last_seen + 1, last_seen + 2, last_seen + 3]
    assert await events_of(again, "chat.message") == []

    await send_over_http(bob, chat, "Live again")
    assert (await next_of(again, "chat.message"))["seq"] == last_seen + 4


async def test_a_page_socket_resumes_with_the_missed_fragments(chat, ann, bob, sockets):
    last_seen = (await sockets.api(ann)).start_seq  # what the page showed when it loaded
    sent = [(await send_over_http(bob, chat, f"Missed {n}"))[1]["id"] for n in range(2)]

    page = await sockets.page(ann)
    await page.send_json_to({"type": "resume", "after": last_seen})

    first, second = [await page.receive_from(timeout=TIMEOUT) for _ in range(2)]
    assert f'id="message-{sent[0]}"' in first
    assert f'data-seq="{last_seen + 1}"' in first
    assert f'id="message-{sent[1]}"' in second
    assert f'data-seq="{last_seen + 2}"' in second


async def test_live_events_wait_for_the_replay_and_come_once(chat, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    last_seen = ann_socket.start_seq
    await ann_socket.disconnect()
    await send_over_http(bob, chat, "Missed 1")
    await send_over_http(bob, chat, "Missed 2")

    again = await sockets.api(ann, go_live=False)
    await send_over_http(bob, chat, "Arrives live before the resume")  # held by the socket
    await again.send_json_to({"type": "resume", "after": last_seen})

    events = await events_of(again, "chat.message", wait=2)
    assert [e["message"]["body"] for e in events] == [
        "Missed 1",
        "Missed 2",
        "Arrives live before the resume",
    ]
    assert [e["seq"] for e in events] == [last_seen + 1, last_seen + 2, last_seen + 3]


async def test_resume_from_too_far_back_or_ahead_asks_for_a_resync(chat, ann, bob, sockets):
    for n in range(3):
        await send_over_http(bob, chat, f"Old {n}")
    await database_sync_to_async(
        lambda: UserEvent.objects.filter(user=ann, seq__lte=2).delete()
    )()  # pruned by retention

    socket = await sockets.api(ann, go_live=False)
    await socket.send_json_to({"type": "resume", "after": 0})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "resync"
    await socket.send_json_to({"type": "resume", "after": 999})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "resync"
    await socket.send_json_to({"type": "resume", "after": socket.start_seq})
    await send_over_http(bob, chat, "Still live")
    assert (await next_of(socket, "chat.message"))["message"]["body"] == "Still live"


async def test_a_lost_live_event_is_filled_from_the_database(ann, sockets):
    socket = await sockets.api(ann)
    start = socket.start_seq

    await lose_one_then_publish_the_next(ann)

    first, second = await next_of(socket, "notification"), await next_of(socket, "notification")
    assert [(first["seq"], first["n"]), (second["seq"], second["n"])] == [
        (start + 1, 1),
        (start + 2, 2),
    ]


async def test_an_event_that_overtook_an_earlier_one_waits_for_it_in_the_layer(ann, sockets):
    socket = await sockets.api(ann)

    def store_two() -> list[int]:
        with transaction.atomic():
            return [
                UserEvent.objects.create(
                    user=ann, seq=_next_seqs([ann.pk])[ann.pk], payload={"type": "notification"}
                ).seq
                for _ in range(2)
            ]

    first, second = await database_sync_to_async(store_two)()
    layer, group = get_channel_layer(), user_group(ann.pk)
    await layer.group_send(group, {"type": "notification", "via": "layer", "seq": second})
    await asyncio.sleep(0.05)
    await layer.group_send(group, {"type": "notification", "via": "layer", "seq": first})

    events = [await next_of(socket, "notification"), await next_of(socket, "notification")]
    # Both from the layer, in order: the database was not asked for the first.
    assert [(event["seq"], event.get("via")) for event in events] == [
        (first, "layer"),
        (second, "layer"),
    ]


async def test_events_held_for_a_gap_are_sent_before_the_next_frames_answer(ann, sockets, settings):
    settings.WS_GAP_WAIT = 30  # only the frame can release them here
    socket = await sockets.api(ann)

    await lose_one_then_publish_the_next(ann)
    await asyncio.sleep(0.3)  # the second reaches the socket and waits for the first
    await socket.send_json_to({"type": "ping"})

    received = [await socket.receive_json_from(timeout=TIMEOUT) for _ in range(3)]
    assert [(event["type"], event.get("n")) for event in received] == [
        ("notification", 1),
        ("notification", 2),
        ("pong", None),
    ]


async def test_a_resume_while_events_wait_for_a_gap_sends_each_once(ann, sockets, settings):
    settings.WS_GAP_WAIT = 30
    socket = await sockets.api(ann)
    start = socket.start_seq

    await lose_one_then_publish_the_next(ann)
    await asyncio.sleep(0.3)  # the second waits for the first
    await socket.send_json_to({"type": "resume", "after": start})

    events = await events_of(socket, "notification", wait=1)
    assert [(event["seq"], event["n"]) for event in events] == [(start + 1, 1), (start + 2, 2)]


async def test_events_of_other_apps_are_forwarded_as_they_are(ann, sockets):
    api_socket, page_socket = await sockets.api(ann), await sockets.page(ann)
    event = {
        "type": "notification",
        "notification": {"id": 7, "type": "post_liked", "text": "<b>Bob</b> liked your post"},
        "unread_count": 3,
    }

    def publish():
        with transaction.atomic():
            record_and_publish_on_commit([ann.pk], event)

    await database_sync_to_async(publish)()
    received = await next_of(api_socket, "notification")
    assert received == {**event, "seq": api_socket.start_seq + 1}
    html = await page_socket.receive_from(timeout=TIMEOUT)
    assert 'id="live-seq"' in html
    assert "<b>Bob</b>" not in html


def _services_ctl(action: str, service: str) -> None:
    import subprocess
    from pathlib import Path

    ctl = Path(__file__).resolve().parents[2] / "services" / "ctl"
    subprocess.run([str(ctl), action, service], check=True, timeout=60)


async def _reconnect(sockets, user, *, page: bool = False):
    """A client coming back once the layer answers again (a few seconds after Redis)."""
    for _ in range(60):
        try:
            return await (sockets.page(user) if page else sockets.api(user, go_live=False))
        except Exception:  # noqa: BLE001 - refused or closed while the layer reconnects
            await asyncio.sleep(0.25)
    raise AssertionError("no socket within 15 s of Redis coming back")


@pytest.mark.faults
async def test_after_a_redis_restart_clients_resume_and_miss_nothing(chat, ann, bob, sockets):
    ann_socket, ann_page = await sockets.api(ann), await sockets.page(ann)
    await send_over_http(bob, chat, "Before the restart")
    before = await next_of(ann_socket, "chat.message")
    await ann_page.receive_from(timeout=TIMEOUT)

    await asyncio.to_thread(_services_ctl, "restart", "redis-layer")
    status, sent = await send_over_http(bob, chat, "Right after the restart")
    assert status == 201  # stored, whatever the layer did with the publish

    # Like a client: a socket the restart broke reconnects and resumes from the last seq
    # it saw; the message arrives exactly once either way.
    again = await _reconnect(sockets, ann)
    await again.send_json_to({"type": "resume", "after": before["seq"]})
    replayed = await next_of(again, "chat.message", timeout=5)
    assert (replayed["seq"], replayed["message"]["id"]) == (before["seq"] + 1, sent["id"])
    assert await events_of(again, "chat.message") == []

    page = await _reconnect(sockets, ann, page=True)
    await page.send_json_to({"type": "resume", "after": before["seq"]})
    html = await page.receive_from(timeout=5)
    assert f'id="message-{sent["id"]}"' in html
    assert f'data-seq="{before["seq"] + 1}"' in html
    assert f"presence-u{bob.pk}" in await page.receive_from(timeout=TIMEOUT)  # his dot, now

    await send_over_http(bob, chat, "Live again")
    assert (await next_of(again, "chat.message"))["message"]["body"] == "Live again"
    assert "Live again" in await page.receive_from(timeout=TIMEOUT)


@pytest.mark.faults
async def test_messages_sent_while_the_layer_is_down_arrive_through_resume(chat, ann, bob, sockets):
    ann_socket = await sockets.api(ann)
    last_seen = ann_socket.start_seq
    await asyncio.to_thread(_services_ctl, "stop", "redis-layer")
    try:
        status, sent = await send_over_http(bob, chat, "Sent while Redis was down")
        assert status == 201  # stored; the publish failure was caught
    finally:
        await asyncio.to_thread(_services_ctl, "start", "redis-layer")

    again = await _reconnect(sockets, ann)
    await again.send_json_to({"type": "resume", "after": last_seen})
    replayed = await next_of(again, "chat.message", timeout=5)
    assert replayed["message"]["id"] == sent["id"]
    await send_over_http(bob, chat, "And live again")
    assert (await next_of(again, "chat.message"))["message"]["body"] == "And live again"


async def test_a_flushed_layer_heals_and_the_lost_message_still_arrives(
    chat, ann, bob, sockets, settings
):
    import redis

    settings.PRESENCE_HEARTBEAT = 0.25
    ann_socket = await sockets.api(ann)
    await asyncio.to_thread(redis.Redis.from_url(settings.REDIS_URL).flushdb)  # groups gone

    await send_over_http(bob, chat, "Published into the void")

    event = await next_of(ann_socket, "chat.message", timeout=5)
    assert event["message"]["body"] == "Published into the void"
    await send_over_http(bob, chat, "Live again")  # and the group was joined again
    assert (await next_of(ann_socket, "chat.message"))["message"]["body"] == "Live again"


async def test_an_event_lost_on_the_way_arrives_with_the_next_heartbeats(
    chat, ann, sockets, settings
):
    from bunnybook.events import _record_events

    settings.PRESENCE_HEARTBEAT = 0.25
    ann_socket = await sockets.api(ann)
    # Stored, never published: as if the layer dropped it.
    [seq] = (await database_sync_to_async(_record_events)({ann.pk: {"type": "note"}})).values()

    event = await next_of(ann_socket, "note", timeout=3)
    assert event["seq"] == seq
    assert await events_of(ann_socket, "note", wait=0.8) == []  # once


async def test_a_socket_stays_open_and_live_for_15_seconds_on_the_redis_layer(
    chat, ann, bob, sockets
):
    # redis-py 8 gave the layer's blocking read a 5 s timeout that dropped sockets (#422).
    ann_socket = await sockets.api(ann)
    for _ in range(3):
        await asyncio.sleep(5)
        await ann_socket.send_json_to({"type": "ping"})
        assert (await next_of(ann_socket, "pong"))["type"] == "pong"
    await send_over_http(bob, chat, "Still there?")
    assert (await next_of(ann_socket, "chat.message"))["message"]["body"] == "Still there?"


# --- membership ---------------------------------------------------------------------------


async def test_membership_is_checked_on_every_frame(chat, ann, bob, sockets):
    ann_socket, ann_page = await sockets.api(ann), await sockets.page(ann)

    await database_sync_to_async(social_services.unfriend)(user=ann, friend=bob)
    html = await ann_page.receive_from(timeout=TIMEOUT)
    assert f'id="composer-{chat.pk}" class="composer composer-closed"' in html

    await ann_socket.send_json_to(send_frame(chat, "Still friends?"))
    error = await next_of(ann_socket, "error")
    assert error["code"] == "forbidden"
    await ann_socket.send_json_to({"type": "chat.typing", "conversation_id": chat.pk})
    assert (await next_of(ann_socket, "error"))["code"] == "forbidden"
    assert await message_count() == 0

    await database_sync_to_async(make_friends)(bob, ann)
    await ann_socket.send_json_to(send_frame(chat, "Friends again!"))
    assert (await next_of(ann_socket, "chat.message"))["message"]["body"] == "Friends again!"


async def test_a_bunny_outside_the_conversation_gets_not_found(chat, cid, sockets):
    cid_socket = await sockets.api(cid)
    for frame in (
        send_frame(chat, "Let me in"),
        {"type": "chat.typing", "conversation_id": chat.pk},
        {"type": "chat.read", "conversation_id": chat.pk},
    ):
        await cid_socket.send_json_to(frame)
        error = await next_of(cid_socket, "error")
        assert (error["code"], error["frame_type"]) == ("not_found", frame["type"])
    assert await message_count() == 0


# --- bad frames and limits ----------------------------------------------------------------


def _send(conversation_id, **fields) -> str:
    return json.dumps({"type": "chat.send", "conversation_id": conversation_id, **fields})


BAD_FRAMES = {
    "invalid json": (lambda c: "{not json", "invalid_json"),
    "not an object": (lambda c: "[1, 2]", "invalid_frame"),
    "no type": (lambda c: '{"conversation_id": 1}', "invalid_frame"),
    "unknown type": (lambda c: '{"type": "chat.explode"}', "unknown_type"),
    "no conversation": (lambda c: _send(None, body="hi", client_id=str(uuid.uuid4())), "invalid"),
    "no body": (lambda c: _send(c, client_id=str(uuid.uuid4())), "invalid"),
    "no client_id": (lambda c: _send(c, body="hi"), "invalid"),
    "bad client_id": (lambda c: _send(c, body="hi", client_id="x"), "invalid"),
    "blank body": (lambda c: _send(c, body="  ", client_id=str(uuid.uuid4())), "invalid"),
    "long body": (lambda c: _send(c, body="x" * 4001, client_id=str(uuid.uuid4())), "invalid"),
    "typing without conversation": (lambda c: '{"type": "chat.typing"}', "invalid"),
    "negative resume": (lambda c: '{"type": "resume", "after": -1}', "invalid"),
    "over 64 KiB": (
        lambda c: _send(c, body="x" * 70_000, client_id=str(uuid.uuid4())),
        "frame_too_large",
    ),
}


@pytest.mark.parametrize("case", BAD_FRAMES)
async def test_a_bad_frame_gets_an_error_and_the_socket_keeps_working(chat, ann, sockets, case):
    make_frame, code = BAD_FRAMES[case]
    socket = await sockets.api(ann)
    await socket.send_to(text_data=make_frame(chat.pk))

    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert (error["type"], error["code"]) == ("error", code)
    assert error["detail"]
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    assert await message_count() == 0


async def test_a_binary_frame_that_is_not_json_gets_an_error(ann, sockets):
    socket = await sockets.api(ann)
    await socket.send_to(bytes_data=b"\xff\xfe")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "invalid_json"


async def test_too_many_messages_are_rate_limited(chat, ann, sockets, settings):
    settings.CHAT_MESSAGE_RATE = 3
    settings.CHAT_RATE_WINDOW = 3600  # a fixed window must not roll over mid-test
    socket = await sockets.api(ann)
    for n in range(3):
        await socket.send_json_to(send_frame(chat, f"Message {n}"))
        await next_of(socket, "chat.message")
    await socket.send_json_to(send_frame(chat, "One too many"))
    error = await next_of(socket, "error")
    assert error["code"] == "rate_limited"
    assert error["retry_after"] > 0
    assert await message_count() == 3
    await socket.send_json_to({"type": "ping"})  # limited, not dropped
    assert (await next_of(socket, "pong"))["type"] == "pong"


async def test_too_many_typing_frames_are_rate_limited(chat, ann, bob, sockets, settings):
    settings.CHAT_TYPING_RATE = 2
    settings.CHAT_RATE_WINDOW = 3600
    settings.TYPING_THROTTLE = 0.001  # so that each allowed frame is relayed
    ann_socket, bob_socket = await sockets.api(ann), await sockets.api(bob)
    typing = {"type": "chat.typing", "conversation_id": chat.pk}
    for _ in range(2):
        await ann_socket.send_json_to(typing)
        await next_of(bob_socket, "chat.typing")
        await asyncio.sleep(0.01)  # past the (tiny) relay throttle

    await ann_socket.send_json_to(typing)

    error = await next_of(ann_socket, "error")
    assert (error["code"], error["frame_type"]) == ("rate_limited", "chat.typing")
    assert await events_of(bob_socket, "chat.typing") == []


# --- auth and origins ---------------------------------------------------------------------


async def test_an_api_socket_authenticates_with_its_first_frame(ann, sockets):
    socket = await sockets.api(ann)
    assert socket.start_seq == 0


async def test_an_api_socket_with_a_bad_token_is_closed_4001(sockets):
    for first_frame in ({"type": "auth", "token": "nonsense"}, {"type": "ping"}):
        socket = sockets.raw("/ws/api/")
        assert (await socket.connect())[0]
        await socket.send_json_to(first_frame)
        assert await socket.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4001,
        }


async def test_an_api_socket_that_never_authenticates_is_closed_4001(sockets, settings):
    settings.WS_AUTH_TIMEOUT = 0.3
    socket = sockets.raw("/ws/api/")
    assert (await socket.connect())[0]
    assert await socket.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 4001,
    }


async def test_an_inactive_bunny_cannot_authenticate(ann, sockets):
    from rest_framework_simplejwt.tokens import AccessToken

    token = str(AccessToken.for_user(ann))
    await database_sync_to_async(User.objects.filter(pk=ann.pk).update)(is_active=False)
    socket = sockets.raw("/ws/api/")
    await socket.connect()
    await socket.send_json_to({"type": "auth", "token": token})
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4001


async def test_the_page_socket_needs_a_matching_origin(ann, sockets):
    for origin in (None, (b"origin", b"http://evil.example")):
        headers = [origin] if origin else []
        socket = sockets.raw("/ws/", headers)
        connected, _ = await socket.connect()
        assert not connected
    page = await sockets.page(ann)  # same-site Origin and a session: fine
    assert page is not None


async def test_the_api_socket_accepts_no_origin_but_rejects_a_foreign_one(ann, sockets):
    foreign = sockets.raw("/ws/api/", [(b"origin", b"http://evil.example")])
    assert not (await foreign.connect())[0]
    own = sockets.raw("/ws/api/", [ORIGIN])
    assert (await own.connect())[0]
    assert await sockets.api(ann)  # and no Origin at all


async def test_a_page_socket_without_a_session_is_closed_4001(sockets):
    socket = sockets.raw("/ws/", [ORIGIN])
    assert (await socket.connect())[0]
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4001


async def test_closing_a_bunnys_sockets_closes_them_all_at_once(ann, sockets):
    api_socket, page_socket = await sockets.api(ann), await sockets.page(ann)
    await database_sync_to_async(services.close_live_sockets)(user_id=ann.pk)
    for socket in (api_socket, page_socket):
        assert await socket.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4003,
        }


async def test_logging_out_closes_that_sessions_sockets_at_once(ann, sockets):
    from django.test import Client

    def logged_in_client():
        client = Client()
        client.force_login(ann)
        return client

    browser = await database_sync_to_async(logged_in_client)()
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    tab = sockets.raw("/ws/", [(b"cookie", cookie), ORIGIN])
    assert (await tab.connect(timeout=TIMEOUT))[0]
    other_device = await sockets.api(ann)

    response = await database_sync_to_async(browser.post)("/logout/")
    assert response.status_code == 302

    assert await tab.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4003}
    await other_device.send_json_to({"type": "ping"})  # another session: still open
    assert (await next_of(other_device, "pong"))["type"] == "pong"


async def test_message_text_is_escaped_on_the_page_socket(chat, ann, bob, sockets):
    bob_page = await sockets.page(bob)
    await send_over_http(ann, chat, '<script>alert("hi")</script> see https://bunny.example')
    html = await bob_page.receive_from(timeout=TIMEOUT)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;" in html
    assert '<a href="https://bunny.example" rel="nofollow">' in html


async def test_the_channel_layer_groups_are_per_bunny(ann, sockets):
    socket = await sockets.api(ann)
    await get_channel_layer().group_send(user_group(ann.pk), {"type": "presence", "user": "x"})
    assert (await next_of(socket, "presence"))["user"] == "x"
