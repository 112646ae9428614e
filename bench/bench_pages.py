"""Pages and API under load, served the way production serves them: gunicorn sync workers
(WSGI) behind the router, sockets elsewhere (daphne). Figures: requests/s, p50/p99 and SQL
queries per request for the feed, a profile and a conversation page, `/api/feed/` and
`/api/suggestions/`, as one logged-in bunny of a seeded network. Floor, in the same run on
the same workers and database: the TechEmpower-style fortunes page (bench/fortunes.py).
Target: the feed at >= 50% of the floor's requests/s.

The floor and the site are served side by side and measured in turns (ROUNDS bursts of
each per page), so a busy spell on this shared machine hits both alike; each page's ratio
is the median of its rounds' ratios. The feed is measured twice: as served (its post cards
come from the card cache, warm after the first request: social/cards.py) and with the card
cache off (POST_CARD_CACHE_SIZE=0), which is what a bunny pays for cards nobody in her
position has seen yet. The load generator's own CPU is reported with the floor.

The network is seeded with `manage.py seed` (fixed seed) into its own PostgreSQL database
(BENCH_PAGES_DATABASE, default `bunnybook_bench_pages`) and its own Redis db (6), so dev and
test data are never touched; it is kept between runs and reseeded when the size changes.
The load generator (bench/load.py) runs in its own process. BENCH_SCALE=small: 1,000
bunnies and 5 s per page instead of 10,000 bunnies and 20 s.
"""

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SMALL = os.environ.get("BENCH_SCALE") == "small"
BUNNIES = 1_000 if SMALL else 10_000
SECONDS = 5 if SMALL else 20
ROUNDS = 2 if SMALL else 4  # turns per page; the floor gets half a page's time in each
CONCURRENCY = 8
WORKERS = 2 * (os.cpu_count() or 1) + 1  # as deploy/gunicorn.conf.py sets them
REDIS_DB = 6
DATABASE = os.environ.get("BENCH_PAGES_DATABASE", "bunnybook_bench_pages")
FEED_TARGET_RATIO = 0.5

# Run inside the bench database's Django: picks the bunny and the pages, logs her in,
# fills the floor's table and counts the SQL queries of one request to each page.
SETUP = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from chat.models import Conversation
from social.selectors import friends_of

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_fortune (id int PRIMARY KEY, message text)")
    cursor.execute("TRUNCATE bench_fortune")
    cursor.executemany("INSERT INTO bench_fortune VALUES (%s, %s)",
        [(i, f"fortune number {i}: a bunny in the hand <is worth> two in the burrow")
         for i in range(1, 13)])
User = get_user_model()
conversation = Conversation.objects.order_by("id").first()
bunny = conversation.participants.order_by("id").first().user
friend = friends_of(bunny, viewer=bunny).order_by("id").first()
# Production serves pages behind the TLS-terminating router, which says so in a header.
client = Client(headers={"X-Forwarded-Proto": "https"})
client.force_login(bunny)
pages = {
    "feed": "/",
    "profile": f"/u/{friend.username}/",
    "conversation": f"/chat/{conversation.id}/",
    "api_feed": "/api/feed/",
    "api_suggestions": "/api/suggestions/",
}
queries = {}
for name, path in pages.items():
    client.get(path)  # warm caches the way a running server has them
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    assert status == 200, (path, status)
    queries[name] = len(captured)
print(json.dumps({"pages": pages, "queries": queries, "bunny": bunny.username,
                  "cookie": f"sessionid={client.cookies['sessionid'].value}"}))
"""


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


def _seeded_bunnies(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        try:
            return connection.execute("SELECT count(*) FROM accounts_user").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def prepare_database(base_url: str, env: dict) -> dict:
    """Creates and seeds the bench database unless it already holds this network."""
    import psycopg

    url = _with_path(base_url, f"/{DATABASE}")
    with psycopg.connect(base_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if exists.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    env["DATABASE_URL"] = url
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    seconds = 0.0
    if _seeded_bunnies(url) != BUNNIES:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        seed = ["seed", "--users", str(BUNNIES), "--friends", "50", "--seed", "1"]
        subprocess.run([*manage, *seed, "--no-graph", "-v0"], cwd=ROOT, env=env, check=True)
        seconds = time.perf_counter() - started
    return {"database": DATABASE, "bunnies": BUNNIES, "seed_seconds": round(seconds, 1)}


def start_gunicorn(app: str, port: int, env: dict) -> subprocess.Popen:
    # Production's config (deploy/gunicorn.conf.py) for both: the same workers serve the floor.
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    _wait_port(port)
    return server


def _load(port: int, cookie: str, path: str, seconds: float = SECONDS) -> dict:
    """One burst; `generator_cores`: the load generator's own CPU over the burst's time."""
    command = [sys.executable, str(ROOT / "bench" / "load.py"), str(port), str(seconds)]
    command += [str(CONCURRENCY), cookie, path]
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - started
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["generator_cores"] = round(cpu / wall, 2)
    return figures


def _pooled(bursts: list[dict]) -> dict:
    """Bursts of one target as one figure: all requests over all time, medians of the
    bursts' latencies."""
    return {
        "requests": sum(burst["requests"] for burst in bursts),
        "errors": sum(burst["errors"] for burst in bursts),
        "first_errors": [error for burst in bursts for error in burst["first_errors"]][:3],
        "rps": round(statistics.median(burst["rps"] for burst in bursts), 1),
        "p50_ms": statistics.median(burst["p50_ms"] or 0 for burst in bursts),
        "p99_ms": statistics.median(burst["p99_ms"] or 0 for burst in bursts),
        "generator_cores": statistics.median(burst["generator_cores"] for burst in bursts),
    }


def bench_env() -> dict | None:
    """The environment of the bench's servers and writers: its own Redis db, no DEBUG,
    or None without the services."""
    base_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not base_url.startswith("postgres") or not redis_url:
        return None
    env = {
        **os.environ,
        "REDIS_URL": _with_path(redis_url, f"/{REDIS_DB}"),
        "CACHE_URL": _with_path(os.environ.get("CACHE_URL", redis_url), f"/{REDIS_DB}"),
        "DJANGO_SETTINGS_MODULE": "bunnybook.settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-" + "k" * 40,
        "DB_CONN_MAX_AGE": "600",  # production keeps connections; so does the floor
        # Production serves collected, hashed static files; the bench keeps its own copy.
        "STATIC_ROOT": str(ROOT / "var" / "bench" / "static"),
    }
    env.pop("NEO4J_URI", None)  # the network is seeded without the graph: the SQL store
    return env


def run() -> dict:
    env = bench_env()
    if env is None:
        return {"skipped": "needs the services (make services, then make bench)"}
    base_url = os.environ["DATABASE_URL"]
    seeded = prepare_database(base_url, env)
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    setup = subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    found = json.loads(setup.stdout.strip().splitlines()[-1])

    servers, ports = [], {}
    try:
        for name, app, extra in (
            ("floor", "bench.fortunes:application", {}),
            ("site", "bunnybook.wsgi:application", {}),
            ("site_cards_off", "bunnybook.wsgi:application", {"POST_CARD_CACHE_SIZE": "0"}),
        ):
            ports[name] = _free_port()
            servers.append(start_gunicorn(app, ports[name], {**env, **extra}))
        _load(ports["floor"], "", "/fortunes/", 2)  # warm-up: workers connect, templates load
        targets = {}
        for name, path in found["pages"].items():
            targets[name] = ("site", path)
            if name == "feed":
                targets["feed_cards_off"] = ("site_cards_off", path)
        found["queries"]["feed_cards_off"] = found["queries"]["feed"]
        floor_bursts, pages = [], {}
        for name, (server, path) in targets.items():
            _load(ports[server], found["cookie"], path, 2)
            bursts, floors = [], []
            for _ in range(ROUNDS):
                floors.append(_load(ports["floor"], "", "/fortunes/", SECONDS / ROUNDS / 2))
                bursts.append(_load(ports[server], found["cookie"], path, SECONDS / ROUNDS))
            floor_bursts += floors
            ratios = [
                page["rps"] / floor["rps"] for page, floor in zip(bursts, floors, strict=True)
            ]
            pages[name] = {
                "path": path,
                **_pooled(bursts),
                "queries": found["queries"][name],
                "floor_rps": _pooled(floors)["rps"],
                "ratio_to_floor": round(statistics.median(ratios), 3),
            }
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    floor = _pooled(floor_bursts)
    table = [
        [
            f"page {name} ({figures['queries']} queries, p99 {figures['p99_ms']} ms)",
            f"{figures['rps']:.0f} rps",
            f"{figures['floor_rps']:.0f} rps fortunes",
            figures["ratio_to_floor"],
        ]
        for name, figures in pages.items()
    ]
    return {
        **seeded,
        "table": table,
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "seconds_per_page": SECONDS,
        "rounds_per_page": ROUNDS,
        "floor_fortunes": floor,
        "pages": pages,
        "feed_target_ratio": FEED_TARGET_RATIO,
        "feed_meets_target": pages["feed"]["ratio_to_floor"] >= FEED_TARGET_RATIO,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
