"""Faults on the real stack: the cache, the channel layer and PostgreSQL are stopped and
started again (services/ctl) and a daphne is killed, under real clients of real daphne
processes; after each, the ledger check (bunnybook.tests.ledger) proves that nothing
acknowledged was lost, stored twice or delivered twice. Neo4j's outage is
social/graph/tests/test_faults.py (same `faults` marker).

Each outage is as short as the test allows (other test runs on this machine share the
services), is taken under a machine-wide lock, and always ends with the service started.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from bunnybook.tests.ledger import LiveClient, check_ledger, http, send_over_http
from chat import services as chat_services
from chat.models import Conversation, Message
from chat.tests.conftest import befriend
from chat.tests.servers import Daphne
from conftest import make_bunny
from social import services as social_services

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# Each test logs its figures (see them with --log-cli-level=INFO).
logger = logging.getLogger(__name__)

# The services/ctl of the checkout that started the running services: this one (CI, `make
# test`) unless SERVICES_CTL names another clone's.
CTL = Path(os.environ.get("SERVICES_CTL") or Path(settings.BASE_DIR) / "services" / "ctl")


def ctl(action: str, service: str, *, check: bool = True) -> int:
    done = subprocess.run(
        [str(CTL), action, service], timeout=120, capture_output=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"services/ctl {action} {service}: {done.stderr.decode()[-500:]}")
    return done.returncode


@contextlib.contextmanager
def outage(service: str):
    """`service` stopped for the block; started again whatever happens."""
    lock_path = Path(settings.VAR_DIR) / "fault-tests.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ctl("status", service, check=False) != 0:
            fcntl.flock(lock, fcntl.LOCK_UN)
            pytest.fail(f"{service} is not run by {CTL} (set SERVICES_CTL to the one that runs it)")
        stopped_at = time.monotonic()
        try:
            ctl("stop", service)
            yield
        finally:
            ctl("start", service)
            fcntl.flock(lock, fcntl.LOCK_UN)
            logger.info("%s was down for %.1f s", service, time.monotonic() - stopped_at)


class Background:
    """An event loop in a thread, so sync tests (free to use the ORM) drive socket clients."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        async def cancel_everything():
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_everything(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def bg():
    background = Background()
    yield background
    background.close()


def start_daphne(**env) -> Daphne:
    env = {
        "NEO4J_URI": "",  # suggestions from SQL: the graph has its own fault test
        "CHAT_MESSAGE_RATE": 100_000,
        "CHAT_TYPING_RATE": 100_000,
        "DB_CONN_MAX_AGE": 60,  # kept connections, so a restart tests the health checks
        "PRESENCE_HEARTBEAT": 0.5,
        "LOG_LEVEL": "ERROR",
        **env,
    }
    return Daphne(**env).start()


@pytest.fixture
def server():
    daphne = start_daphne()
    yield daphne
    daphne.stop()


class Cast:
    """Ann and Bob (friends, with a conversation), Cid (Ann's friend, asking Bob), a post
    of Bob's with a comment and likes: enough that every page has something to show."""

    def __init__(self):
        self.ann, self.bob, self.cid = (make_bunny(n) for n in ("ann", "bob", "cid"))
        befriend(self.ann, self.bob)
        befriend(self.ann, self.cid)
        self.request = social_services.send_friend_request(sender=self.cid, to=self.bob)
        self.conversation, _ = chat_services.start_conversation(user=self.ann, with_user=self.bob)
        self.post = social_services.create_post(author=self.bob, wall=self.ann, body="Clover!")
        self.comment = social_services.add_comment(post=self.post, author=self.ann, body="Yum")
        social_services.like_post(post=self.post, user=self.ann)
        client = Client()
        client.force_login(self.ann)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"
        self.ann_live = LiveClient.for_user(self.ann)
        self.bob_live = LiveClient.for_user(self.bob)

    @property
    def clients(self) -> list[LiveClient]:
        return [self.ann_live, self.bob_live]

    def route_values(self) -> dict[str, str]:
        notification = self.ann.notifications.first()  # Bob posted on her wall
        return {
            "post_id": str(self.post.pk),
            "comment_id": str(self.comment.pk),
            "conversation_id": str(self.conversation.pk),
            "request_id": str(self.request.pk),
            "notification_id": str(notification.pk if notification else 1),
            "seed": str(self.bob.avatar_seed),
            "username": "bob",
            "target_type": "post",
            "target_id": str(self.post.pk),
        }


@pytest.fixture
def cast(settings):
    settings.NEO4J_URI = ""
    return Cast()


def get_routes(values: dict[str, str], resolver=None, prefix="") -> list[str]:
    """Every page and API route but the admin's, filled with the cast's real ids."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith("admin/"):
            continue
        if isinstance(entry, URLResolver):
            routes += get_routes(values, entry, route)
        elif isinstance(entry, URLPattern):
            routes.append(
                "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "x"), route)
            )
    return routes


def walk(base: str, routes: list[str], cast: Cast) -> dict[str, int]:
    token = cast.ann_live.token
    return {
        path: http(
            base + path,
            token=token if path.startswith("/api/") else None,
            cookie=None if path.startswith("/api/") else cast.cookie,
        ).status
        for path in routes
    }


def exchange_messages(bg: Background, cast: Cast, count: int) -> None:
    """Each of Ann and Bob sends `count` messages over their sockets; wait until every one
    is acknowledged and both have received them all."""
    conversation_id = cast.conversation.pk

    async def chat():
        for n in range(count):
            await cast.ann_live.send(conversation_id, f"ann {n}")
            await cast.bob_live.send(conversation_id, f"bob {n}")
        for client in cast.clients:
            await client.wait_for(lambda c=client: not c.pending, what="acknowledgements")

    bg.run(chat())


def wait_until_everyone_has_everything(bg: Background, cast: Cast, *, timeout=20.0) -> None:
    stored = set(
        Message.objects.filter(conversation=cast.conversation).values_list("pk", flat=True)
    )

    async def wait():
        for client in cast.clients:
            await client.wait_for(
                lambda c=client: stored <= set(c.message_ids),
                timeout=timeout,
                what=f"{len(stored)} messages",
            )

    bg.run(wait(), timeout=timeout + 5)


def connect_all(bg: Background, clients: list[LiveClient], base: str) -> None:
    async def connect():
        for client in clients:
            await client.connect(base)

    bg.run(connect())


def close_all(bg: Background, clients: list[LiveClient]) -> None:
    async def close():
        for client in clients:
            await client.close()

    bg.run(close())


def assert_conversation_consistent(conversation: Conversation) -> None:
    """No half-written message: the conversation's last message is its newest row."""
    conversation.refresh_from_db()
    newest = Message.objects.filter(conversation=conversation).order_by("-id").first()
    assert conversation.last_message_id == (newest.pk if newest else None)


# --- Redis cache ----------------------------------------------------------------------------


def test_with_the_cache_down_every_page_and_api_call_answers_as_before(cast, server, bg):
    routes = get_routes(cast.route_values())
    before = walk(server.url, routes, cast)
    assert not [path for path, status in before.items() if status >= 500]
    assert sum(status == 200 for status in before.values()) > 40
    connect_all(bg, cast.clients, server.url)
    exchange_messages(bg, cast, 2)

    with outage("redis-cache"):
        started = time.monotonic()
        during = walk(server.url, routes, cast)
        walk_seconds = time.monotonic() - started
        # Writes on every surface: API, socket (new and open ones), HTTP chat.
        token = cast.ann_live.token
        post = http(f"{server.url}/api/posts/", method="POST", token=token, data={"body": "Hi"})
        like = http(f"{server.url}/api/posts/{cast.post.pk}/like/", method="POST", token=token)
        sent = send_over_http(server.url, token, cast.conversation.pk, "by http", str(uuid.uuid4()))
        late = LiveClient.for_user(cast.cid)
        bg.run(late.connect(server.url))
        exchange_messages(bg, cast, 2)
        wait_until_everyone_has_everything(bg, cast)

    assert {p: s for p, s in during.items() if s != before[p]} == {}
    assert walk_seconds < 30
    assert (post.status, like.status, sent.status) == (201, 200, 201)
    close_all(bg, [*cast.clients, late])
    report = check_ledger(
        cast.clients, http_acked={(cast.ann.pk, sent.json()["client_id"]): sent.json()["id"]}
    )
    assert report.messages == 9
    logger.info(
        "cache down: %d routes answered as before in %.1f s; ledger %s",
        len(routes),
        walk_seconds,
        report,
    )


# --- Redis channel layer ----------------------------------------------------------------------


def test_with_the_channel_layer_down_sends_are_stored_and_resumed_with_nothing_lost(
    cast, server, bg
):
    connect_all(bg, cast.clients, server.url)
    exchange_messages(bg, cast, 3)
    http_acked = {}

    with outage("redis-layer"):
        for sender in (cast.ann_live, cast.bob_live):
            for n in range(5):
                client_id = str(uuid.uuid4())
                answer = send_over_http(
                    server.url, sender.token, cast.conversation.pk, f"meanwhile {n}", client_id
                )
                assert answer.status == 201, answer.body
                http_acked[(sender.user_id, client_id)] = answer.json()["id"]
        page = http(f"{server.url}/chat/{cast.conversation.pk}/", cookie=cast.cookie)
        history = http(
            f"{server.url}/api/conversations/{cast.conversation.pk}/messages/",
            token=cast.ann_live.token,
        )
        assert page.status == 200
        assert b"meanwhile 4" in page.body
        assert history.status == 200
        assert len(history.json()["results"]) == 16

    # Whoever lost the socket reconnects (retrying until the layer answers) and resumes.
    async def reconnect():
        for client in cast.clients:
            if not client.connected:
                await client.connect(server.url)

    bg.run(reconnect())
    wait_until_everyone_has_everything(bg, cast)
    exchange_messages(bg, cast, 1)  # live again
    wait_until_everyone_has_everything(bg, cast)
    close_all(bg, cast.clients)
    report = check_ledger(cast.clients, http_acked=http_acked)
    assert report.messages == 18
    reconnects = [client.reconnects for client in cast.clients]
    logger.info("layer down: reconnects %s; ledger %s", reconnects, report)


# --- PostgreSQL -----------------------------------------------------------------------------


class Load:
    """HTTP load from a few threads: pages, API reads, and chat sends that are retried with
    the same client_id until acknowledged. Records every answer."""

    def __init__(self, base: str, cast: Cast, threads: int = 3):
        self.base, self.cast = base, cast
        self.answers: list[tuple[float, str, int, bytes]] = []
        self.acked: dict[tuple[int, str], int] = {}
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.workers = [threading.Thread(target=self._work, args=(n,)) for n in range(threads)]

    def __enter__(self):
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(30)

    def _record(self, kind: str, answer) -> int:
        body = answer.body if answer.status >= 400 else b""  # only failures are read later
        self.answers.append((time.monotonic(), kind, answer.status, body))
        return answer.status

    def _work(self, n: int) -> None:
        sender = self.cast.clients[n % 2]
        unacked: str | None = None
        count = 0
        while not self.stop.is_set() or unacked:
            try:
                self._record("page", http(f"{self.base}/", cookie=self.cast.cookie, timeout=5))
                self._record("api", http(f"{self.base}/api/feed/", token=sender.token, timeout=5))
                if unacked is None:
                    unacked, count = str(uuid.uuid4()), count + 1
                answer = send_over_http(
                    self.base, sender.token, self.cast.conversation.pk, f"load {n}.{count}", unacked
                )
                if self._record("send", answer) in (200, 201):
                    self.acked[(sender.user_id, unacked)] = answer.json()["id"]
                    unacked = None
            except OSError as error:  # the server itself must stay up: record and go on
                self.failures.append(repr(error))
            time.sleep(0.02)

    def statuses(self, since: float = 0.0) -> set[int]:
        return {status for at, _, status, _ in self.answers if at >= since}


def other_backends() -> int:
    """Connections to the test database other than this process's own."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture(params=["kept connections", "a pool"])
def database_server(request):
    """Daphne holding its database connections either way production may configure it."""
    daphne = start_daphne(**({"DB_POOL_SIZE": 4} if request.param == "a pool" else {}))
    yield daphne
    daphne.stop()


def test_daphne_with_a_pool_holds_no_more_connections_than_the_pool_however_many_requests(
    cast,
):
    # Each sync request runs in a new thread; kept connections would pile up one a thread.
    daphne = start_daphne(DB_POOL_SIZE=3)
    try:
        before = other_backends()
        with Load(daphne.url, cast, threads=6) as load:
            while len(load.answers) < 150:
                time.sleep(0.05)
            during = other_backends()
        assert load.statuses() <= {200, 201}, daphne.output()[-3000:]
        assert not load.failures
        assert during - before <= 3
    finally:
        daphne.stop()
    logger.info("pool of 3: %d requests, %d connections", len(load.answers), during - before)


def test_a_postgresql_restart_under_load_fails_cleanly_and_heals_without_restarting_daphne(
    cast, database_server, bg
):
    connect_all(bg, cast.clients, database_server.url)
    exchange_messages(bg, cast, 1)
    pid = database_server.process.pid

    with Load(database_server.url, cast) as load:
        time.sleep(0.5)  # warm: kept connections in every worker thread
        with outage("pg"):
            down_at = time.monotonic()
            deadline = down_at + 10
            while 503 not in load.statuses(down_at) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert 503 in load.statuses(down_at)
            # A socket send meanwhile is refused with an error event, the socket kept open.
            bg.run(cast.ann_live.send(cast.conversation.pk, "while the database is down"))
            bg.run(
                cast.ann_live.wait_for(
                    lambda: any(e["code"] == "unavailable" for e in cast.ann_live.errors),
                    what="an `unavailable` error event",
                )
            )
        up_at = time.monotonic()
        deadline = up_at + 15
        while time.monotonic() < deadline:  # until a whole second passes without a failure
            now = time.monotonic()
            recent = [status for at, _, status, _ in load.answers if at >= now - 1.0]
            if now - up_at > 1.0 and recent and max(recent) < 400:
                break
            time.sleep(0.05)
    connections.close_all()  # this process's own connection died with the server
    assert cast.ann_live.connected
    bg.run(cast.ann_live.resend_pending())  # the same client_id: stored once, now
    bg.run(cast.ann_live.wait_for(lambda: not cast.ann_live.pending, what="the resent message"))

    statuses = load.statuses()
    assert statuses <= {200, 201, 503}, statuses
    assert not load.failures
    down_pages = [
        body for _, kind, status, body in load.answers if status == 503 and kind == "page"
    ]
    down_api = [body for _, kind, status, body in load.answers if status == 503 and kind != "page"]
    assert all(b"back in a moment" in body for body in down_pages)
    assert all(b'"detail"' in body for body in down_api)
    last_failure = max(at for at, _, status, _ in load.answers if status >= 400)
    healed_after = max(0.0, last_failure - up_at)
    after = {status for at, _, status, _ in load.answers if at > last_failure}
    assert after <= {200, 201}
    assert after
    assert healed_after < 10
    assert database_server.process.poll() is None
    assert database_server.process.pid == pid

    wait_until_everyone_has_everything(bg, cast)
    close_all(bg, cast.clients)
    report = check_ledger(cast.clients, http_acked=load.acked)
    assert report.messages == 2 + len(load.acked) + 1
    assert_conversation_consistent(cast.conversation)
    logger.info(
        "pg restart: %d requests, %d answered 503, healed %.1f s after the restart; ledger %s",
        len(load.answers),
        sum(status == 503 for _, _, status, _ in load.answers),
        healed_after,
        report,
    )


# --- A daphne killed ---------------------------------------------------------------------


def test_clients_of_a_killed_daphne_resume_on_another_with_nothing_lost_or_doubled(cast, bg):
    first, second = start_daphne(), start_daphne()
    try:
        bg.run(cast.ann_live.connect(first.url))
        bg.run(cast.bob_live.connect(second.url))
        conversation_id = cast.conversation.pk
        resent = [0]

        async def burst(client: LiveClient, label: str, count: int):
            for n in range(count):
                await client.send(conversation_id, f"{label} {n}")
                await asyncio.sleep(0.01)

        async def chat_through_the_kill():
            bob = asyncio.ensure_future(burst(cast.bob_live, "bob", 30))
            await burst(cast.ann_live, "ann before", 15)
            await asyncio.to_thread(first.kill)  # frames still in flight die with it
            await cast.ann_live.wait_closed()
            await cast.ann_live.connect(second.url)
            resent[0] = len(cast.ann_live.pending)
            await cast.ann_live.resend_pending()  # same client_ids: stored at most once
            await burst(cast.ann_live, "ann after", 15)
            await bob
            for client in cast.clients:
                await client.wait_for(lambda c=client: not c.pending, what="acknowledgements")

        bg.run(chat_through_the_kill())
        wait_until_everyone_has_everything(bg, cast)
        close_all(bg, cast.clients)
    finally:
        first.stop()
        second.stop()

    assert cast.ann_live.reconnects == 1
    report = check_ledger(cast.clients)
    assert report.acknowledged == report.messages == 60
    assert_conversation_consistent(cast.conversation)
    logger.info("daphne killed: resent after reconnect %d; ledger %s", resent[0], report)
