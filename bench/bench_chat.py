"""Chat delivery: real daphne, real Redis, real sockets from this separate load process,
against a floor (bench/relay.py: the `websockets` package + Redis pub/sub, same fan-out).

For 200 and 1,000 connected bunnies (pairs of friends, one conversation each) and 200 and
500 messages per second, it sends `chat.send` frames at a steady rate for a few seconds and
measures sender-to-recipient latency (p50/p99/max), delivered messages per second, errors,
lost and duplicated messages, the server's CPU per delivered message, and its idle memory
per connected socket. daphne runs once per channel layer (CHANNEL_LAYER=pubsub and =core)
so the layer choice in settings.py rests on numbers; uvicorn (if installed) can be measured
beside it. Everything lives in its own database (`bunnybook_chatbench`) and Redis
databases, so dev and test data are never touched.

Knobs (environment): BENCH_CHAT_SOCKETS ("200,1000"), BENCH_CHAT_RATES ("200,500"),
BENCH_CHAT_SECONDS (6), BENCH_CHAT_LAYERS ("pubsub,core"), BENCH_CHAT_SERVERS ("daphne";
"daphne,uvicorn" to compare the serving setup), BENCH_CHAT_PROCESSES (2: server processes,
as docker-compose runs them, sockets spread over them; the relay stays one process),
BENCH_CHAT_WINDOWS (3: each rate is sent in this many windows, the systems taking turns,
all of them up at once, so that the noise of a shared machine falls on the floor and on us
alike).
"""

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_CHAT_DATABASE", "bunnybook_chatbench")
SOCKETS = [int(n) for n in os.environ.get("BENCH_CHAT_SOCKETS", "200,1000").split(",")]
RATES = [int(n) for n in os.environ.get("BENCH_CHAT_RATES", "200,500").split(",")]
SECONDS = float(os.environ.get("BENCH_CHAT_SECONDS", "6"))
LAYERS = os.environ.get("BENCH_CHAT_LAYERS", "pubsub,core").split(",")
SERVERS = os.environ.get("BENCH_CHAT_SERVERS", "daphne").split(",")
# Server processes per system (sockets spread over them, as a router would).
PROCESSES = int(os.environ.get("BENCH_CHAT_PROCESSES", "2"))
# Each rate's seconds are sent in this many windows, the systems taking turns.
WINDOWS = int(os.environ.get("BENCH_CHAT_WINDOWS", "3"))
TARGETS = {"p50_over_floor_max": 2.0, "p99_over_floor_max": 3.0, "errors": 0, "lost": 0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with_db(url: str, index: int) -> str:
    return f"{url.rsplit('/', 1)[0]}/{index}"


def _cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU the process has used so far; with `reaped_children`, also that of
    its children that have exited and been waited for (a gunicorn master's recycled workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait_http(url: str, process, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local server
                return
        except OSError as error:
            if getattr(error, "code", None):  # any HTTP answer means it is up
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _wait_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


# --- Child: data, servers, load ----------------------------------------------------------


def _seed(count: int):
    """`count` bunnies in friendly pairs, each pair with its conversation."""
    from django.db import transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from chat.models import Conversation, ConversationKind, Participant
    from social.models import Friendship

    with transaction.atomic():
        User.objects.filter(username__startswith="cb_").delete()
        Conversation.objects.filter(participants__isnull=True).delete()
        users = User.objects.bulk_create(
            [
                User(username=f"cb_{n}", email=f"cb_{n}@bench.test", password="!")  # noqa: S106
                for n in range(count)
            ]
        )
        pairs = [(users[n], users[n + 1]) for n in range(0, count - 1, 2)]
        Friendship.objects.bulk_create(
            [Friendship(user_a_id=a.pk, user_b_id=b.pk) for a, b in pairs]
        )
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(kind=ConversationKind.DIRECT, pair_key=f"{a.pk}:{b.pk}")
                for a, b in pairs
            ]
        )
        Participant.objects.bulk_create(
            [
                Participant(conversation=c, user=user)
                for c, pair in zip(conversations, pairs, strict=True)
                for user in pair
            ]
        )
    tokens = {user.pk: str(AccessToken.for_user(user)) for user in users}
    return [(c.pk, a.pk, b.pk) for c, (a, b) in zip(conversations, pairs, strict=True)], tokens


class Load:
    """N sockets, a steady stream of sends, latency at the recipient."""

    def __init__(self, urls: list[str], kind: str, pairs, tokens):
        self.urls, self.kind, self.pairs, self.tokens = urls, kind, pairs, tokens
        self.sockets: dict[int, object] = {}
        self.latencies: list[float] = []
        self.received: dict[str, int] = {}
        self.errors = 0
        self.connect_errors = 0
        self.skipped = 0
        self.last_received = 0.0
        self.readers: list[asyncio.Task] = []
        self.serial = 0  # numbers every message this load sends, across windows
        self.expected = 0  # messages sent since `received` was last emptied

    async def _open(self, user_id: int, gate: asyncio.Semaphore):
        try:
            await self._open_one(user_id, gate)
        except Exception:  # noqa: BLE001 - a socket that cannot connect is an error, not a crash
            self.connect_errors += 1

    async def _open_one(self, user_id: int, gate: asyncio.Semaphore):
        import websockets

        async with gate:
            path = "/" if self.kind == "floor" else "/ws/api/"
            url = self.urls[user_id % len(self.urls)]
            ws = await websockets.connect(url + path, max_queue=None, open_timeout=60)
            if self.kind != "floor":
                await ws.send(json.dumps({"type": "auth", "token": self.tokens[user_id]}))
                while json.loads(await ws.recv())["type"] != "ready":
                    pass
                await ws.send(json.dumps({"type": "ping"}))  # go live at once
                while json.loads(await ws.recv())["type"] != "pong":
                    pass
            else:
                await ws.send(json.dumps({"user": user_id}))
                await ws.recv()
            self.sockets[user_id] = ws
            self.readers.append(asyncio.create_task(self._read(user_id, ws)))

    async def _read(self, user_id: int, ws):
        import websockets

        try:
            async for raw in ws:
                now = time.time()
                event = json.loads(raw)
                if event.get("type") == "error":
                    self.errors += 1
                if event.get("type") != "chat.message":
                    continue
                message = event["message"]
                sender = message["from"] if self.kind == "floor" else message["sender"]["id"]
                if sender == user_id:
                    continue  # the sender's own copy
                key, sent_at = message["body"].split("|")
                self.last_received = now
                self.received[key] = self.received.get(key, 0) + 1
                self.latencies.append((now - float(sent_at)) * 1000)
        except websockets.ConnectionClosed:
            self.errors += 1

    async def connect(self):
        gate = asyncio.Semaphore(50)
        users = [user for _, a, b in self.pairs for user in (a, b)]
        await asyncio.gather(*(self._open(user, gate) for user in users))

    async def send(self, rate: int, seconds: float) -> tuple[int, float]:
        """Returns how many were sent and the seconds from the first send to the last
        delivery (so a backlog lowers the rate)."""
        total = int(rate * seconds)
        skipped_before = self.skipped
        start = time.monotonic()
        started_at = time.time()
        for n in range(total):
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            conversation_id, a, b = random.choice(self.pairs)
            sender, recipient = (a, b) if random.random() < 0.5 else (b, a)
            if sender not in self.sockets or recipient not in self.sockets:
                sender, recipient = recipient, sender
                if sender not in self.sockets or recipient not in self.sockets:
                    self.skipped += 1
                    continue
            self.serial += 1
            frame = {
                "type": "chat.send",
                "conversation_id": conversation_id,
                "body": f"{self.serial}|{time.time():.6f}",
                "client_id": str(uuid.uuid4()),
                "to": recipient,
                "from": sender,
            }
            await self.sockets[sender].send(json.dumps(frame))
        sent_for = time.monotonic() - start
        self.expected += total - (self.skipped - skipped_before)
        deadline = time.monotonic() + 15
        while len(self.received) < self.expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return total, max(sent_for, self.last_received - started_at)

    async def close(self):
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)


def _figures(load: Load, total: int, sent_for: float, cpu_seconds: float) -> dict:
    lat = sorted(load.latencies)
    return {
        "server_cpu_ms_per_msg": round(cpu_seconds * 1000 / max(1, len(load.received)), 2),
        "sent": total - load.skipped,
        "delivered": len(load.received),
        "lost": total - load.skipped - len(load.received),
        "duplicated": sum(count - 1 for count in load.received.values()),
        "errors": load.errors + load.connect_errors,
        "sockets_connected": len(load.sockets),
        "msgs_per_s": round(len(load.received) / sent_for, 1),
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2) if lat else None,
        "max_ms": round(lat[-1], 2) if lat else None,
    }


def _start_server(kind: str, layer: str, env: dict):
    port = _free_port()
    if kind == "floor":
        command = [sys.executable, str(ROOT / "bench" / "relay.py"), str(port), env["REDIS_URL"]]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        _wait_port(port)
        return process, f"ws://127.0.0.1:{port}"
    server = Path(sys.executable).with_name(kind)
    if kind == "uvicorn":
        command = [str(server), "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets"]
        command += ["--log-level", "warning", "--no-access-log"]
    else:
        command = [str(server), "-b", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "bunnybook.asgi:application"],
        cwd=ROOT,
        env={**env, "CHANNEL_LAYER": layer},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_http(f"http://127.0.0.1:{port}/healthz/", process)
    return process, f"ws://127.0.0.1:{port}"


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


class System:
    """One server setup (the floor, or our server on a layer) with its load, up and
    connected; `window` sends at a rate for a while and adds to the figures of that rate."""

    def __init__(self, kind: str, layer: str, processes: list, load: Load, idle_kb: float):
        self.name = "floor" if kind == "floor" else f"{kind}_{layer}"
        self.processes, self.load = processes, load
        self.idle = {"processes": len(processes), "idle_kb_per_socket": idle_kb}
        self.reset()

    @classmethod
    async def up(cls, kind: str, layer: str, env: dict, pairs, tokens) -> "System":
        count = 1 if kind == "floor" else PROCESSES
        started = [_start_server(kind, layer, env) for _ in range(count)]
        processes = [process for process, _ in started]
        _log("started", kind, layer, [url for _, url in started])
        before = sum(_rss_kb(process.pid) for process in processes)
        load = Load([url for _, url in started], kind, pairs, tokens)
        system = cls(kind, layer, processes, load, 0.0)
        await load.connect()
        _log("connected", len(load.sockets))
        await asyncio.sleep(2)
        after = sum(_rss_kb(process.pid) for process in processes)
        system.idle["idle_kb_per_socket"] = round((after - before) / max(1, len(load.sockets)), 1)
        return system

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(process.pid) for process in self.processes)

    def reset(self) -> None:
        self.load.latencies, self.load.received, self.load.errors, self.load.skipped = [], {}, 0, 0
        self.load.expected = 0
        self.total, self.sent_for, self.cpu = 0, 0.0, 0.0

    async def window(self, rate: int, seconds: float) -> None:
        cpu_before = self.cpu_seconds()
        total, sent_for = await self.load.send(rate, seconds)
        self.cpu += self.cpu_seconds() - cpu_before
        self.total += total
        self.sent_for += sent_for

    def figures(self) -> dict:
        return _figures(self.load, self.total, self.sent_for, self.cpu)

    async def down(self) -> None:
        await self.load.close()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def _compare(specs: list[tuple[str, str, list]], env: dict, tokens) -> dict:
    """Every system up and connected at once; each rate is sent in WINDOWS short windows,
    the systems taking turns, so that a busy moment of this shared machine falls on all of
    them alike and the ratios compare like with like. Each of our servers gets bunnies of
    its own (`specs`: kind, layer, pairs): a bunny connected to two of them would be one
    bunny with two devices, and rightly hear of the other's messages."""
    systems: list[System] = []
    try:
        for kind, layer, pairs in specs:
            systems.append(await System.up(kind, layer, env, pairs, tokens))
        results = {system.name: dict(system.idle) for system in systems}
        for rate in RATES:
            for system in systems:
                system.reset()
            for turn in range(WINDOWS):
                for system in systems if turn % 2 == 0 else systems[::-1]:
                    await system.window(rate, SECONDS / WINDOWS)
                    await asyncio.sleep(0.5)
            for system in systems:
                results[system.name][f"{rate}_per_s"] = system.figures()
                _log(system.name, rate, results[system.name][f"{rate}_per_s"])
        return results
    finally:
        for system in systems:
            await system.down()


def child() -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    env = dict(os.environ)
    report = {"seconds_per_rate": SECONDS, "targets": TARGETS}
    for count in SOCKETS:
        systems = [(server, layer) for server in SERVERS for layer in LAYERS]
        if "uvicorn" in SERVERS and not Path(sys.executable).with_name("uvicorn").exists():
            systems = [(server, layer) for server, layer in systems if server != "uvicorn"]
        pairs, tokens = _seed(count * len(systems))
        per_system = [pairs[n * count // 2 : (n + 1) * count // 2] for n in range(len(systems))]
        specs = [("floor", "", per_system[0])]
        specs += [(*system, mine) for system, mine in zip(systems, per_system, strict=True)]
        figures = asyncio.run(_compare(specs, env, tokens))
        for server, layer in systems:
            for rate in RATES:
                ours, floor = (
                    figures[f"{server}_{layer}"][f"{rate}_per_s"],
                    figures["floor"][f"{rate}_per_s"],
                )
                if ours["p50_ms"] and floor["p50_ms"]:
                    ours["p50_over_floor"] = round(ours["p50_ms"] / floor["p50_ms"], 2)
                    ours["p99_over_floor"] = round(ours["p99_ms"] / floor["p99_ms"], 2)
                if floor["server_cpu_ms_per_msg"]:
                    ours["cpu_over_floor"] = round(
                        ours["server_cpu_ms_per_msg"] / floor["server_cpu_ms_per_msg"], 2
                    )
        report[f"{count}_sockets"] = figures
    return report


# --- Parent: a private database, then the child -------------------------------------------


def _ensure_database(url: str, name: str = BENCH_DB) -> str:
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def run_in_child(script: str, env: dict) -> dict:
    """Run `script --child` with `env` (its own settings: bench database, Redis db) and
    return the JSON report it prints last, or its error output."""
    done = subprocess.run(
        [sys.executable, script, "--child"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-3000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> dict:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        return {"skipped": "needs the services (make services, then make bench)"}
    env = {
        **os.environ,
        "DATABASE_URL": _ensure_database(database_url),
        "REDIS_URL": _with_db(redis_url, 5),
        "CACHE_URL": _with_db(os.environ.get("CACHE_URL", redis_url), 5),
        "DJANGO_SETTINGS_MODULE": "bunnybook.settings",
        "PYTHONPATH": str(ROOT),
        # Served like production (no DEBUG), without per-bunny rate limits: the load is
        # spread over all senders, the limit is not what is measured.
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-" + "k" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "ERROR",
        "CHAT_MESSAGE_RATE": "1000000",
        # Persistent connections: with 0, every database hop of a consumer reconnects.
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "600"),
    }
    return run_in_child(__file__, env)


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child()))
    else:
        print(json.dumps(run(), indent=2))
