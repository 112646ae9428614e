"""Presence and typing: what idle connected bunnies cost, and how fast their news travels.

Real daphne, a private Redis server (so its INFO commandstats count only this benchmark's
operations), real sockets from this separate load process, against a floor measured in the
same run: the bare relay of bench/relay.py (the `websockets` package + Redis pub/sub) holding
the same sockets and doing the same fan-out.

- idle: N bunnies with F friends each, all connected, doing nothing for a while: the
  server's CPU seconds and Redis operations per minute (presence heartbeats and whatever
  else idle sockets cost). Floor: the relay holding as many idle sockets.
- fan-out: a bunny's first socket opening (presence online) and her last one closing
  (presence offline: "time from the last socket closing to friends being told") to F online
  friends, and to H for a bunny with H friends; a typing frame in a group conversation of
  F + 1 and H + 1 bunnies. Latency is from the client's action to each friend's socket
  receiving the event. Floor: the relay publishing one event to as many sockets.

Knobs (environment): BENCH_PRESENCE_BUNNIES (1000), BENCH_PRESENCE_FRIENDS (50),
BENCH_PRESENCE_HUB (500), BENCH_PRESENCE_IDLE_SECONDS (60), BENCH_PRESENCE_ROUNDS (20),
BENCH_PRESENCE_PROCESSES (2: daphne processes, as docker-compose runs them, each bunny's
socket on one of them by her id, as the router spreads them; the relay stays one process);
BENCH_PRESENCE_SOCKETS ("api": JSON events on /ws/api/; "page": the browser's socket, /ws/
with a session, HTML fragments); BENCH_SCALE=small shrinks them all.
"""

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from bench_chat import (  # noqa: E402 - bench/ is put on the path just above
    _cpu_seconds,
    _ensure_database,
    _free_port,
    _log,
    _wait_http,
    _wait_port,
    run_in_child,
)

SMALL = os.environ.get("BENCH_SCALE") == "small"
BENCH_DB = "bunnybook_presencebench"
BUNNIES = int(os.environ.get("BENCH_PRESENCE_BUNNIES", "300" if SMALL else "1000"))
FRIENDS = int(os.environ.get("BENCH_PRESENCE_FRIENDS", "50"))
HUB = int(os.environ.get("BENCH_PRESENCE_HUB", "250" if SMALL else "500"))
IDLE_SECONDS = float(os.environ.get("BENCH_PRESENCE_IDLE_SECONDS", "10" if SMALL else "60"))
ROUNDS = int(os.environ.get("BENCH_PRESENCE_ROUNDS", "8" if SMALL else "20"))
PROCESSES = int(os.environ.get("BENCH_PRESENCE_PROCESSES", "2"))
PAGE_SOCKETS = os.environ.get("BENCH_PRESENCE_SOCKETS", "api") == "page"
# What a page socket's HTML says: a bunny's presence dot, and someone typing.
PRESENCE_DOT = re.compile(r'class="presence presence-u(\d+)( is-online)?"')
TYPING_LINE = re.compile(r'id="typing-\d+"')
HEARTBEAT = 4.0
TARGETS = {"fanout_50_p99_ms_max": 10, "fanout_500_p99_ms_max": 50}


def _quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


# --- Private Redis --------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self):
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-presence-redis-")
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}"

    def calls(self) -> dict[str, int]:
        """Commands run so far, by name (INFO commandstats), less our own INFO calls."""
        import redis

        stats = redis.Redis.from_url(self.url).info("commandstats")
        return {name.removeprefix("cmdstat_"): row["calls"] for name, row in stats.items()}

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _ops_between(before: dict, after: dict) -> tuple[int, dict]:
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta.pop("info", None)
    delta = {name: count for name, count in delta.items() if count > 0}
    return sum(delta.values()), dict(sorted(delta.items(), key=lambda item: -item[1])[:8])


# --- Data -------------------------------------------------------------------------------------


def _seed():
    """BUNNIES bunnies, each the friend of the FRIENDS around her in a ring; ROUNDS subjects
    (offline at first) with FRIENDS friends each; a hub with HUB friends; and two group
    conversations of the hub with FRIENDS and with HUB of them, for typing."""
    from django.db import transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from chat.models import Conversation, ConversationKind, Participant
    from social.models import Friendship

    with transaction.atomic():
        User.objects.filter(username__startswith="pb_").delete()
        Conversation.objects.filter(participants__isnull=True).delete()
        names = [f"pb_{n}" for n in range(BUNNIES)]
        names += [f"pb_subject_{n}" for n in range(ROUNDS)] + ["pb_hub"]
        users = User.objects.bulk_create(
            [User(username=name, email=f"{name}@bench.test", password="!") for name in names]  # noqa: S106
        )
        ring, subjects, hub = users[:BUNNIES], users[BUNNIES:-1], users[-1]
        pairs = set()
        for n, user in enumerate(ring):
            for step in range(1, FRIENDS // 2 + 1):
                pairs.add(Friendship.ordered(user.pk, ring[(n + step) % BUNNIES].pk))
        for n, subject in enumerate(subjects):
            for k in range(FRIENDS):
                pairs.add(Friendship.ordered(subject.pk, ring[(n * FRIENDS + k) % BUNNIES].pk))
        for friend in ring[:HUB]:
            pairs.add(Friendship.ordered(hub.pk, friend.pk))
        Friendship.objects.bulk_create([Friendship(user_a_id=a, user_b_id=b) for a, b in pairs])
        groups = {}
        for size in (FRIENDS, HUB):
            group = Conversation.objects.create(kind=ConversationKind.GROUP, title=f"{size}")
            Participant.objects.bulk_create(
                [Participant(conversation=group, user=user) for user in [hub, *ring[:size]]]
            )
            groups[size] = group.pk
    tokens = {user.pk: str(AccessToken.for_user(user)) for user in users}
    cookies = _session_cookies(users) if PAGE_SOCKETS else {}
    subject_friends = {
        subject.pk: {ring[(n * FRIENDS + k) % BUNNIES].pk for k in range(FRIENDS)}
        for n, subject in enumerate(subjects)
    }
    return {
        "ring": [user.pk for user in ring],
        "subjects": subject_friends,
        "hub": hub.pk,
        "hub_friends": {user.pk for user in ring[:HUB]},
        "groups": groups,
        "tokens": tokens,
        "cookies": cookies,
    }


def _session_cookies(users) -> dict[int, str]:
    from django.test import Client

    cookies = {}
    for user in users:
        client = Client()
        client.force_login(user)
        cookies[user.pk] = f"sessionid={client.cookies['sessionid'].value}"
    return cookies


# --- Load -------------------------------------------------------------------------------------


class Sockets:
    """The load: one socket per bunny, each noting when events arrive."""

    def __init__(self, urls: list[str], floor: bool, tokens: dict, cookies: dict | None = None):
        self.urls, self.floor, self.tokens = urls, floor, tokens
        self.cookies = cookies  # page sockets when given
        self.sockets: dict[int, object] = {}
        self.readers: list[asyncio.Task] = []
        self.arrivals: dict[tuple, list[float]] = {}  # (kind, user, online) -> arrival times
        self.errors = 0

    async def open(self, user_id: int) -> object:
        import websockets

        url = self.urls[user_id % len(self.urls)]
        if self.floor:
            ws = await websockets.connect(url + "/", max_queue=None, open_timeout=60)
            await ws.send(json.dumps({"user": user_id}))
            await ws.recv()
        elif self.cookies:
            headers = {"Cookie": self.cookies[user_id], "Origin": "http://127.0.0.1"}
            ws = await websockets.connect(
                url + "/ws/", max_queue=None, open_timeout=60, additional_headers=headers
            )
            # Live once it answers: the resume ends with her friends' dots.
            await ws.send(json.dumps({"type": "resume", "after": 0}))
            await ws.recv()
        else:
            ws = await websockets.connect(url + "/ws/api/", max_queue=None, open_timeout=60)
            await ws.send(json.dumps({"type": "auth", "token": self.tokens[user_id]}))
            while json.loads(await ws.recv())["type"] != "ready":
                pass
            await ws.send(json.dumps({"type": "ping"}))  # go live at once
        self.sockets[user_id] = ws
        self.readers.append(asyncio.create_task(self._read(ws)))
        return ws

    async def open_all(self, user_ids):
        gate = asyncio.Semaphore(50)

        async def one(user_id):
            async with gate:
                try:
                    await self.open(user_id)
                except Exception:  # noqa: BLE001 - counted, not fatal
                    self.errors += 1

        await asyncio.gather(*(one(user_id) for user_id in user_ids))

    async def _read(self, ws):
        import websockets

        try:
            async for raw in ws:
                now = time.perf_counter()
                if self.cookies:
                    self._note_page_events(raw, now)
                    continue
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "error":
                    self.errors += 1
                elif kind in ("presence", "chat.typing", "fanout"):
                    key = (kind, event.get("user_id"), event.get("online"))
                    self.arrivals.setdefault(key, []).append(now)
        except websockets.ConnectionClosed:
            pass

    def _note_page_events(self, html: str, now: float):
        for user_id, online in PRESENCE_DOT.findall(html):
            self.arrivals.setdefault(("presence", int(user_id), bool(online)), []).append(now)
        if TYPING_LINE.search(html):  # the hub is the one typist
            self.arrivals.setdefault(("chat.typing", None, None), []).append(now)

    async def wait_for(
        self, key: tuple, count: int, started: float, timeout: float = 5.0
    ) -> list[float]:
        """Arrivals of `key` since `started` once `count` came (or at the timeout). Earlier
        ones are dropped, never counted: late ones of an earlier round, and the dots of a
        page socket's first frame (every friend's presence as it was then)."""

        def since_started() -> list[float]:
            return [arrival for arrival in self.arrivals.get(key, ()) if arrival >= started]

        deadline = time.perf_counter() + timeout
        while len(since_started()) < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.002)
        arrivals = since_started()
        self.arrivals.pop(key, None)
        return arrivals

    async def close(self):
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)


def _ms_since(started: float, arrivals: list[float]) -> list[float]:
    return [(arrival - started) * 1000 for arrival in arrivals]


def _cpu_of(pids: list[int]) -> float:
    return sum(_cpu_seconds(pid) for pid in pids)


async def _idle(pids: list[int], redis: PrivateRedis) -> dict:
    await asyncio.sleep(HEARTBEAT)  # past the connection storm's announcements
    cpu_before, ops_before = _cpu_of(pids), redis.calls()
    await asyncio.sleep(IDLE_SECONDS)
    cpu = _cpu_of(pids) - cpu_before
    ops, top = _ops_between(ops_before, redis.calls())
    per_minute = 60 / IDLE_SECONDS
    return {
        "cpu_s_per_min": round(cpu * per_minute, 3),
        "redis_ops_per_min": round(ops * per_minute),
        "redis_ops_by_command": top,
    }


async def _ours(urls: list[str], pids: list[int], redis: PrivateRedis, data: dict) -> dict:
    load = Sockets(urls, floor=False, tokens=data["tokens"], cookies=data["cookies"])
    await load.open_all(data["ring"])
    _log("presence bench: connected", len(load.sockets), "errors", load.errors)
    result = {"sockets": len(load.sockets), "idle": await _idle(pids, redis)}
    fanout = {"online_50": [], "offline_50": [], "online_hub": [], "offline_hub": []}
    subjects = list(data["subjects"].items())
    rounds = [(s, friends, "50") for s, friends in subjects]
    rounds += [(data["hub"], data["hub_friends"], "hub")] * max(3, ROUNDS // 2)
    told = {name: 0 for name in fanout}  # friends who should have heard, to count losses
    for subject, friends, size in rounds:
        online = [user_id for user_id in friends if user_id in load.sockets]
        started = time.perf_counter()
        try:
            ws = await load.open(subject)
        except Exception:  # noqa: BLE001 - a server that cannot take the socket: counted
            load.errors += 1
            continue
        arrivals = await load.wait_for(("presence", subject, True), len(online), started)
        fanout[f"online_{size}"] += _ms_since(started, arrivals)
        told[f"online_{size}"] += len(online)
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        await ws.close()
        arrivals = await load.wait_for(("presence", subject, False), len(online), started)
        fanout[f"offline_{size}"] += _ms_since(started, arrivals)
        told[f"offline_{size}"] += len(online)
        del load.sockets[subject]
        await asyncio.sleep(0.2)
    typing = {"50": [], "hub": []}
    try:
        hub_ws = await load.open(data["hub"])
    except Exception:  # noqa: BLE001 - as above
        load.errors += 1
        hub_ws = None
    await asyncio.sleep(0.5)
    for _ in range(ROUNDS if hub_ws else 0):
        for size, label in ((FRIENDS, "50"), (HUB, "hub")):
            frame = {"type": "chat.typing", "conversation_id": data["groups"][size]}
            started = time.perf_counter()
            await hub_ws.send(json.dumps(frame))
            typist = None if PAGE_SOCKETS else data["hub"]
            arrivals = await load.wait_for(("chat.typing", typist, None), size, started)
            typing[label] += _ms_since(started, arrivals)
        await asyncio.sleep(0.3)  # past the typing throttle
    await load.close()
    result["presence_missed"] = {
        name: told[name] - len(values) for name, values in fanout.items() if told[name]
    }
    result["presence"] = {name: _quantiles(values) for name, values in fanout.items()}
    result["typing"] = {name: _quantiles(values) for name, values in typing.items()}
    result["errors"] = load.errors
    return result


async def _floor(url: str, pid: int, redis: PrivateRedis, data: dict) -> dict:
    load = Sockets([url], floor=True, tokens={})
    await load.open_all(data["ring"])
    result = {"sockets": len(load.sockets), "idle": await _idle([pid], redis)}
    sender = await load.open(data["hub"])
    fanout = {"50": [], "hub": []}
    recipients = {"50": data["ring"][:FRIENDS], "hub": data["ring"][:HUB]}
    for _ in range(ROUNDS * 2):
        for label, to in recipients.items():
            event = {"type": "fanout", "user_id": data["hub"], "online": True}
            started = time.perf_counter()
            await sender.send(json.dumps({"type": "fanout", "to": to, "event": event}))
            arrivals = await load.wait_for(("fanout", data["hub"], True), len(to), started)
            fanout[label] += _ms_since(started, arrivals)
            await asyncio.sleep(0.05)
    await load.close()
    result["fanout"] = {name: _quantiles(values) for name, values in fanout.items()}
    return result


def _start_daphne(env: dict) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    daphne = Path(sys.executable).with_name("daphne")
    process = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "bunnybook.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_http(f"http://127.0.0.1:{port}/healthz/", process)
    return process, f"ws://127.0.0.1:{port}"


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _ratio(figure, floor):
    return round(figure / floor, 2) if figure is not None and floor else None


def _table(ours: dict, floor: dict) -> list:
    rows = []
    idle, bare = ours["idle"], floor["idle"]
    n = ours["sockets"]
    servers = f", {PROCESSES} daphnes" if PROCESSES > 1 else ""
    servers += ", page sockets" if PAGE_SOCKETS else ""
    for what, key, unit in (
        ("CPU", "cpu_s_per_min", "CPU s/min"),
        ("Redis ops", "redis_ops_per_min", "ops/min"),
    ):
        rows.append(
            [
                f"presence idle {what}, {n} bunnies x {FRIENDS} friends{servers}",
                f"{idle[key]} {unit}",
                f"{bare[key]} {unit} relay",
                _ratio(idle[key], bare[key]),
            ]
        )
    labels = {"50": FRIENDS, "hub": HUB}
    for label, size in labels.items():
        bare_p99 = floor["fanout"][label].get("p99_ms")
        for name, got in (
            (f"presence online -> {size} friends", ours["presence"][f"online_{label}"]),
            (f"last socket closed -> {size} friends told", ours["presence"][f"offline_{label}"]),
            (f"typing -> {size} in a group", ours["typing"][label]),
        ):
            rows.append(
                [
                    f"{name} (p50 {got.get('p50_ms')} ms)",
                    f"p99 {got.get('p99_ms')} ms",
                    f"p99 {bare_p99} ms relay",
                    _ratio(got.get("p99_ms"), bare_p99),
                ]
            )
    return rows


def child() -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    data = _seed()
    redis = PrivateRedis()
    env = {
        **os.environ,
        "REDIS_URL": f"{redis.url}/0",
        "CACHE_URL": f"{redis.url}/1",
        "PRESENCE_HEARTBEAT": str(HEARTBEAT),
        "TYPING_THROTTLE": "0.2",
        "CHAT_TYPING_RATE": "1000000",
    }
    report = {
        "bunnies": BUNNIES,
        "friends_each": FRIENDS,
        "hub_friends": HUB,
        "idle_seconds": IDLE_SECONDS,
        "rounds": ROUNDS,
        "daphne_processes": PROCESSES,
        "sockets": "page" if PAGE_SOCKETS else "api",
        "targets": TARGETS,
    }
    try:
        relay = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "relay.py"), str(port := _free_port()), redis.url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_port(port)
            report["floor"] = asyncio.run(_floor(f"ws://127.0.0.1:{port}", relay.pid, redis, data))
        finally:
            _stop(relay)
        servers = [_start_daphne(env) for _ in range(PROCESSES)]
        try:
            urls, pids = [url for _, url in servers], [process.pid for process, _ in servers]
            report["daphne"] = asyncio.run(_ours(urls, pids, redis, data))
        finally:
            for process, _ in servers:
                _stop(process)
    finally:
        redis.stop()
    report["table"] = _table(report["daphne"], report["floor"])
    return report


def run() -> dict:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or not shutil.which("redis-server"):
        return {"skipped": "needs PostgreSQL (make services) and redis-server"}
    env = {
        **os.environ,
        "DATABASE_URL": _ensure_database(database_url, BENCH_DB),
        "DJANGO_SETTINGS_MODULE": "bunnybook.settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-" + "k" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "ERROR",
        "NEO4J_URI": "",
        "CHANNEL_LAYER_PREFIX": "pb",
        "DB_CONN_MAX_AGE": "600",
    }
    return run_in_child(__file__, env)


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child()))
    else:
        print(json.dumps(run(), indent=2))
