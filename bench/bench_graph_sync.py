"""Graph sync lag: the time from a friendship change committing in PostgreSQL to Neo4j
showing it, under a steady stream of changes. Target: p99 <= 1 s.

The changes go through the product's write services (`accept_friend_request`, `unfriend`:
one transaction each, outbox row included) from BENCH_SYNC_WRITERS writer processes at
BENCH_SYNC_RATE changes/s in all (two accepts for every unfriend) for BENCH_SYNC_SECONDS,
while `manage.py graph_sync --follow` runs in its own process, as the docker-compose
`worker` service runs it. Two ways the outbox gets drained are measured:

- `push_and_worker` (production): each writer pushes its change after commit, the worker
  catches whatever a push left behind;
- `worker_only`: the writers' after-commit push is switched off, as when a web process
  dies between its commit and its push, so the worker alone drains the outbox.

A writer stamps each change in an on-commit callback registered before the service's own
(so, at commit) and reports it on its stdout; this process watches Neo4j from its own
driver, polling every pending pair every few milliseconds, and takes the first poll that
answers with the new state as the moment the edge became visible (an upper bound: the
figure includes the report's trip through the pipe and up to one poll). Floor, same run,
same client: the round trip of one bare Cypher MERGE of one edge.

Isolation: a scratch PostgreSQL database (created and dropped here), no Redis (the writers'
live events go to the in-memory layer); the shared Neo4j, with this benchmark's bunnies in
their own id range (BASE_ID on), deleted at the end, and var/graph-tests.lock held while
measuring, so graph tests never wipe the graph under it. BENCH_SCALE=small: 20 changes/s
for 10 s.
"""

import fcntl
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "var" / "graph-tests.lock"
SMALL = os.environ.get("BENCH_SCALE") == "small"
RATE = float(os.environ.get("BENCH_SYNC_RATE", "20" if SMALL else "40"))
SECONDS = float(os.environ.get("BENCH_SYNC_SECONDS", "10" if SMALL else "30"))
WRITERS = int(os.environ.get("BENCH_SYNC_WRITERS", "2"))
POLL_SECONDS = 0.005
FLOOR_CALLS = 300
TARGET_P99_MS = 1000.0
# Far beyond any id the dev site, the tests (10^12 + ...) or the seed hand out.
BASE_ID = 8 * 10**12
BUNNIES_PER_SCENARIO = 4000
UNLINK_AFTER = 2.0  # seconds: an unfriend picks a pair befriended at least this long ago
SCENARIOS = ("push_and_worker", "worker_only")

SETUP = """
import random, sys, django
django.setup()
from django.contrib.auth.hashers import make_password
from accounts.models import User
from social.models import FriendRequest

base, per_scenario, scenarios, requests = (int(arg) for arg in sys.argv[1:5])
password = make_password("bench-sync")
User.objects.bulk_create(
    [
        User(id=base + i, username=f"sync{i}", email=f"sync{i}@bench.test",
             display_name=f"Sync {i}", password=password, avatar_seed=i)
        for i in range(per_scenario * scenarios)
    ],
    batch_size=2000,
)
rng = random.Random(11)
made = []
for scenario in range(scenarios):
    first = base + scenario * per_scenario
    pairs = set()
    while len(pairs) < requests:
        a, b = rng.sample(range(first, first + per_scenario), 2)
        if (min(a, b), max(a, b)) not in pairs:
            pairs.add((min(a, b), max(a, b)))
            made.append(FriendRequest(from_user_id=a, to_user_id=b))
FriendRequest.objects.bulk_create(made, batch_size=2000)
"""

# One writer: its share of the scenario's requests, at its share of the rate. Every third
# change unfriends a pair this writer befriended at least UNLINK_AFTER seconds before.
WRITER = """
import json, sys, time, django
django.setup()
from django.db import transaction
from social import services
from social.graph import sync
from social.models import FriendRequest

low, high, index, writers, rate, seconds, push, unlink_after = sys.argv[1:9]
low, high, index, writers = int(low), int(high), int(index), int(writers)
rate, seconds, unlink_after = float(rate), float(seconds), float(unlink_after)
if push == "0":
    sync.push_pair_quietly = lambda pair: None  # as if the web process died after commit
requests = list(
    FriendRequest.objects.filter(from_user_id__gte=low, from_user_id__lt=high)
    .select_related("from_user", "to_user").order_by("id")[index::writers]
)
linked = []  # (commit time, request), oldest first
errors, tick, step = 0, 0, 1.0 / rate
started = time.monotonic()
while tick * step < seconds:
    wait = started + tick * step - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    unlink = tick % 3 == 2 and linked and linked[0][0] <= time.monotonic() - unlink_after
    tick += 1
    stamp = []
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: stamp.append(time.monotonic()))
            if unlink:
                _, request = linked.pop(0)
                services.unfriend(user=request.from_user, friend=request.to_user)
            else:
                request = requests.pop(0)
                services.accept_friend_request(friend_request=request, by=request.to_user)
    except Exception as error:
        errors += 1
        print("ERROR " + repr(error)[:300], flush=True)
        continue
    returned = time.monotonic()  # every on-commit callback (the push among them) has run
    if not unlink:
        linked.append((stamp[0], request))
    op = "unlink" if unlink else "link"
    print(f"E {request.from_user_id} {request.to_user_id} {op} {stamp[0]!r} {returned!r}",
          flush=True)
print(json.dumps({"changes": tick - errors, "errors": errors,
                  "seconds": round(time.monotonic() - started, 2)}), flush=True)
"""

PAIR_STATES = """
UNWIND $pairs AS pair
OPTIONAL MATCH (:Bunny {id: pair[0]})-[r:FRIEND]-(:Bunny {id: pair[1]})
RETURN pair[0] AS a, pair[1] AS b, count(r) > 0 AS linked
"""

FLOOR_MERGE = "MERGE (a:Bunny {id: $a}) MERGE (b:Bunny {id: $b}) MERGE (a)-[:FRIEND]-(b)"

DELETE_OURS = """
MATCH (b:Bunny) WHERE b.id >= $low AND b.id < $high
DETACH DELETE b
"""


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 2),
        "p99": round(p99, 2),
        "max": round(ordered[-1], 2),
        "n": len(ordered),
    }


def _env(database_url: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CACHE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bunnybook.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS="localhost",
        LOG_LEVEL="WARNING",
    )
    return env


def _driver():
    from neo4j import GraphDatabase

    return GraphDatabase.driver(
        os.environ["NEO4J_URI"],
        auth=(os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")),
    )


def _floor(session) -> dict:
    """One bare MERGE of one edge per round trip, on a reused session."""
    timings = []
    for i in range(FLOOR_CALLS + 20):
        a, b = BASE_ID - 2 * (i + 1), BASE_ID - 2 * (i + 1) + 1
        started = time.perf_counter()
        session.run(FLOOR_MERGE, a=a, b=b).consume()
        if i >= 20:  # the first ones warm the plan cache and the pool
            timings.append((time.perf_counter() - started) * 1000)
    session.run(DELETE_OURS, low=BASE_ID - 2 * (FLOOR_CALLS + 21), high=BASE_ID).consume()
    return _percentiles(timings)


def _read_events(
    stream, events: queue.Queue, summaries: list, errors: list, after_commit: list
) -> None:
    for line in stream:
        if line.startswith("E "):
            _, a, b, op, stamp, returned = line.split()
            events.put((int(a), int(b), op, float(stamp)))
            after_commit.append((float(returned) - float(stamp)) * 1000)
        elif line.startswith("ERROR "):
            errors.append(line[6:].strip())
        elif line.startswith("{"):
            summaries.append(json.loads(line))


def _watch(session, events: queue.Queue, writers_done: threading.Event) -> dict:
    """Poll Neo4j for every reported change until it shows; lags in ms."""
    pending: dict[tuple[int, int], tuple[str, float]] = {}
    lags, superseded, polls = [], 0, 0
    give_up = None
    while True:
        try:
            while True:
                a, b, op, stamp = events.get_nowait()
                pair = (min(a, b), max(a, b))
                superseded += pair in pending  # its link still unseen when it was unlinked
                pending[pair] = (op, stamp)
        except queue.Empty:
            pass
        if not pending:
            if writers_done.is_set() and events.empty():
                break
            time.sleep(POLL_SECONDS)
            continue
        if writers_done.is_set():
            give_up = give_up or time.monotonic() + 30
            if time.monotonic() > give_up:
                break
        records = session.run(PAIR_STATES, pairs=[list(pair) for pair in pending]).data()
        seen = time.monotonic()
        polls += 1
        for record in records:
            pair = (record["a"], record["b"])
            op, stamp = pending[pair]
            if record["linked"] == (op == "link"):
                lags.append((seen - stamp) * 1000)
                del pending[pair]
        time.sleep(POLL_SECONDS)
    return {"lags": lags, "never_seen": len(pending), "superseded": superseded, "polls": polls}


def _scenario(index: int, name: str, env: dict, session) -> dict:
    low = BASE_ID + index * BUNNIES_PER_SCENARIO
    high = low + BUNNIES_PER_SCENARIO
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "graph_sync", "--follow"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(3)  # the worker is up and idle before the stream starts
    events: queue.Queue = queue.Queue()
    summaries: list = []
    errors: list = []
    after_commit: list = []
    push = "0" if name == "worker_only" else "1"
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                *map(str, (low, high, i, WRITERS, RATE / WRITERS)),
                *map(str, (SECONDS, push, UNLINK_AFTER)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    readers = [
        threading.Thread(
            target=_read_events,
            args=(w.stdout, events, summaries, errors, after_commit),
        )
        for w in writers
    ]
    for reader in readers:
        reader.start()
    writers_done = threading.Event()

    def wait_writers():
        for writer in writers:
            writer.wait()
        for reader in readers:
            reader.join()
        writers_done.set()

    waiter = threading.Thread(target=wait_writers)
    waiter.start()
    try:
        watched = _watch(session, events, writers_done)
    finally:
        waiter.join()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    changes = sum(s["changes"] for s in summaries)
    return {
        "changes": changes,
        "changes_per_s": round(changes / SECONDS, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "lag_ms": _percentiles(watched["lags"]),
        # In the writer, from commit until the service returned: the after-commit push
        # (when on) and the other on-commit callbacks.
        "writer_after_commit_ms": _percentiles(after_commit),
        "never_seen": watched["never_seen"],
        "unlinked_before_link_seen": watched["superseded"],
        "polls": watched["polls"],
    }


def run() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not os.environ.get("NEO4J_URI"):
        return {"skipped": "needs PostgreSQL and Neo4j (source services/env)"}
    import psycopg

    parts = urlsplit(url)
    scratch = f"bunnybook_bench_sync_{uuid.uuid4().hex[:8]}"
    env = _env(urlunsplit(parts._replace(path=f"/{scratch}")))
    requests = int(RATE * SECONDS) + 50  # two thirds are accepted; a margin
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    driver = _driver()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "-c", SETUP]
            + [str(n) for n in (BASE_ID, BUNNIES_PER_SCENARIO, len(SCENARIOS), requests)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with LOCK.open("w") as lock, driver.session(database="neo4j") as session:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                ours = {"low": BASE_ID, "high": BASE_ID + len(SCENARIOS) * BUNNIES_PER_SCENARIO}
                session.run(DELETE_OURS, **ours).consume()  # a run that died half way
                floor = _floor(session)
                results = {
                    name: _scenario(index, name, env, session)
                    for index, name in enumerate(SCENARIOS)
                }
                session.run(DELETE_OURS, **ours).consume()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        driver.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    table = []
    for name, result in results.items():
        lag = result["lag_ms"]
        for quantile in ("p50", "p99"):
            if lag[quantile] is None:
                continue
            table.append(
                [
                    f"graph sync lag {name.replace('_', ' ')} {quantile}"
                    f" ({result['changes_per_s']:.0f} changes/s, {result['errors']} errors)",
                    f"{lag[quantile]:.1f} ms",
                    f"{floor[quantile]:.1f} ms bare MERGE",
                    round(lag[quantile] / floor[quantile], 1),
                ]
            )
    return {
        "rate_per_s": RATE,
        "seconds": SECONDS,
        "writers": WRITERS,
        "floor_bare_merge_ms": floor,
        **results,
        "ratio_p50_over_floor": {
            name: round(r["lag_ms"]["p50"] / floor["p50"], 1)
            for name, r in results.items()
            if r["lag_ms"]["p50"]
        },
        "ratio_p99_over_floor": {
            name: round(r["lag_ms"]["p99"] / floor["p99"], 1)
            for name, r in results.items()
            if r["lag_ms"]["p99"]
        },
        "target_p99_ms": TARGET_P99_MS,
        "within_target": {
            name: r["lag_ms"]["p99"] is not None
            and r["lag_ms"]["p99"] <= TARGET_P99_MS
            and not r["never_seen"]
            for name, r in results.items()
        },
        "table": table,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
