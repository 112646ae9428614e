from django.core.management.base import BaseCommand

from social.demo import BUNNIES, DEMO_PASSWORD, MODERATOR, build_demo_network


class Command(BaseCommand):
    help = "Build a small demo network (only into an empty database) and print its logins."

    def handle(self, *args, **options):
        if build_demo_network():
            self.stdout.write(self.style.SUCCESS("Built the demo network."))
        else:
            self.stdout.write("The database already has bunnies; left it as it is.")
        logins = ", ".join(username for username, _, _ in BUNNIES)
        self.stdout.write(f"Demo logins: {logins} — password: {DEMO_PASSWORD}")
        self.stdout.write(f"Moderator (admin at /admin/): {MODERATOR[0]} — same password")
