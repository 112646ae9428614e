from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from social.graph.sync import ensure_schema_after_migrate

        # `migrate` (make run, docker compose, the test database) also creates the Neo4j
        # constraint when NEO4J_URI is set; `manage.py graph_setup` does it on its own.
        post_migrate.connect(
            ensure_schema_after_migrate, sender=self, dispatch_uid="social.graph.schema"
        )
