"""The load soak: 500 bunnies chatting over sockets and 100 HTTP requests a second for a few
minutes against the production topology on the real services (pages and API on gunicorn
sync workers, sockets on two daphne processes sharing database pools), then a reconnect
storm (every socket dropped at once while messages keep arriving over HTTP, then all back
at once with `resume`). Prints its figures as JSON: errors, chat latency sender -> recipient
(p50/p99), HTTP latency, the servers' memory growth from the end of a warm-up to the end of
the soak, and the ledger check (bunnybook/tests/ledger.py): everything acknowledged is stored
once and reached every participant once, no gaps. The floor, in the same run: the bare
relay (bench/relay.py) carrying the same chat rate between as many sockets for a minute while
the same HTTP load goes on; the chat's p99 is reported over the floor's.

    .venv/bin/python bench/soak.py --minutes 1      (with the env of services/env)

Everything lives in its own database (`bunnybook_soak`) and Redis database 5; the servers run
as in production (DEBUG off, collected static files), with chat rate limits lifted: the load
is spread over all senders, and the limit is not what is measured. Any setting may be passed
through the environment (e.g. PRESENCE_HEARTBEAT=15). Each daphne's stderr is kept in
var/soak/. Loopback only; bounded in time and count.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_chat import Load as RelayLoad  # noqa: E402 - bench/ is put on the path just above
from bench_chat import _cpu_seconds, _start_server  # noqa: E402
from bench_pages import start_gunicorn  # noqa: E402

SOAK_DB = "bunnybook_soak"
LOG_DIR = ROOT / "var" / "soak"  # each daphne's stderr, for the errors behind the figures
WARM_UP_SECONDS = 30  # caches fill and workers settle before memory is first read
FLOOR_SECONDS = 60  # the bare relay under the same load, after the soak (at most as long)
DAPHNE_POOL_SIZE = 20  # as docker-compose's sockets service
TARGETS = {
    "errors": 0,
    "chat_p99_ms_max": 250,
    "chat_p99_over_floor_max": 3,
    "memory_growth_max": 0.10,
    "lost": 0,
}


def _with_db(url: str, index: int) -> str:
    return f"{url.rsplit('/', 1)[0]}/{index}"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _live_workers(pid: int) -> list[int]:
    """A gunicorn master's live workers."""
    return list(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 2)


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- Setup: a private database and environment -------------------------------------------


def _environment() -> dict:
    import psycopg

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("needs the services: make services; set -a; . services/env; set +a")
    base, _, _ = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SOAK_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{SOAK_DB}"')
    static_root = Path(tempfile.gettempdir()) / "bunnybook-soak-static"
    return {
        **os.environ,
        "DATABASE_URL": f"{base}/{SOAK_DB}",
        "REDIS_URL": _with_db(os.environ["REDIS_URL"], 5),
        "CACHE_URL": _with_db(os.environ.get("CACHE_URL", os.environ["REDIS_URL"]), 5),
        "CHANNEL_LAYER_PREFIX": "soak",
        "CACHE_KEY_PREFIX": "soak",
        "NEO4J_URI": "",
        "DJANGO_SETTINGS_MODULE": "bunnybook.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "soak-only-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "ERROR",
        "CHAT_MESSAGE_RATE": "1000000",
        "JWT_ACCESS_MINUTES": "120",
        "DB_CONN_MAX_AGE": "600",
    }


def _seed(count: int):
    """`count` bunnies in friendly pairs, each pair with its conversation, and a post each
    so that feeds have something to show. Returns the pairs and each bunny's session."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client

    from chat.models import Conversation, ConversationKind, Participant
    from social.models import Friendship, Post

    User = get_user_model()
    with transaction.atomic():
        User.objects.filter(username__startswith="soak_").delete()
        Conversation.objects.filter(participants__isnull=True).delete()
        users = User.objects.bulk_create(
            [
                User(username=f"soak_{n}", email=f"soak_{n}@bench.test", password="!")  # noqa: S106
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
        Post.objects.bulk_create(
            [Post(author=user, wall=user, body=f"Soak post of {user.username}") for user in users]
        )
    cookies = {}
    for user in users[:20]:  # page traffic comes from a few logged-in browsers
        client = Client()
        client.force_login(user)
        cookies[user.pk] = f"sessionid={client.cookies['sessionid'].value}"
    return users, [(c.pk, a, b) for c, (a, b) in zip(conversations, pairs, strict=True)], cookies


def _start_daphne(env: dict, port: int) -> subprocess.Popen:
    from bunnybook.tests.ledger import http

    daphne = Path(sys.executable).with_name("daphne")
    log = LOG_DIR / f"daphne-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "bunnybook.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http(f"http://127.0.0.1:{port}/healthz/", timeout=1).status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("daphne did not answer within 30 s")


# --- Load ------------------------------------------------------------------------------


def _chat_client_class():
    from bunnybook.tests.ledger import LiveClient

    class TimedClient(LiveClient):
        """Measures sender -> recipient latency from the send time carried in the body."""

        delivery_ms: list[float]

        def _take(self, event: dict) -> None:
            super()._take(event)
            if event.get("type") == "chat.message" and "seq" in event:
                message = event["message"]
                if message["sender"]["username"] != self.username and "|" in message["body"]:
                    sent_at = float(message["body"].rsplit("|", 1)[1])
                    self.delivery_ms.append((time.time() - sent_at) * 1000)

    return TimedClient


class HttpLoad:
    """`rate` requests a second from a thread pool: API reads, pages, and chat sends over
    HTTP (retried with the same client_id until acknowledged)."""

    def __init__(self, bases: list[str], pairs, clients: dict, cookies: dict, rate: int):
        self.bases, self.pairs, self.clients, self.cookies = bases, pairs, clients, cookies
        self.rate = rate
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.acked: dict[tuple[int, str], int] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _one(self, n: int) -> None:
        from bunnybook.tests.ledger import http, send_over_http

        base = self.bases[n % len(self.bases)]
        conversation_id, first, _ = random.choice(self.pairs)
        sender = self.clients[first.pk]
        choice = random.random()
        started = time.monotonic()
        try:
            if choice < 0.1:  # a chat message over HTTP, part of the ledger
                client_id = str(uuid.uuid4())
                for _ in range(5):
                    body = f"http {n}|{time.time():.6f}"
                    answer = send_over_http(base, sender.token, conversation_id, body, client_id)
                    if answer.status in (200, 201):
                        with self._lock:
                            self.acked[(sender.user_id, client_id)] = answer.json()["id"]
                        break
            elif choice < 0.3:
                user_id = random.choice(list(self.cookies))
                answer = http(f"{base}/", cookie=self.cookies[user_id])
            elif choice < 0.65:
                answer = http(f"{base}/api/feed/", token=sender.token)
            else:
                answer = http(f"{base}/api/conversations/", token=sender.token)
        except OSError as error:
            with self._lock:
                self.errors.append(repr(error))
            return
        with self._lock:
            self.latencies.append((time.monotonic() - started) * 1000)
            self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
            if answer.status >= 400:
                self.errors.append(f"{answer.status} {answer.body[:200]!r}")

    def run(self, seconds: float, workers: int = 24) -> None:
        """Paced workers, each one request every `workers / rate` seconds; a worker that
        falls behind (a slow server) does not pile requests up: the achieved rate shows it."""
        deadline = time.monotonic() + seconds
        interval = workers / self.rate

        def work(first: int) -> None:
            next_at = time.monotonic() + first * interval / workers
            n = first
            while time.monotonic() < deadline and not self.stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._one(n)
                n += workers
                next_at += interval

        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def figures(self, seconds: float) -> dict:
        return {
            "requests": len(self.latencies),
            "target_rps": self.rate,
            "rps": round(len(self.latencies) / seconds, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": _percentile(self.latencies, 0.5),
            "p99_ms": _percentile(self.latencies, 0.99),
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
        }


async def _chat(clients, pairs, rate: float, seconds: float) -> int:
    """Messages at `rate` a second from random bunnies to their friend; returns how many."""
    start = time.monotonic()
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        conversation_id, first, second = random.choice(pairs)
        sender = clients[random.choice((first, second)).pk]
        await sender.send(conversation_id, f"socket {n}|{time.time():.6f}")
    return total


async def _floor(env: dict, pairs, chat_rate: float, seconds: float, http_load: "HttpLoad") -> dict:
    """The floor, in the same run and under the same HTTP load: the bare relay
    (bench/relay.py) carrying the soak's chat rate between as many sockets."""
    process, url = _start_server("floor", "", env)
    load = RelayLoad([url], "floor", [(c, a.pk, b.pk) for c, a, b in pairs], tokens={})
    try:
        await load.connect()
        http_thread = threading.Thread(target=http_load.run, args=(seconds,))
        http_thread.start()
        sent, _ = await load.send(chat_rate, seconds)
        await asyncio.to_thread(http_thread.join)
    finally:
        await load.close()
        process.terminate()
        process.wait(timeout=10)
    return {
        "seconds": seconds,
        "sockets": len(load.sockets),
        "sent": sent,
        "lost": sent - load.skipped - len(load.received),
        "p50_ms": _percentile(load.latencies, 0.5),
        "p99_ms": _percentile(load.latencies, 0.99),
        "http": http_load.figures(seconds),
    }


async def _connect_all(clients, bases: list[str]) -> None:
    gate = asyncio.Semaphore(50)

    async def connect(index: int, client) -> None:
        async with gate:
            await client.connect(bases[index % len(bases)], timeout=120)

    await asyncio.gather(*(connect(i, c) for i, c in enumerate(clients)))


async def _everything_arrived(clients, stored_for: dict, timeout: float) -> list[str]:
    """Wait until every client holds every message of its conversation; returns who lacks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lacking = [c.username for c in clients if not stored_for[c.user_id] <= set(c.message_ids)]
        if not lacking and not any(c.pending for c in clients):
            return []
        await asyncio.sleep(0.2)
    return lacking


def _stored_messages(pairs) -> dict[int, set[int]]:
    from chat.models import Message

    by_conversation: dict[int, set[int]] = {}
    for message_id, conversation_id in Message.objects.filter(
        conversation_id__in=[c for c, _, _ in pairs]
    ).values_list("pk", "conversation_id"):
        by_conversation.setdefault(conversation_id, set()).add(message_id)
    stored_for = {}
    for conversation_id, first, second in pairs:
        for user in (first, second):
            stored_for[user.pk] = by_conversation.get(conversation_id, set())
    return stored_for


def _memory_kb(daphnes, pages) -> list[int]:
    """Each daphne's resident memory, then gunicorn's (master and workers together)."""
    gunicorn = [pages.pid, *_live_workers(pages.pid)]
    return [_rss_kb(p.pid) for p in daphnes] + [sum(map(_rss_kb, gunicorn))]


def _cpu_use(daphnes, pages) -> dict[str, float]:
    """CPU seconds so far of the sockets, the pages and this load generator."""
    return {
        "daphnes": sum(_cpu_seconds(process.pid) for process in daphnes),
        "gunicorn": _cpu_seconds(pages.pid, reaped_children=True)
        + sum(map(_cpu_seconds, _live_workers(pages.pid))),
        "load_generator": _cpu_seconds(os.getpid()),
    }


def soak(minutes: float, bunnies: int, http_rate: int, chat_rate: float, servers: int) -> dict:
    import django

    django.setup()
    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    from bunnybook.tests.ledger import check_ledger

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    users, pairs, cookies = _seed(bunnies)
    env = dict(os.environ)
    ports = [_free_port() for _ in range(servers)]
    processes = [
        _start_daphne({**env, "DB_POOL_SIZE": str(DAPHNE_POOL_SIZE)}, port) for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    pages_port = _free_port()
    pages = start_gunicorn("bunnybook.wsgi:application", pages_port, env)
    pages_bases = [f"http://127.0.0.1:{pages_port}"]
    TimedClient = _chat_client_class()
    clients = {}
    for user in users:
        client = TimedClient.for_user(user)
        client.delivery_ms = []
        clients[user.pk] = client
    seconds = minutes * 60
    report: dict = {"minutes": minutes, "bunnies": bunnies, "servers": servers, "targets": TARGETS}
    try:
        loop_started = time.monotonic()

        async def main():
            await _connect_all(list(clients.values()), bases)
            report["connected"] = sum(c.connected for c in clients.values())
            report["connect_seconds"] = round(time.monotonic() - loop_started, 1)
            _log("connected", report["connected"], "in", report["connect_seconds"], "s")
            warm_up = HttpLoad(pages_bases, pairs, clients, cookies, http_rate)
            await asyncio.gather(
                asyncio.to_thread(warm_up.run, WARM_UP_SECONDS),
                _chat(clients, pairs, chat_rate, WARM_UP_SECONDS),
            )
            memory_start = _memory_kb(processes, pages)
            cpu_start = _cpu_use(processes, pages)
            warm_up_delivery = [ms for c in clients.values() for ms in c.delivery_ms]
            report["warm_up"] = {
                "seconds": WARM_UP_SECONDS,
                "chat_p99_ms": _percentile(warm_up_delivery, 0.99),
                "http": warm_up.figures(WARM_UP_SECONDS),
            }
            for client in clients.values():  # the soak's figures start here
                client.delivery_ms = []

            http_load = HttpLoad(pages_bases, pairs, clients, cookies, http_rate)
            http_thread = threading.Thread(target=http_load.run, args=(seconds,))
            http_thread.start()
            sent = await _chat(clients, pairs, chat_rate, seconds)
            await asyncio.to_thread(http_thread.join)
            memory_end = _memory_kb(processes, pages)
            cpu_end = _cpu_use(processes, pages)
            report["cores_used"] = {
                name: round((cpu_end[name] - cpu_start[name]) / seconds, 2) for name in cpu_end
            }
            stored_for = await sync_to_async(_stored_messages)(pairs)
            lacking = await _everything_arrived(clients.values(), stored_for, timeout=60)

            delivery = [ms for c in clients.values() for ms in c.delivery_ms]
            report["chat"] = {
                "socket_messages_sent": sent,
                "http_messages_acked": len(http_load.acked),
                "msgs_per_s": round(sent / seconds, 1),
                "p50_ms": _percentile(delivery, 0.5),
                "p99_ms": _percentile(delivery, 0.99),
                "max_ms": _percentile(delivery, 1.0),
                "error_events": sum(len(c.errors) for c in clients.values()),
                "unexpected_closes": sum(not c.connected for c in clients.values()),
                "lacking_after_60s": len(lacking),
            }
            report["http"] = http_load.figures(seconds)
            report["memory_kb"] = {
                "start": memory_start,
                "end": memory_end,
                "order": "daphnes, gunicorn",
            }
            report["memory_growth"] = round(
                max(
                    (end - start) / start
                    for start, end in zip(memory_start, memory_end, strict=True)
                ),
                3,
            )
            _log("soak", json.dumps({k: report[k] for k in ("chat", "http", "memory_growth")}))

            floor_http = HttpLoad(pages_bases, pairs, clients, cookies, http_rate)
            floor_seconds = min(FLOOR_SECONDS, seconds)
            report["floor"] = await _floor(env, pairs, chat_rate, floor_seconds, floor_http)
            report["chat_p99_over_floor"] = (
                round(report["chat"]["p99_ms"] / report["floor"]["p99_ms"], 1)
                if report["chat"]["p99_ms"] and report["floor"]["p99_ms"]
                else None
            )
            _log("floor", json.dumps(report["floor"]))

            # The reconnect storm: every socket drops at once; messages keep arriving over
            # HTTP meanwhile; then everyone comes back at once and resumes.
            await asyncio.gather(*(c.close() for c in clients.values()))
            storm_load = HttpLoad(pages_bases, pairs, clients, cookies, http_rate)
            await asyncio.to_thread(storm_load.run, 3)
            storm_started = time.monotonic()
            await _connect_all(list(clients.values()), bases)
            for client in clients.values():
                await client.resend_pending()  # none expected; same client_ids if any
            stored_for = await sync_to_async(_stored_messages)(pairs)
            lacking = await _everything_arrived(clients.values(), stored_for, timeout=120)
            report["storm"] = {
                "sockets": len(clients),
                "messages_sent_while_away": len(storm_load.acked),
                "all_resumed_seconds": round(time.monotonic() - storm_started, 1),
                "reconnected": sum(c.connected for c in clients.values()),
                "lacking": len(lacking),
                "http_errors": len(storm_load.errors),
            }
            await asyncio.gather(*(c.close() for c in clients.values()))
            return {**warm_up.acked, **http_load.acked, **floor_http.acked, **storm_load.acked}

        http_acked = asyncio.run(main())
        ledger = check_ledger(list(clients.values()), http_acked=http_acked)
        report["ledger"] = {
            "messages": ledger.messages,
            "acknowledged": ledger.acknowledged,
            "events_checked": ledger.events_checked,
            "lost": 0,
            "duplicated": 0,
        }
    except AssertionError as failure:
        report["ledger"] = {"failed": str(failure)[:2000]}
    finally:
        for process in [*processes, pages]:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    errors = (
        report.get("warm_up", {}).get("http", {}).get("errors", 0)
        + report.get("floor", {}).get("http", {}).get("errors", 0)
        + report.get("http", {}).get("errors", 0)
        + report.get("chat", {}).get("error_events", 0)
    )
    report["errors"] = errors
    return report


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--bunnies", type=int, default=500)
    parser.add_argument("--http-rate", type=int, default=100, help="HTTP requests a second")
    parser.add_argument("--chat-rate", type=float, default=50, help="socket messages a second")
    parser.add_argument("--servers", type=int, default=2, help="daphne processes")
    args = parser.parse_args()
    os.environ.update(_environment())
    report = soak(args.minutes, args.bunnies, args.http_rate, args.chat_rate, args.servers)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
