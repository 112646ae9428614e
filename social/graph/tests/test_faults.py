"""A real Neo4j outage: the site keeps working on SQL, the outbox keeps every change, and
one drain after the restart makes the graph equal to PostgreSQL again.

Stops and starts the real Neo4j of services/ (about 15 s), once for the module."""

import os
import subprocess
import time

import pytest
from django.conf import settings
from django.urls import reverse

from conftest import make_bunny
from social import services
from social.graph import sync
from social.graph.client import GraphUnavailable, breaker, close_driver
from social.graph.suggestions import mutual_friend_ids, neo4j_store, sql_store, suggestions_for
from social.graph.tests.conftest import in_sync, our_edges, patient_neo4j_store
from social.models import Friendship
from social.tests.factories import make_friends

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

# The services/ctl of the checkout that runs the services (see bunnybook/tests/test_faults.py).
CTL = os.environ.get("SERVICES_CTL") or settings.BASE_DIR / "services" / "ctl"


def neo4j(action: str) -> None:
    subprocess.run([str(CTL), action, "neo4j"], check=True, timeout=300, capture_output=True)


@pytest.fixture(scope="module")
def neo4j_comes_back():
    """Whatever happens in the module, Neo4j is running again afterwards."""
    yield
    neo4j("start")  # a no-op when it is already running
    close_driver()
    breaker.reset()


def test_a_neo4j_outage_loses_no_friendship_change(
    clean_graph, neo4j_comes_back, django_capture_on_commit_callbacks, monkeypatch, client
):
    ann, bob, cid, dan, eve = (make_bunny(n) for n in ("ann", "bob", "cid", "dan", "eve"))
    with django_capture_on_commit_callbacks(execute=True):
        make_friends(ann, bob)
        make_friends(bob, cid)
        make_friends(cid, dan)
        make_friends(bob, dan)
    assert our_edges() == set(Friendship.objects.values_list("user_a_id", "user_b_id"))

    neo4j("stop")
    try:
        # Writes succeed; each change waits in the outbox.
        with django_capture_on_commit_callbacks(execute=True):
            request = services.send_friend_request(sender=ann, to=cid)
            services.accept_friend_request(friend_request=request, by=cid)
            services.unfriend(user=bob, friend=cid)
            make_friends(dan, eve)
            services.send_friend_request(sender=eve, to=ann)
        assert sync.pending_count() == 3
        assert breaker.is_open

        # Suggestions and mutual friends come from SQL, without waiting on Neo4j.
        with pytest.raises(GraphUnavailable):
            neo4j_store.suggest(ann.pk, limit=10)
        sql_calls = []
        real_suggest = sql_store.suggest
        monkeypatch.setattr(
            sql_store, "suggest", lambda *a, **k: sql_calls.append(1) or real_suggest(*a, **k)
        )
        started = time.monotonic()
        for bunny in (ann, bob, cid, dan, eve):
            suggestions_for(bunny, use_cache=False)
        assert time.monotonic() - started < 1.0
        assert len(sql_calls) == 5
        assert [s.user for s in suggestions_for(ann, use_cache=False)] == [dan]
        assert mutual_friend_ids(ann, dan) == [bob.pk, cid.pk]
        client.force_login(ann)
        started = time.monotonic()
        feed = client.get(reverse("home"))
        profile = client.get(reverse("profile", args=["dan"]))
        assert time.monotonic() - started < 2.0
        assert "2 mutual friends: Bob and Cid" in feed.content.decode()
        assert profile.context["mutual_preview"] == [bob, cid]
    finally:
        neo4j("start")
    monkeypatch.undo()
    close_driver()

    # One drain makes the graph equal to PostgreSQL, edge by edge.
    assert sync.drain_all(use_breaker=False) == 3
    assert sync.pending_count() == 0
    edges = set(Friendship.objects.values_list("user_a_id", "user_b_id"))
    assert our_edges() == edges
    assert in_sync()
    for bunny in (ann, bob, cid, dan, eve):
        assert patient_neo4j_store.suggest(bunny.pk, limit=10) == sql_store.suggest(
            bunny.pk, limit=10
        )
        for other in (ann, bob, cid, dan, eve):
            assert patient_neo4j_store.mutual_friend_ids(bunny.pk, other.pk) == (
                sql_store.mutual_friend_ids(bunny.pk, other.pk)
            )
