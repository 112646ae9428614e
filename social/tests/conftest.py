import pytest


@pytest.fixture(autouse=True)
def _suggestions_from_sql(settings):
    """The social core's tests read suggestions and mutual friends from the SQL store: the
    shared Neo4j never sees their friendships (on_commit pushes do not run inside a test's
    transaction). social/graph/tests run the same reads against both stores."""
    settings.NEO4J_URI = ""
