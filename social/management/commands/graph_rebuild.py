from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from social.graph import sync
from social.graph.client import GraphUnavailable, graph_enabled
from social.models import Friendship


class Command(BaseCommand):
    help = "Rebuild the whole Neo4j projection from PostgreSQL's friendships, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=sync.LOAD_BATCH)

    def handle(self, *args, batch_size=sync.LOAD_BATCH, **options):
        if not graph_enabled():
            raise CommandError("NEO4J_URI is not set: there is no graph to rebuild.")
        total = Friendship.objects.count()
        with tqdm(total=total, unit="edge", desc="graph_rebuild", file=self.stderr) as bar:
            try:
                outcome = sync.rebuild(batch_size=batch_size, progress=bar.update)
            except GraphUnavailable as exc:
                raise CommandError(f"Neo4j is unavailable: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {outcome['edges']} friendships; replayed {outcome['replayed_pairs']} "
                f"pairs changed meanwhile; drained {outcome['drained']} outbox rows."
            )
        )
