"""Graph fixtures: a clean Neo4j per test (tests run serially), and the two stores behind
one helper so contract tests run unchanged against both."""

import fcntl
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from social.graph import sync
from social.graph.client import breaker, graph_enabled, graph_session
from social.graph.models import GraphOutbox
from social.graph.suggestions import Neo4jStore, SqlStore, SuggestionStore, sql_store

# Contract tests want the graph's answer even on a loaded machine, where planning a query
# can outlast the short timeout pages use (a page then falls back to SQL). Timing is
# tested separately, with the page's timeout.
patient_neo4j_store = Neo4jStore(timeout=30.0)

# The feed page's queries with the panel, without posts (session, viewer, requests, nav, then
# the suggestions: the store and one hydration, or the new-bunnies fallback); the same bound
# holds for any number of suggestions and either store.
FEED_WITH_PANEL_QUERY_BOUND = 10


def wipe_graph() -> None:
    with graph_session(write=True, use_breaker=False) as session:
        session.run("MATCH (n) DETACH DELETE n").consume()


def _far_away_user_ids() -> None:
    """Start this test's bunny ids at a random offset beyond 10^12. Neo4j is shared by
    every test run on the machine (other checkouts' suites push their own small ids into
    it), so assertions look only at this test's bunnies, which no other run can collide
    with."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)",
            [10**12 + random.randrange(10**11)],
        )


@pytest.fixture
def graph_lock():
    """Neo4j is one server per machine: test runs of several checkouts (or helpers) must
    not wipe, rebuild or stop it under each other's graph tests."""
    path = Path(settings.VAR_DIR) / "graph-tests.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def clean_graph(db, graph_lock):
    """An empty Neo4j with its schema, and no outbox rows left behind by other tests;
    failing where NEO4J_URI is not set."""
    if not graph_enabled():
        pytest.fail("NEO4J_URI is not set: the graph tests need the real Neo4j (make test)")
    breaker.reset()
    wipe_graph()
    sync.ensure_schema()
    GraphOutbox.objects.all().delete()  # undone with the test's transaction
    _far_away_user_ids()
    yield
    breaker.reset()


def our_edges() -> set[tuple[int, int]]:
    """Neo4j's edges among this test's bunnies."""
    from accounts.models import User

    ours = set(User.objects.values_list("pk", flat=True))
    return {(a, b) for a, b in sync.graph_edges() if a in ours and b in ours}


def in_sync() -> bool:
    """graph_check over this test's bunnies."""
    from accounts.models import User

    return sync.check(users=User.objects.values_list("pk", flat=True)).in_sync


@pytest.fixture(autouse=True)
def _closed_breaker():
    breaker.reset()
    yield
    breaker.reset()


@dataclass
class StoreUnderTest:
    store: SuggestionStore

    def sync(self) -> None:
        if not isinstance(self.store, SqlStore):
            sync.drain_all(use_breaker=False)

    def suggest(self, bunny, *, limit: int = 10) -> list[tuple[str, int, list[str]]]:
        """(username, mutual_count, sample usernames) per candidate, best first."""
        from accounts.models import User

        self.sync()
        candidates = self.store.suggest(bunny.pk, limit=limit)
        ids = {c.user_id for c in candidates} | {i for c in candidates for i in c.sample_ids}
        names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
        return [
            (names[c.user_id], c.mutual_count, [names[i] for i in c.sample_ids]) for c in candidates
        ]

    def mutual(self, first, second) -> list[int]:
        self.sync()
        return self.store.mutual_friend_ids(first.pk, second.pk)


@pytest.fixture(params=["sql", "neo4j"])
def store(request) -> StoreUnderTest:
    if request.param == "neo4j":
        request.getfixturevalue("clean_graph")
        return StoreUnderTest(patient_neo4j_store)
    return StoreUnderTest(sql_store)
