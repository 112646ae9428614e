"""Typo-tolerant people search on PostgreSQL: pg_trgm and GIN indexes on the names.

The indexes cover upper(...) because the search filters with Django's case-insensitive
lookups and trigram similarity on the same expressions. Other databases search by
substring and need nothing here.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS user_username_trgm ON accounts_user "
    "USING gin (upper(username) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS user_display_name_trgm ON accounts_user "
    "USING gin (upper(display_name) gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS user_username_trgm", "DROP INDEX IF EXISTS user_display_name_trgm"]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(run(CREATE), run(DROP))]
