"""Write path: posts and messages per second from concurrent writers, with the errors
counted (the figure is only honest at zero). Each writer is its own process calling the
product's write services (`social.services.create_post`, `chat.services.send_message`: one
transaction each, with their checks and the live events to Redis). Floor, same run, same
processes: the bare ORM insert of the same post row, without the service's checks.

Uses the network bench_pages seeds (its database and Redis db), so run it after, or alone.
BENCH_SCALE=small: 3 s per figure instead of 15 s.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_pages  # noqa: E402 - the path above makes bench importable

WRITERS = 4
SECONDS = 3 if bench_pages.SMALL else 15

# One writer: bunnies taken from its own slice, so writers never wait on each other's rows,
# each bunny once (one seat each), so no sender outpaces the chat's rate limit.
WRITER = """
import json, sys, time, uuid, django
django.setup()
from django.contrib.auth import get_user_model
from chat.models import Participant
from chat.services import send_message
from social.models import Post
from social.services import create_post

kind, index, writers, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
seats = Participant.objects.select_related("user").order_by("user_id").distinct("user_id")
seats = seats[index::writers][:200]
done = errors = 0
first_error = None
deadline = time.perf_counter() + seconds
while time.perf_counter() < deadline:
    seat = seats[done % len(seats)]
    try:
        if kind == "message":
            send_message(sender=seat.user, conversation_id=seat.conversation_id,
                         body=f"bench message {done}", client_id=uuid.uuid4())
        elif kind == "post":
            create_post(author=seat.user, body=f"bench post {done}")
        else:
            Post.objects.create(author=seat.user, wall=seat.user, body=f"bench post {done}")
        done += 1
    except Exception as error:
        errors += 1
        first_error = first_error or repr(error)
        done += 1
print(json.dumps({"writes": done - errors, "errors": errors, "first_error": first_error}))
"""


# The bench's own rows go again, so the seeded network stays the same from run to run.
CLEANUP = """
import django
django.setup()
from chat.models import Message
from social.models import Post
Post.objects.filter(body__startswith="bench post ").delete()
Message.objects.filter(body__startswith="bench message ").delete()
"""


def _measure(kind: str, env: dict) -> dict:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, kind, str(i), str(WRITERS), str(SECONDS)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    results = [json.loads(writer.communicate()[0].strip().splitlines()[-1]) for writer in writers]
    writes = sum(result["writes"] for result in results)
    return {
        "per_second": round(writes / SECONDS, 1),
        "writes": writes,
        "errors": sum(result["errors"] for result in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
    }


def run() -> dict:
    env = bench_pages.bench_env()
    if env is None:
        return {"skipped": "needs the services (make services, then make bench)"}
    bench_pages.prepare_database(os.environ["DATABASE_URL"], env)
    try:
        floor = _measure("floor_post", env)
        posts = _measure("post", env)
        messages = _measure("message", env)
    finally:
        subprocess.run([sys.executable, "-c", CLEANUP], cwd=ROOT, env=env, check=True)
    table = [
        [
            f"posts/s ({posts['errors']} errors)",
            f"{posts['per_second']:.0f}/s",
            f"{floor['per_second']:.0f}/s bare insert",
            round(posts["per_second"] / floor["per_second"], 2),
        ],
        [
            f"messages/s ({messages['errors']} errors)",
            f"{messages['per_second']:.0f}/s",
            f"{floor['per_second']:.0f}/s bare insert",
            round(messages["per_second"] / floor["per_second"], 2),
        ],
    ]
    return {
        "writers": WRITERS,
        "seconds": SECONDS,
        "table": table,
        "floor_bare_post_insert": floor,
        "posts": posts,
        "messages": messages,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
