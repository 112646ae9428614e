import signal

from django.core.management.base import BaseCommand, CommandError

from social.graph import sync
from social.graph.client import GraphUnavailable, graph_enabled


class Command(BaseCommand):
    help = (
        "Apply pending friendship changes from the outbox to Neo4j: once, or with --follow "
        "keep draining (the worker service runs that)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="Keep draining until stopped.")
        parser.add_argument("--batch-size", type=int, default=sync.DRAIN_BATCH)
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between idle polls.")

    def handle(self, *args, follow=False, batch_size=sync.DRAIN_BATCH, poll=1.0, **options):
        if not graph_enabled():
            raise CommandError("NEO4J_URI is not set: there is no graph to feed.")
        if not follow:
            try:
                applied = sync.drain_all(batch_size=batch_size, use_breaker=False)
            except GraphUnavailable as exc:
                raise CommandError(
                    f"Neo4j is unavailable; the outbox keeps the rows: {exc}"
                ) from exc
            self.stdout.write(f"Applied {applied} outbox rows; {sync.pending_count()} pending.")
            return
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        self.stdout.write("Draining the graph outbox; Ctrl-C to stop.")
        sync.follow(
            poll_seconds=poll,
            batch_size=batch_size,
            should_stop=lambda: bool(stopping),
            on_applied=lambda n: self.stdout.write(f"applied {n}"),
        )
