"""Seeding speed: 100,000 bunnies with friendships (K=30), posts, comments, likes and
conversations into PostgreSQL, in a scratch database this benchmark creates and drops
(never the dev database). Target: under 120 s on this 2-core machine.

Sizes come from BENCH_SEED_USERS, _FRIENDS, _POSTS, _COMMENTS, _MESSAGES (defaults below).
Needs DATABASE_URL pointing at PostgreSQL (services/env) with a role that may create
databases. Neo4j is not touched: the graph load is measured by `graph_rebuild`.
"""

import json
import os
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
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
