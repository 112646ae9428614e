from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from social.seeding import SEED_PASSWORD, SeedError, SeedPlan, seed_network

PHASE_UNITS = {"indexes": "index", "graph": "edge"}


class Command(BaseCommand):
    help = (
        "Add a believable network of N bunnies (friend groups, pending requests, posts with "
        "comments and likes, conversations), the same for the same --seed, then load the "
        "friendships into Neo4j. Every seeded bunny's password is --password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1000, help="N bunnies (default 1000)")
        parser.add_argument(
            "--friends", type=int, default=20, help="K, average friends per bunny (K < N)"
        )
        parser.add_argument("--posts", type=int, default=3, help="average posts per bunny")
        parser.add_argument("--comments", type=int, default=2, help="average comments per post")
        parser.add_argument("--likes", type=int, default=3, help="average likes per post")
        parser.add_argument(
            "--messages",
            type=int,
            default=5,
            help="average messages per conversation; about one conversation per bunny (0: none)",
        )
        parser.add_argument("--seed", type=int, default=1, help="same seed, same network")
        parser.add_argument("--password", default=SEED_PASSWORD)
        parser.add_argument("--no-graph", action="store_true", help="skip the bulk load into Neo4j")

    def handle(self, *args, **options):
        plan = SeedPlan(
            users=options["users"],
            friends=options["friends"],
            posts=options["posts"],
            comments=options["comments"],
            likes=options["likes"],
            messages=options["messages"],
            seed=options["seed"],
            password=options["password"],
        )
        try:
            plan.check()
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        report = seed_network(plan, progress=self.progress, graph=not options["no_graph"])
        self.summary(plan, report)

    @contextmanager
    def progress(self, phase: str, total: int):
        unit = PHASE_UNITS.get(phase, "bunny")
        with tqdm(
            total=total, desc=f"{phase:>13}", unit=unit, unit_scale=True, file=self.stderr
        ) as bar:
            yield bar.update

    def summary(self, plan: SeedPlan, report) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"Seeded {plan.users:,} bunnies (seed {plan.seed})."))
        width = max(len(label) for label in report.rows)
        for label, rows in report.rows.items():
            write(f"  {label:<{width}}  {rows:>12,}")
        write(f"  {'rows in all':<{width}}  {report.total_rows:>12,}")
        for phase, seconds in report.seconds.items():
            write(f"  {phase:<{width}}  {seconds:>11.1f}s")
        write(
            f"Database: {report.database_seconds:.1f} s, "
            f"{report.rows_per_second:,.0f} rows/s. Graph: {report.graph}."
        )
        write(f"Log in as any seeded bunny with the password {plan.password!r}.")
