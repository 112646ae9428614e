"""Suggestions and mutual friends: the Neo4j store against the SQL store, same run, same data.

`run()` seeds BENCH_BUNNIES (100,000) bunnies with ~50 friends each, clustered like real
friend groups (a group of 100, a "town" of 2,000, a few anywhere), through the bulk path
(COPY for bunnies, one INSERT ... SELECT generate_series for friendships) into its OWN
database (`bunnybook_bench`, created here) and its OWN Neo4j (the services launcher on port
57688, data under var/bench/neo4j, a 1 GB page cache), so dev and test data are never
touched. It then times, over BENCH_USERS (300) random bunnies, the end-to-end top-10 call
(store + hydration of profiles and mutual names) and mutual friends for both stores, checks
that both return the same top 10, and measures depth 3 (friends of friends of friends).

The work runs in a child process (`python bench/bench_suggestions.py --child`) so that its
Django settings point at the bench database whatever the parent has set up. Seeded data and
the bench Neo4j's store are kept between runs (reseeded when the size changes).
"""

import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
NEO4J_HOME = BENCH_VAR / "neo4j"
NEO4J_PIDFILE = BENCH_VAR / "neo4j.pid"
NEO4J_LOG = BENCH_VAR / "neo4j.log"
NEO4J_PORT = int(os.environ.get("BENCH_NEO4J_PORT", "57688"))
NEO4J_PASSWORD = "bunnybook-bench"  # noqa: S105 - a throwaway local instance
LAUNCHER = ROOT / "services" / "neo4j" / "target"
BENCH_DB = os.environ.get("BENCH_DATABASE", "bunnybook_bench")

BUNNIES = int(os.environ.get("BENCH_BUNNIES", "100000"))
USERS = int(os.environ.get("BENCH_USERS", "300"))
DEPTH3_USERS = int(os.environ.get("BENCH_DEPTH3_USERS", "40"))
GROUP, TOWN = 100, 2000
GROUP_PICKS, TOWN_PICKS, ANYWHERE_PICKS = 25, 4, 2  # per bunny: ~39 + ~8 + ~4 friends

TARGETS = {
    "suggestions_neo4j_p50_ms": 5.0,
    "suggestions_neo4j_p99_ms": 20.0,
    "neo4j_over_sql_p50_max": 1.5,
    "mutual_friends_p50_ms": 1.0,
}


# --- Parent: a private Neo4j, then the child ----------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _bench_neo4j_pid() -> int | None:
    try:
        pid = int(NEO4J_PIDFILE.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"dev.bunnybook.neo4j.Launcher" in cmdline else None


def start_bench_neo4j() -> int:
    """The services launcher, on its own port and store, with memory for 2.5M edges."""
    pid = _bench_neo4j_pid()
    if pid and _port_open(NEO4J_PORT):
        return pid
    if not (LAUNCHER / "bunnybook-neo4j.jar").exists():
        raise RuntimeError("Build the Neo4j launcher first: services/up")
    if _port_open(NEO4J_PORT):
        raise RuntimeError(f"port {NEO4J_PORT} is taken by something else")
    NEO4J_HOME.mkdir(parents=True, exist_ok=True)
    command = [
        "java",
        "-Xms1g",
        "-Xmx1g",
        "-XX:+UseG1GC",
        "-Dbunnybook.pagecache.mb=1024",
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "-cp",
        f"{LAUNCHER / 'bunnybook-neo4j.jar'}:{LAUNCHER / 'lib'}/*",
        "dev.bunnybook.neo4j.Launcher",
        str(NEO4J_HOME),
        "127.0.0.1",
        str(NEO4J_PORT),
        str(NEO4J_PIDFILE),
    ]
    with NEO4J_LOG.open("w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NEO4J_PASSWORD": NEO4J_PASSWORD},
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bench Neo4j exited; see {NEO4J_LOG}")
        if "neo4j ready" in NEO4J_LOG.read_text() and _port_open(NEO4J_PORT):
            return process.pid
        time.sleep(0.5)
    raise RuntimeError(f"bench Neo4j did not start; see {NEO4J_LOG}")


def stop_bench_neo4j(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        env_file = ROOT / "services" / "env"
        for line in env_file.read_text().splitlines() if env_file.exists() else []:
            if line.startswith("export DATABASE_URL="):
                url = line.split("=", 1)[1].strip()
    if not url.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("needs PostgreSQL: run services/up (DATABASE_URL in services/env)")
    return url.rsplit("/", 1)[0] + "/" + BENCH_DB


def run() -> dict:
    try:
        database_url = _bench_database_url()
        pid = start_bench_neo4j()
    except RuntimeError as exc:
        return {"skipped": str(exc)}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CACHE_URL", "NEO4J_URI"}
    }
    env.update(
        DATABASE_URL=database_url,
        NEO4J_URI=f"bolt://127.0.0.1:{NEO4J_PORT}",
        NEO4J_USER="neo4j",
        NEO4J_PASSWORD=NEO4J_PASSWORD,
        DJANGO_SETTINGS_MODULE="bunnybook.settings",
        DEBUG="false",  # no query log in memory
        SECRET_KEY="bench-only-" + "x" * 40,
        LOG_LEVEL="WARNING",
    )
    try:
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        if not os.environ.get("BENCH_KEEP_NEO4J"):
            stop_bench_neo4j(pid)
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        return {"error": f"child exited {child.returncode}", "output": lines[-5:]}
    return json.loads(lines[-1])


# --- Child: seed, load, measure ----------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench_suggestions] {message}", file=sys.stderr, flush=True)


def _create_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    server_url, name = database_url.rsplit("/", 1)
    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


FRIENDSHIPS_SQL = """
INSERT INTO social_friendship (user_a_id, user_b_id, created_at)
SELECT DISTINCT LEAST(a, b), GREATEST(a, b), now()
FROM (
    SELECT u AS a, ((u - 1) / %(group)s) * %(group)s + 1 + floor(random() * %(group)s)::int AS b
    FROM generate_series(1, %(n)s) u, generate_series(1, %(group_picks)s)
    UNION ALL
    SELECT u, ((u - 1) / %(town)s) * %(town)s + 1 + floor(random() * %(town)s)::int
    FROM generate_series(1, %(n)s) u, generate_series(1, %(town_picks)s)
    UNION ALL
    SELECT u, 1 + floor(random() * %(n)s)::int
    FROM generate_series(1, %(n)s) u, generate_series(1, %(anywhere_picks)s)
) picks
WHERE a <> b AND b <= %(n)s
"""


def _seed(n: int) -> dict:
    """Bunnies by COPY (every column from the model's own defaults, one password hash),
    friendships in one INSERT ... SELECT."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User

    if connection.settings_dict["NAME"] != BENCH_DB:  # never truncate anything else
        raise RuntimeError(f"refusing to seed {connection.settings_dict['NAME']}")
    started = time.monotonic()
    password = make_password("bench-bunny")
    template = User(password=password, date_joined=timezone.now())
    fields = [f for f in User._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user RESTART IDENTITY CASCADE")
        cursor.execute("TRUNCATE social_graphoutbox RESTART IDENTITY")
        copy_sql = "COPY accounts_user ({}) FROM STDIN".format(
            ", ".join(connection.ops.quote_name(c) for c in columns)
        )
        with cursor.cursor.copy(copy_sql) as copy:
            for i in range(1, n + 1):
                template.username = f"bunny{i:07d}"
                template.email = f"bunny{i:07d}@bench.test"
                template.display_name = f"Bunny {i}"
                template.avatar_seed = i
                copy.write_row(
                    [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
                )
        users_done = time.monotonic()
        cursor.execute("SET session_replication_role = replica")  # skip per-row FK triggers
        cursor.execute(
            FRIENDSHIPS_SQL,
            {
                "n": n,
                "group": GROUP,
                "town": TOWN,
                "group_picks": GROUP_PICKS,
                "town_picks": TOWN_PICKS,
                "anywhere_picks": ANYWHERE_PICKS,
            },
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE accounts_user")
        cursor.execute("ANALYZE social_friendship")
    return {
        "seed_users_s": round(users_done - started, 1),
        "seed_friendships_s": round(time.monotonic() - users_done, 1),
    }


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(p99, 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def _time_calls(call, arguments) -> list[float]:
    timings = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


# Depth 3: bunnies three steps away (not me, not a friend), ranked by number of walks
# me - f1 - f2 - f3, ties by id. Same definition in both languages.
DEPTH3_SQL = """
WITH f1 AS (
    SELECT user_b_id AS id FROM social_friendship WHERE user_a_id = %(user_id)s
    UNION ALL SELECT user_a_id FROM social_friendship WHERE user_b_id = %(user_id)s
), f2 AS (
    SELECT x.id FROM (
        SELECT fr.user_b_id AS id FROM f1 JOIN social_friendship fr ON fr.user_a_id = f1.id
        UNION ALL SELECT fr.user_a_id FROM f1 JOIN social_friendship fr ON fr.user_b_id = f1.id
    ) x
    WHERE x.id <> %(user_id)s
), f3 AS (
    SELECT fr.user_b_id AS id FROM f2 JOIN social_friendship fr ON fr.user_a_id = f2.id
    UNION ALL SELECT fr.user_a_id FROM f2 JOIN social_friendship fr ON fr.user_b_id = f2.id
)
SELECT id, COUNT(*) AS paths FROM f3
WHERE id <> %(user_id)s AND id NOT IN (SELECT id FROM f1)
GROUP BY id ORDER BY paths DESC, id LIMIT 10
"""

DEPTH3_CYPHER = """
MATCH (me:Bunny {id: $user_id})-[:FRIEND]-(f1:Bunny)
WITH me, collect(f1) AS ring1
UNWIND ring1 AS f1
MATCH (f1)-[:FRIEND]-(f2:Bunny)-[:FRIEND]-(f3:Bunny)
WHERE f2 <> me AND f3 <> me AND NOT f3 IN ring1
RETURN f3.id AS id, count(*) AS paths
ORDER BY paths DESC, id ASC
LIMIT 10
"""


def child() -> dict:
    database_url = os.environ["DATABASE_URL"]
    _create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from social.graph import sync
    from social.graph.client import graph_session
    from social.graph.suggestions import hydrate, neo4j_store, sql_store
    from social.models import Friendship

    call_command("migrate", verbosity=0)  # post_migrate also creates the Neo4j constraint
    report: dict = {"bunnies": BUNNIES}
    if User.objects.count() != BUNNIES or not Friendship.objects.exists():
        _log(f"seeding {BUNNIES} bunnies")
        report.update(_seed(BUNNIES))
    edges = Friendship.objects.count()
    report.update(friendships=edges, avg_friends=round(2 * edges / BUNNIES, 1))
    with graph_session() as session:
        graph_edges = session.run("MATCH ()-[r:FRIEND]->() RETURN count(r) AS n").single()["n"]
    if graph_edges != edges:
        _log(f"loading {edges} edges into the bench Neo4j")
        started = time.monotonic()
        sync.rebuild(batch_size=10_000)
        report["graph_load_s"] = round(time.monotonic() - started, 1)
    ensure_no_drift = sync.check(sample=50)
    report["graph_in_sync_sample"] = ensure_no_drift.in_sync

    rng = random.Random(7)
    users = [User(pk=rng.randint(1, BUNNIES)) for _ in range(USERS)]
    warmup = [User(pk=rng.randint(1, BUNNIES)) for _ in range(100)]

    def end_to_end(store):
        return lambda viewer: hydrate(viewer, store.suggest(viewer.pk, limit=10), limit=10)

    figures: dict = {}
    for store in (sql_store, neo4j_store, sql_store, neo4j_store):  # warm both, then measure
        _time_calls(end_to_end(store), warmup)
    for store in (neo4j_store, sql_store):
        figures[store.name] = {
            "end_to_end": _percentiles(_time_calls(end_to_end(store), users)),
            "store_only": _percentiles(
                _time_calls(lambda viewer, s=store: s.suggest(viewer.pk, limit=10), users)
            ),
        }

    mismatches = sum(
        neo4j_store.suggest(viewer.pk, limit=10) != sql_store.suggest(viewer.pk, limit=10)
        for viewer in users
    )

    # Mutual friends of a bunny and its top suggestion (so the answer is never empty).
    pairs = []
    for viewer in users:
        top = sql_store.suggest(viewer.pk, limit=1)
        if top:
            pairs.append((viewer.pk, top[0].user_id))
    mutual: dict = {}
    for store in (neo4j_store, sql_store, neo4j_store, sql_store):
        mutual[store.name] = _percentiles(
            _time_calls(lambda pair, s=store: s.mutual_friend_ids(*pair), pairs)
        )
    mutual_mismatches = sum(
        neo4j_store.mutual_friend_ids(*pair) != sql_store.mutual_friend_ids(*pair) for pair in pairs
    )

    # Depth 3: top 10 by number of paths among friends of friends of friends.
    depth3_users = [viewer.pk for viewer in users[:DEPTH3_USERS]]

    def sql_depth3(user_id):
        with connection.cursor() as cursor:
            cursor.execute(DEPTH3_SQL, {"user_id": user_id})
            return cursor.fetchall()

    def neo4j_depth3(user_id):
        with graph_session() as session:
            return [(r["id"], r["paths"]) for r in session.run(DEPTH3_CYPHER, user_id=user_id)]

    _time_calls(neo4j_depth3, depth3_users[:5])
    _time_calls(sql_depth3, depth3_users[:5])
    depth3 = {
        "neo4j": _percentiles(_time_calls(neo4j_depth3, depth3_users)),
        "sql": _percentiles(_time_calls(sql_depth3, depth3_users)),
        "users": len(depth3_users),
        "same_answers": all(
            neo4j_depth3(u) == [tuple(r) for r in sql_depth3(u)] for u in depth3_users
        ),
    }

    neo, sql = figures["neo4j"]["end_to_end"], figures["sql"]["end_to_end"]
    report.update(
        users_measured=len(users),
        suggestions_ms=figures,
        suggestions_ratio_neo4j_over_sql={
            "p50": round(neo["p50"] / sql["p50"], 2),
            "p99": round(neo["p99"] / sql["p99"], 2),
        },
        same_top10=mismatches == 0,
        top10_mismatches=mismatches,
        mutual_friends_ms=mutual,
        mutual_friends_ratio_neo4j_over_sql=round(mutual["neo4j"]["p50"] / mutual["sql"]["p50"], 2),
        mutual_friends_same=mutual_mismatches == 0,
        depth3_top10_ms=depth3,
        depth3_ratio_neo4j_over_sql=round(depth3["neo4j"]["p50"] / depth3["sql"]["p50"], 2),
        targets=TARGETS,
        targets_met={
            "suggestions_neo4j_p50": neo["p50"] <= TARGETS["suggestions_neo4j_p50_ms"],
            "suggestions_neo4j_p99": neo["p99"] <= TARGETS["suggestions_neo4j_p99_ms"],
            "neo4j_within_1_5x_sql": neo["p50"] / sql["p50"] <= TARGETS["neo4j_over_sql_p50_max"],
            "mutual_friends_p50_both": max(mutual["neo4j"]["p50"], mutual["sql"]["p50"])
            <= TARGETS["mutual_friends_p50_ms"],
        },
    )
    return report


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child()))
    else:
        print(json.dumps(run(), indent=2))
