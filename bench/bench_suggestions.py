"""Suggestions and mutual friends: the Neo4j store against the SQL store, same run, same data.

`run()` seeds BENCH_BUNNIES (100,000) bunnies with ~50 friends each, clustered like real
friend groups (a group of 100, a "town" of 2,000, a few anywhere), through the bulk path
(COPY for bunnies, one INSERT ... SELECT generate_series for friendships) into its OWN
database (`bunnybook_bench`, created here) and its OWN Neo4j (the services launcher on port
57688, data under var/bench/neo4j, a 1 GB page cache), so dev and test data are never
touched. It then times, over BENCH_USERS (300) random bunnies, the end-to-end top-10 call
as pages make it (`suggestions_for` on one store, cache off: the ranking, then one SQL query
for profiles, mutual names and exclusions), the store's own call, and mutual friends, both
stores interleaved bunny by bunny so that they share the machine's load; beside them the
floor of one empty round trip to each server (`RETURN 1`, `SELECT 1`). It checks that both
stores give the same top 10 (store calls and pages), and measures depth 3 (friends of
friends of friends) with the same staged plan in both languages.

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
NEO4J_PORT = int(os.environ.get("BENCH_NEO4J_PORT", "57688"))
NEO4J_PASSWORD = "bunnybook-bench"  # noqa: S105 - a throwaway local instance
LAUNCHER = ROOT / "services" / "neo4j" / "target"
BENCH_DB = os.environ.get("BENCH_DATABASE", "bunnybook_bench")

BUNNIES = int(os.environ.get("BENCH_BUNNIES", "100000"))
USERS = int(os.environ.get("BENCH_USERS", "300"))
DEPTH3_USERS = int(os.environ.get("BENCH_DEPTH3_USERS", "40"))
# The bench Neo4j's memory: the defaults hold 100,000 bunnies' 2.5M edges in the page
# cache; the 1,000,000-bunny run wants about ten times that.
NEO4J_HEAP = os.environ.get("BENCH_NEO4J_HEAP", "1g")
NEO4J_PAGECACHE_MB = int(os.environ.get("BENCH_NEO4J_PAGECACHE_MB", "1024"))
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


def _bench_neo4j_pid(pidfile: Path = NEO4J_PIDFILE) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"dev.bunnybook.neo4j.Launcher" in cmdline else None


def start_bench_neo4j(
    *,
    home: Path = NEO4J_HOME,
    port: int = NEO4J_PORT,
    heap: str = "1g",
    pagecache_mb: int = 1024,
) -> int:
    """The services launcher on its own port and store; by default with memory for 2.5M
    edges (bench_seed starts one with the dev services' memory instead)."""
    pidfile, logfile = home.parent / f"{home.name}.pid", home.parent / f"{home.name}.log"
    pid = _bench_neo4j_pid(pidfile)
    if pid and _port_open(port):
        return pid
    if not (LAUNCHER / "bunnybook-neo4j.jar").exists():
        raise RuntimeError("Build the Neo4j launcher first: services/up")
    if _port_open(port):
        raise RuntimeError(f"port {port} is taken by something else")
    home.mkdir(parents=True, exist_ok=True)
    command = [
        "java",
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        f"-Dbunnybook.pagecache.mb={pagecache_mb}",
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "-cp",
        f"{LAUNCHER / 'bunnybook-neo4j.jar'}:{LAUNCHER / 'lib'}/*",
        "dev.bunnybook.neo4j.Launcher",
        str(home),
        "127.0.0.1",
        str(port),
        str(pidfile),
    ]
    with logfile.open("w") as log:
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
            raise RuntimeError(f"bench Neo4j exited; see {logfile}")
        if "neo4j ready" in logfile.read_text() and _port_open(port):
            return process.pid
        time.sleep(0.5)
    raise RuntimeError(f"bench Neo4j did not start; see {logfile}")


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
        pid = start_bench_neo4j(heap=NEO4J_HEAP, pagecache_mb=NEO4J_PAGECACHE_MB)
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


def _interleaved(calls: dict, arguments) -> dict[str, list[float]]:
    """Time each named call on each argument in turn, the order rotating per argument."""
    timings: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for index, argument in enumerate(arguments):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            started = time.perf_counter()
            calls[name](argument)
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def _time_calls(call, arguments) -> list[float]:
    timings = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


# Depth 3: bunnies three steps away (not me, not a friend), ranked by number of walks
# me - f1 - f2 - f3, ties by id. Same definition and the same plan in both languages: walks
# are counted per f2 first (a few thousand rows), then spread to f3 (~125,000 walks), so
# neither store drags a row per walk through its last steps.
DEPTH3_SQL = """
WITH f1 AS (
    SELECT user_b_id AS id FROM social_friendship WHERE user_a_id = %(user_id)s
    UNION ALL SELECT user_a_id FROM social_friendship WHERE user_b_id = %(user_id)s
), f2 AS (
    SELECT x.id, COUNT(*) AS walks FROM (
        SELECT fr.user_b_id AS id FROM f1 JOIN social_friendship fr ON fr.user_a_id = f1.id
        UNION ALL SELECT fr.user_a_id FROM f1 JOIN social_friendship fr ON fr.user_b_id = f1.id
    ) x
    WHERE x.id <> %(user_id)s
    GROUP BY x.id
), f3 AS (
    SELECT fr.user_b_id AS id, f2.walks FROM f2 JOIN social_friendship fr ON fr.user_a_id = f2.id
    UNION ALL
    SELECT fr.user_a_id, f2.walks FROM f2 JOIN social_friendship fr ON fr.user_b_id = f2.id
)
SELECT id, SUM(walks) AS paths FROM f3
WHERE id <> %(user_id)s AND id NOT IN (SELECT id FROM f1)
GROUP BY id ORDER BY paths DESC, id LIMIT 10
"""

# Friends are told apart as in cypher.SUGGESTIONS: each comes out with a weight that no
# number of walks can make up for.
DEPTH3_CYPHER = """
MATCH (me:Bunny {id: $user_id})-[:FRIEND]-(f1)
WITH me, collect(f1) AS ring1
CALL (me, ring1) {
    UNWIND ring1 AS f1
    MATCH (f1)-[:FRIEND]-(f2)
    WHERE f2 <> me
    WITH me, f2, count(*) AS walks
    MATCH (f2)-[:FRIEND]-(f3)
    WHERE f3 <> me
    RETURN f3, walks
  UNION ALL
    UNWIND ring1 AS f3
    RETURN f3, -1000000000000 AS walks
}
WITH f3, sum(walks) AS paths
WHERE paths > 0
RETURN f3.id AS id, paths
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
    from social.graph.suggestions import neo4j_store, sql_store, suggestions_for
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
    stores = (neo4j_store, sql_store)

    def end_to_end(store):
        """What the feed's panel and /api/suggestions/ run, cache off, on one store: the
        ranking, then one SQL query for profiles, sample names and exclusions."""
        return lambda viewer: suggestions_for(viewer, limit=10, use_cache=False, store=store)

    def store_only(store):
        """The store's own contract call: top 10 with every exclusion applied."""
        return lambda viewer: store.suggest(viewer.pk, limit=10)

    # Floors, same run: one round trip that does nothing, to each server.
    def neo4j_round_trip(_):
        with graph_session() as session:
            session.run("RETURN 1 AS one").consume()

    def sql_round_trip(_):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    for store in stores:
        _time_calls(end_to_end(store), warmup)
    floors = {
        name: _percentiles(samples)
        for name, samples in _interleaved(
            {"neo4j": neo4j_round_trip, "sql": sql_round_trip}, users
        ).items()
    }
    # Interleaved per bunny (and twice over), so both stores see the same machine load.
    timings = _interleaved({store.name: end_to_end(store) for store in stores}, users * 2)
    store_timings = _interleaved({store.name: store_only(store) for store in stores}, users)
    figures: dict = {
        store.name: {
            "end_to_end": _percentiles(timings[store.name]),
            "store_only": _percentiles(store_timings[store.name]),
            "round_trip_floor": floors[store.name],
        }
        for store in stores
    }

    mismatches = sum(
        neo4j_store.suggest(viewer.pk, limit=10) != sql_store.suggest(viewer.pk, limit=10)
        for viewer in users
    )
    page_mismatches = sum(
        [s.user.pk for s in end_to_end(neo4j_store)(viewer)]
        != [s.user.pk for s in end_to_end(sql_store)(viewer)]
        for viewer in users
    )

    # Mutual friends of a bunny and its top suggestion (so the answer is never empty).
    pairs = []
    for viewer in users:
        top = sql_store.suggest(viewer.pk, limit=1)
        if top:
            pairs.append((viewer.pk, top[0].user_id))
    mutual_timings = _interleaved(
        {store.name: lambda pair, s=store: s.mutual_friend_ids(*pair) for store in stores},
        pairs * 2,
    )
    mutual = {name: _percentiles(samples) for name, samples in mutual_timings.items()}
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

    _interleaved({"neo4j": neo4j_depth3, "sql": sql_depth3}, depth3_users[:5])
    depth3_timings = _interleaved({"neo4j": neo4j_depth3, "sql": sql_depth3}, depth3_users)
    depth3 = {
        "neo4j": _percentiles(depth3_timings["neo4j"]),
        "sql": _percentiles(depth3_timings["sql"]),
        "users": len(depth3_users),
        "same_answers": all(
            neo4j_depth3(u) == [tuple(r) for r in sql_depth3(u)] for u in depth3_users
        ),
    }

    neo, sql = figures["neo4j"]["end_to_end"], figures["sql"]["end_to_end"]

    def row(what: str, figure: float, floor: float, floor_label: str) -> list:
        return [what, f"{figure:.2f} ms", f"{floor:.2f} ms {floor_label}", round(figure / floor, 2)]

    size = f"{BUNNIES // 1000}k"
    table = [
        row(f"suggestions {size} neo4j p50 (end to end)", neo["p50"], sql["p50"], "sql"),
        row(f"suggestions {size} neo4j p99 (end to end)", neo["p99"], sql["p99"], "sql"),
        row(
            f"suggestions {size} neo4j store p50",
            figures["neo4j"]["store_only"]["p50"],
            floors["neo4j"]["p50"],
            "RETURN 1",
        ),
        row(
            f"mutual friends {size} neo4j p50",
            mutual["neo4j"]["p50"],
            mutual["sql"]["p50"],
            "sql",
        ),
        row(
            f"friends of friends of friends {size} neo4j p50",
            depth3["neo4j"]["p50"],
            depth3["sql"]["p50"],
            "sql",
        ),
    ]
    report.update(
        table=table,
        users_measured=len(users),
        suggestions_ms=figures,
        suggestions_ratio_neo4j_over_sql={
            "p50": round(neo["p50"] / sql["p50"], 2),
            "p99": round(neo["p99"] / sql["p99"], 2),
        },
        same_top10=mismatches == 0 and page_mismatches == 0,
        top10_mismatches=mismatches,
        top10_mismatches_end_to_end=page_mismatches,
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
