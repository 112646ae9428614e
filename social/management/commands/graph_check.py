import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from social.graph import sync
from social.graph.client import GraphUnavailable, graph_enabled


class Command(BaseCommand):
    help = (
        "Compare PostgreSQL's friendships with the Neo4j projection (counts, then the edges of "
        "a random sample of bunnies, or every edge with --full); --repair fixes the drift. "
        "Exits 1 when they differ and were not repaired."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Compare every edge.")
        parser.add_argument("--sample", type=int, default=200, help="Bunnies to sample.")
        parser.add_argument("--repair", action="store_true", help="Fix missing and extra edges.")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the report as JSON."
        )

    def handle(self, *args, full=False, sample=200, repair=False, as_json=False, **options):
        if not graph_enabled():
            raise CommandError("NEO4J_URI is not set: there is no graph to check.")
        with tqdm(desc="graph_check", unit="range", file=self.stderr) as bar:
            try:
                report = sync.check(full=full, sample=sample, repair=repair, progress=bar.update)
            except GraphUnavailable as exc:
                raise CommandError(f"Neo4j is unavailable: {exc}") from exc
        summary = report.as_dict()
        if as_json:
            self.stdout.write(json.dumps(summary, sort_keys=True))
        else:
            for name, value in summary.items():
                self.stdout.write(f"{name:>15}: {value}")
            for label, pairs in (("missing", report.missing), ("extra", report.extra)):
                for pair in pairs[:20]:
                    self.stdout.write(f"  {label} edge {pair[0]}-{pair[1]}")
        if not report.in_sync and not report.repaired:
            raise CommandError("PostgreSQL and Neo4j differ; run with --repair to fix.")
