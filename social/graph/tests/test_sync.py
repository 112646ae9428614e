"""The outbox: written with each friendship change, pushed after commit, replayed in order,
never dropped; and the rebuild, check and setup commands."""

import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from conftest import make_bunny
from social import services
from social.graph import cypher, sync
from social.graph.client import breaker, close_driver, graph_session
from social.graph.models import GraphOutbox
from social.graph.suggestions import candidates_for
from social.graph.tests.conftest import in_sync, our_edges
from social.models import Friendship
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


def sql_pairs() -> set[tuple[int, int]]:
    return set(Friendship.objects.values_list("user_a_id", "user_b_id"))


def ops() -> list[tuple[str, bool]]:
    return [(row.op, row.done_at is not None) for row in GraphOutbox.objects.order_by("id")]


@pytest.fixture
def dead_neo4j(settings):
    """NEO4J_URI pointing at a closed port: every call fails at once."""
    settings.NEO4J_URI = "bolt://127.0.0.1:9"
    close_driver()
    yield
    close_driver()
    breaker.reset()


# --- The outbox ------------------------------------------------------------------------------


def test_becoming_friends_writes_a_link_row_in_the_same_transaction(ann, bob):
    make_friends(ann, bob)

    row = GraphOutbox.objects.get()
    assert (row.user_a_id, row.user_b_id, row.op) == (ann.pk, bob.pk, "link")
    assert row.done_at is None  # on_commit never ran: the test transaction is still open


def test_a_rolled_back_friendship_leaves_no_outbox_row(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)

    def accept_then_fail():
        with transaction.atomic():
            services.accept_friend_request(friend_request=request, by=bob)
            raise RuntimeError("the caller fails after the service")

    with pytest.raises(RuntimeError):
        accept_then_fail()

    assert not GraphOutbox.objects.exists()
    assert not Friendship.objects.exists()


def test_unfriending_and_blocking_write_unlink_rows(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    services.unfriend(user=bob, friend=ann)
    services.block_bunny(blocker=cid, blocked=ann)

    assert [op for op, _ in ops()] == ["link", "link", "unlink", "unlink"]


def test_after_commit_the_change_is_pushed_and_marked_done(
    clean_graph, ann, bob, django_capture_on_commit_callbacks
):
    request = services.send_friend_request(sender=ann, to=bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.accept_friend_request(friend_request=request, by=bob)
    assert ops() == [("link", True)]
    assert our_edges() == {(ann.pk, bob.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        services.unfriend(user=ann, friend=bob)

    assert ops() == [("link", True), ("unlink", True)]
    assert our_edges() == set()


def test_a_failed_push_leaves_the_rows_pending_and_the_write_succeeds(
    dead_neo4j, ann, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_friends(ann, bob)

    assert sql_pairs() == {(ann.pk, bob.pk)}
    row = GraphOutbox.objects.get()
    assert row.done_at is None
    assert row.attempts == 1
    assert row.last_error.startswith("ServiceUnavailable")


def test_a_pair_rows_are_applied_in_order_so_the_last_change_wins(clean_graph, ann, bob, cid):
    make_friends(ann, bob)
    services.unfriend(user=ann, friend=bob)
    make_friends(bob, ann)
    make_friends(ann, cid)
    services.unfriend(user=cid, friend=ann)

    applied = sync.drain_all(use_breaker=False)

    assert applied == 5
    assert our_edges() == sql_pairs() == {(ann.pk, bob.pk)}
    assert sync.pending_count() == 0


def test_draining_again_changes_nothing(clean_graph, ann, bob):
    make_friends(ann, bob)
    sync.drain_all(use_breaker=False)
    GraphOutbox.objects.update(done_at=None)  # as if the marks were lost after the push

    assert sync.drain_all(use_breaker=False) == 1
    assert our_edges() == {(ann.pk, bob.pk)}


def test_small_batches_still_apply_every_row_in_order(clean_graph):
    bunnies = [make_bunny(f"b{n}") for n in range(6)]
    for other in bunnies[1:]:
        make_friends(bunnies[0], other)
    for other in bunnies[1:4]:
        services.unfriend(user=bunnies[0], friend=other)

    assert sync.drain_all(batch_size=2, use_breaker=False) == 8
    assert our_edges() == sql_pairs()


@pytest.mark.django_db(transaction=True)
def test_a_drainer_leaves_a_pair_whose_earlier_row_another_drainer_holds(clean_graph):
    ann, bob, cid = (make_bunny(name) for name in ("ann", "bob", "cid"))
    first = GraphOutbox.objects.create(user_a_id=ann.pk, user_b_id=bob.pk, op="link")
    GraphOutbox.objects.create(user_a_id=ann.pk, user_b_id=bob.pk, op="unlink")
    GraphOutbox.objects.create(user_a_id=ann.pk, user_b_id=cid.pk, op="link")
    holding, release = threading.Event(), threading.Event()

    def other_drainer():
        try:
            with transaction.atomic():
                list(GraphOutbox.objects.select_for_update().filter(pk=first.pk))
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_drainer)
    thread.start()
    holding.wait(10)
    try:
        applied = sync.drain(use_breaker=False)
    finally:
        release.set()
        thread.join()

    assert applied == 1  # ann-cid only: ann-bob's unlink must wait for its link
    assert our_edges() == {(ann.pk, cid.pk)}
    assert sync.drain_all(use_breaker=False) == 2
    assert our_edges() == {(ann.pk, cid.pk)}


@pytest.mark.django_db(transaction=True)
def test_the_worker_is_woken_by_a_commit_not_by_its_next_poll(clean_graph):
    ann, bob = make_bunny("ann"), make_bunny("bob")
    bell = sync.OutboxBell()
    assert bell.listen() is not None

    def befriend_elsewhere():
        try:
            make_friends(ann, bob)  # commits on this thread's own connection
        finally:
            connection.close()

    thread = threading.Thread(target=befriend_elsewhere)
    thread.start()
    thread.join()
    started = time.monotonic()
    bell.wait(600)

    # Woken by the commit's NOTIFY (kept while nobody waited), not by the 600 s poll.
    assert time.monotonic() - started < 300


def test_without_neo4j_configured_no_outbox_is_written(settings, ann, bob):
    settings.NEO4J_URI = ""

    make_friends(ann, bob)

    assert not GraphOutbox.objects.exists()


# --- Commands --------------------------------------------------------------------------------


def test_graph_sync_drains_the_outbox_once(clean_graph, ann, bob, capsys):
    make_friends(ann, bob)

    call_command("graph_sync")

    assert "Applied 1 outbox rows; 0 pending" in capsys.readouterr().out
    assert our_edges() == {(ann.pk, bob.pk)}


def test_graph_sync_fails_loudly_and_keeps_rows_when_neo4j_is_down(dead_neo4j, ann, bob):
    make_friends(ann, bob)

    with pytest.raises(CommandError, match="outbox keeps the rows"):
        call_command("graph_sync")

    assert sync.pending_count() == 1


def test_graph_rebuild_loads_every_friendship_and_drops_stale_edges(clean_graph, ann, bob, cid):
    make_friends(ann, bob)
    make_friends(bob, cid)
    with graph_session(write=True) as session:  # drift: an edge PostgreSQL never had
        session.run(
            "MERGE (a:Bunny {id: $a}) MERGE (b:Bunny {id: $b}) MERGE (a)-[:FRIEND]-(b)",
            a=ann.pk,
            b=cid.pk,
        ).consume()

    call_command("graph_rebuild", batch_size=1)

    assert our_edges() == sql_pairs() == {(ann.pk, bob.pk), (bob.pk, cid.pk)}
    assert sync.pending_count() == 0


def test_graph_check_finds_drift_and_repair_fixes_it(clean_graph, ann, bob, cid, capsys):
    make_friends(ann, bob)
    make_friends(bob, cid)
    sync.drain_all(use_breaker=False)
    with graph_session(write=True) as session:
        session.run(
            "MATCH (:Bunny {id: $a})-[r:FRIEND]-(:Bunny {id: $b}) DELETE r", a=ann.pk, b=bob.pk
        ).consume()
        session.run(
            "MERGE (a:Bunny {id: $a}) MERGE (b:Bunny {id: $b}) MERGE (a)-[:FRIEND]-(b)",
            a=ann.pk,
            b=cid.pk,
        ).consume()

    report = sync.check(full=True)
    ours = {ann.pk, bob.pk, cid.pk}
    drift = [[p for p in pairs if set(p) <= ours] for pairs in (report.missing, report.extra)]
    assert drift == [[(ann.pk, bob.pk)], [(ann.pk, cid.pk)]]
    with pytest.raises(CommandError, match="--repair"):
        call_command("graph_check", "--full")

    call_command("graph_check", "--full", "--repair")

    assert our_edges() == sql_pairs()
    assert in_sync()


def test_graph_check_leaves_pairs_with_pending_rows_to_the_drain(clean_graph, ann, bob):
    make_friends(ann, bob)  # pending: not in Neo4j yet, but not drift either

    report = sync.check(users=[ann.pk, bob.pk])

    assert report.in_sync
    assert report.pending_outbox == 1


def test_graph_setup_creates_the_unique_constraint(clean_graph, capsys):
    with graph_session(write=True) as session:
        session.run("DROP CONSTRAINT bunny_id_unique IF EXISTS").consume()

    call_command("graph_setup")

    with graph_session() as session:
        names = [r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name RETURN name")]
    assert "bunny_id_unique" in names


def test_graph_check_repairs_a_pair_linked_twice(clean_graph, ann, bob):
    make_friends(ann, bob)
    sync.drain_all(use_breaker=False)
    with graph_session(write=True) as session:
        session.run(
            "MATCH (a:Bunny {id: $a}), (b:Bunny {id: $b}) CREATE (b)-[:FRIEND]->(a)",
            a=ann.pk,
            b=bob.pk,
        ).consume()

    report = sync.check(users=[ann.pk, bob.pk], repair=True)

    assert report.duplicates == [(ann.pk, bob.pk)]
    assert in_sync()
    with graph_session() as session:
        copies = session.run(
            "MATCH (:Bunny {id: $a})-[r:FRIEND]-(:Bunny {id: $b}) RETURN count(r) AS n",
            a=ann.pk,
            b=bob.pk,
        ).single()["n"]
    assert copies == 1


def _operators(plan: dict) -> list[str]:
    return [plan["operatorType"].split("@")[0]] + [
        name for child in plan.get("children", []) for name in _operators(child)
    ]


def test_graph_check_reads_a_range_of_bunnies_by_the_id_index(clean_graph):
    # Planned from a scan of every bunny, one bunny's edges took 55 s among 1,000,000.
    with graph_session() as session:
        plan = session.run("EXPLAIN " + cypher.EDGES_IN_RANGE, low=1, high=2).consume().plan

    operators = _operators(plan)
    assert "NodeUniqueIndexSeekByRange" in operators
    assert "NodeByLabelScan" not in operators


def test_migrate_creates_the_unique_constraint(clean_graph):
    """`migrate` (make run, docker compose, CI's test database) sets up Neo4j as well."""
    with graph_session(write=True) as session:
        session.run("DROP CONSTRAINT bunny_id_unique IF EXISTS").consume()

    call_command("migrate", verbosity=0)

    with graph_session() as session:
        names = [r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name RETURN name")]
    assert "bunny_id_unique" in names


def test_a_drain_forgets_suggestions_cached_before_the_edge_reached_neo4j(
    clean_graph, ann, bob, cid, django_capture_on_commit_callbacks
):
    make_friends(bob, cid)
    sync.drain_all(use_breaker=False)
    make_friends(ann, bob)  # committed, not yet pushed (as when another drainer holds it)
    candidates_for(ann.pk)  # a page fills the cache from the graph without that edge
    assert [c.user_id for c in candidates_for(ann.pk)] != [cid.pk]

    with django_capture_on_commit_callbacks(execute=True):
        sync.drain_all(use_breaker=False)

    assert [c.user_id for c in candidates_for(ann.pk)] == [cid.pk]
