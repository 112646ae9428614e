from django.core.management.base import BaseCommand, CommandError

from social.graph import sync
from social.graph.client import GraphUnavailable, graph_enabled


class Command(BaseCommand):
    help = "Create the Neo4j schema (uniqueness constraint on Bunny.id). Idempotent."

    def handle(self, *args, **options):
        if not graph_enabled():
            self.stdout.write("NEO4J_URI is not set: nothing to set up.")
            return
        try:
            sync.ensure_schema()
        except GraphUnavailable as exc:
            raise CommandError(f"Neo4j is unavailable: {exc}") from exc
        self.stdout.write(self.style.SUCCESS("Neo4j schema ready (bunny_id_unique)."))
