"""Seeding speed: 100,000 bunnies with friendships (K=30), posts, comments, likes and
conversations into PostgreSQL, in a scratch database this benchmark creates and drops
(never the dev database). Target: under 120 s on this 2-core machine.

Sizes come from BENCH_SEED_USERS, _FRIENDS, _POSTS, _COMMENTS, _MESSAGES (defaults below).
Needs DATABASE_URL pointing at PostgreSQL (services/env) with a role that may create
databases.

Then the seed's last phase, the bulk load of the friendships into Neo4j (`graph_rebuild`'s
path), is timed apart: into a throwaway Neo4j started here from the services launcher on
its own port and an empty store, with the dev services' memory (NEO4J_HEAP, 512m, and
NEO4J_PAGECACHE_MB, 64, as services/up starts it), so the shared dev graph is never wiped.
BENCH_SEED_GRAPH=0 skips it.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 120

SEED = """
import json, django
django.setup()
from social.seeding import SeedPlan, seed_network
plan = SeedPlan(users={users}, friends={friends}, posts={posts}, comments={comments},
                messages={messages}, seed=1)
report = seed_network(plan, graph=False)
print(json.dumps({{"rows": report.rows, "seconds": report.seconds}}))
"""

# The seed's graph phase alone, on the network seeded above; then the check it must pass.
GRAPH = """
import json, time, django
from itertools import islice
django.setup()
from django.db import transaction
from social.graph import sync
# A long-running Neo4j has compiled its hot paths; this one was just started: warm it up on
# the first 100,000 pairs, then empty it again, so the load below is timed as the dev
# services would run it.
with transaction.atomic():
    sync.load_pairs(islice(sync.friendship_pairs(), 100_000))
sync.clear_graph()
started = time.perf_counter()
outcome = sync.rebuild()
seconds = time.perf_counter() - started
report = sync.check(full=True)
print(json.dumps({"seconds": seconds, "edges": outcome["edges"], "check": report.as_dict()}))
"""
GRAPH_PORT = int(os.environ.get("BENCH_SEED_NEO4J_PORT", "57689"))


def _sizes() -> dict:
    def size(name, default):
        return int(os.environ.get(f"BENCH_SEED_{name.upper()}", default))

    return {
        "users": size("users", 100_000),
        "friends": size("friends", 30),
        "posts": size("posts", 3),
        "comments": size("comments", 2),
        "messages": size("messages", 5),
    }


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def run() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return {"skipped": "DATABASE_URL is not PostgreSQL (source services/env)"}
    parts = urlsplit(url)
    scratch = f"bunnybook_bench_seed_{uuid.uuid4().hex[:8]}"
    scratch_url = urlunsplit(parts._replace(path=f"/{scratch}"))
    env = {**os.environ, "DATABASE_URL": scratch_url, "DEBUG": "0", "SECRET_KEY": "bench"}
    env.update({"ALLOWED_HOSTS": "localhost", "DJANGO_SETTINGS_MODULE": "bunnybook.settings"})
    for name in ("NEO4J_URI", "REDIS_URL", "CACHE_URL"):
        env.pop(name, None)  # the embedded defaults: only PostgreSQL is measured
    sizes = _sizes()
    _admin(url, f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        started = time.perf_counter()
        seeded = subprocess.run(
            [sys.executable, "-c", SEED.format(**sizes)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        graph = _graph_load(env) if os.environ.get("BENCH_SEED_GRAPH", "1") != "0" else None
    finally:
        _admin(url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    report = json.loads(seeded.stdout.strip().splitlines()[-1])
    rows = sum(report["rows"].values())
    return {
        **sizes,
        "rows": rows,
        "rows_by_table": report["rows"],
        "seconds_by_phase": {k: round(v, 1) for k, v in report["seconds"].items()},
        "seconds": round(wall, 1),
        "rows_per_second": round(rows / wall),
        "target_seconds": TARGET_SECONDS,
        "within_target": wall < TARGET_SECONDS,
        "graph_load": graph,
    }


def _graph_load(env: dict) -> dict:
    """Time the bulk load into an empty throwaway Neo4j with the dev services' memory."""
    sys.path.insert(0, str(ROOT))
    from bench import bench_suggestions as neo4j_launcher

    home = ROOT / "var" / "bench" / "neo4j-seed"
    shutil.rmtree(home, ignore_errors=True)  # an empty store, as a first seed finds it
    heap = os.environ.get("NEO4J_HEAP", "512m")
    pagecache_mb = int(os.environ.get("NEO4J_PAGECACHE_MB", "64"))
    try:
        pid = neo4j_launcher.start_bench_neo4j(
            home=home, port=GRAPH_PORT, heap=heap, pagecache_mb=pagecache_mb
        )
    except RuntimeError as exc:
        return {"skipped": str(exc)}
    graph_env = {
        **env,
        "NEO4J_URI": f"bolt://127.0.0.1:{GRAPH_PORT}",
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": neo4j_launcher.NEO4J_PASSWORD,
        "LOG_LEVEL": "WARNING",
    }
    try:
        subprocess.run(  # the schema, as `migrate` makes it on a configured site
            [sys.executable, "manage.py", "graph_setup"],
            cwd=ROOT,
            env=graph_env,
            check=True,
            capture_output=True,
        )
        loaded = subprocess.run(
            [sys.executable, "-c", GRAPH],
            cwd=ROOT,
            env=graph_env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        neo4j_launcher.stop_bench_neo4j(pid)
        shutil.rmtree(home, ignore_errors=True)
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    return {
        "edges": result["edges"],
        "seconds": round(result["seconds"], 1),
        "edges_per_second": round(result["edges"] / result["seconds"]),
        "neo4j_heap": heap,
        "neo4j_pagecache_mb": pagecache_mb,
        "graph_check_full": result["check"],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
