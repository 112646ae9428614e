from django.core.management.base import BaseCommand

from chat.services import prune_live_events


class Command(BaseCommand):
    help = "Forget durable live events older than LIVE_EVENT_RETENTION_DAYS (clients resync)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Override the retention.")

    def handle(self, *args, days=None, **options):
        deleted = prune_live_events(older_than_days=days)
        self.stdout.write(f"Pruned {deleted} live events.")
