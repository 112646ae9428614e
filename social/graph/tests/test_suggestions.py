"""Suggestions as pages and the API get them: hydrated, cached, guarded by the breaker."""

import contextlib
import socket
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from conftest import make_bunny
from social import services
from social.graph import suggestions
from social.graph.client import CircuitBreaker, breaker, close_driver, connect_timeout
from social.graph.suggestions import Candidate, hydrate, suggestions_for
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sql_store_and_empty_cache(settings):
    """These tests are about hydration, caching and pages, not the store: they use the SQL
    store, which needs no outbox drain (test_stores.py proves Neo4j answers the same)."""
    settings.NEO4J_URI = ""
    cache.clear()
    yield
    with contextlib.suppress(Exception):  # a test may have pointed the cache at a dead server
        cache.clear()


@pytest.fixture
def circle(ann, bob, cid):
    """ann — bob, cid; dan is friends with bob and cid, eve with bob."""
    dan, eve = make_bunny("dan"), make_bunny("eve")
    make_friends(ann, bob)
    make_friends(ann, cid)
    make_friends(bob, dan)
    make_friends(cid, dan)
    make_friends(bob, eve)
    return {"ann": ann, "bob": bob, "cid": cid, "dan": dan, "eve": eve}


@pytest.fixture
def dead_neo4j(settings):
    settings.NEO4J_URI = "bolt://127.0.0.1:9"
    close_driver()
    yield
    close_driver()
    breaker.reset()


def names(items) -> list[str]:
    return [item.user.username for item in items]


def test_each_suggestion_says_why_with_mutual_friends_names(circle):
    dan, eve = suggestions_for(circle["ann"])

    assert (dan.user, dan.mutual_count, dan.mutual_sample) == (
        circle["dan"],
        2,
        [circle["bob"], circle["cid"]],
    )
    assert dan.why == "2 mutual friends: Bob and Cid"
    assert eve.why == "1 mutual friend: Bob"
    assert dan.reason == "mutual_friends"


def test_a_long_list_of_mutual_friends_names_three(ann):
    friends = [make_bunny(name) for name in ("bob", "cid", "dan", "eve", "fay")]
    target = make_bunny("zed")
    for friend in friends:
        make_friends(ann, friend)
        make_friends(friend, target)

    (top,) = suggestions_for(ann)

    assert top.why == "5 mutual friends, including Bob, Cid and Dan"


def test_a_bunny_without_friends_gets_recently_joined_bunnies_instead(ann, bob, cid):
    dan = make_bunny("dan")
    services.block_bunny(blocker=dan, blocked=ann)
    services.send_friend_request(sender=ann, to=cid)

    fallback = suggestions_for(ann)

    assert names(fallback) == ["bob"]  # not ann, not cid (asked), not dan (blocked)
    assert fallback[0].reason == "new_bunny"
    assert fallback[0].why == "New on Bunnybook"


def test_recently_joined_bunnies_are_read_from_the_newest_first_index(ann):
    from django.db import connection

    params = {"user_id": ann.pk, "since": suggestions.dismissed_since(), "limit": 10}
    with connection.cursor() as cursor:
        # A few rows would be scanned, or bitmap-scanned and sorted, anyway.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {suggestions.SQL_NEW_BUNNIES}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Walked to the first few strangers, not every bunny sorted (5 ms at 10,000 bunnies).
    assert "user_newest_active" in plan, plan
    assert "Sort" not in plan, plan


def test_hydration_is_one_query_and_keeps_the_rank(circle, django_assert_num_queries):
    ranked = [
        Candidate(circle["eve"].pk, 5, (circle["bob"].pk,)),
        Candidate(circle["dan"].pk, 4, (circle["bob"].pk, circle["cid"].pk)),
    ]

    with django_assert_num_queries(1):
        result = hydrate(circle["ann"], ranked, limit=10)
        _ = [(s.user.name, [m.name for m in s.mutual_sample]) for s in result]

    assert names(result) == ["eve", "dan"]


def test_hydration_drops_whoever_a_stale_store_still_ranks(circle, bob):
    ann = circle["ann"]
    stale = [Candidate(user.pk, 9) for user in (ann, bob, circle["dan"], circle["eve"])]
    services.send_friend_request(sender=circle["dan"], to=ann)
    services.block_bunny(blocker=circle["eve"], blocked=ann)

    assert hydrate(ann, stale, limit=10) == []


def test_suggestions_are_cached_per_bunny(circle, django_assert_num_queries):
    ann = circle["ann"]
    first = names(suggestions_for(ann))

    with django_assert_num_queries(1):  # hydration only; the store is skipped
        assert names(suggestions_for(ann)) == first


def test_a_friendship_change_forgets_both_bunnies_cached_suggestions(
    circle, django_capture_on_commit_callbacks
):
    ann, dan = circle["ann"], circle["dan"]
    suggestions_for(ann)
    suggestions_for(dan)
    key = suggestions._cache_key(ann.pk, 20)
    assert cache.get(key) is not None

    with django_capture_on_commit_callbacks(execute=True):
        make_friends(ann, dan)

    assert cache.get(key) is None
    assert cache.get(suggestions._cache_key(dan.pk, 20)) is None
    assert names(suggestions_for(ann)) == ["eve"]


def test_a_stale_cache_never_shows_a_blocked_bunny(circle):
    ann = circle["ann"]
    assert names(suggestions_for(ann)) == ["dan", "eve"]

    services.block_bunny(blocker=circle["dan"], blocked=ann)  # no relation: nothing forgotten

    assert names(suggestions_for(ann)) == ["eve"]


def test_a_dead_cache_falls_through_to_the_store(circle, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    assert names(suggestions_for(circle["ann"])) == ["dan", "eve"]


def test_a_dead_neo4j_costs_one_short_wait_then_sql_answers(circle, dead_neo4j):
    ann = circle["ann"]
    started = time.monotonic()
    first = suggestions_for(ann, use_cache=False)
    first_call = time.monotonic() - started

    started = time.monotonic()
    for _ in range(20):
        assert names(suggestions_for(ann, use_cache=False)) == names(first) == ["dan", "eve"]
    later_calls = time.monotonic() - started

    assert breaker.is_open
    assert first_call < 2.5
    assert later_calls < 1.0  # no call waited on Neo4j: the breaker skipped it


@pytest.fixture
def hung_neo4j(settings):
    """A port that takes connections and never answers: a Neo4j stuck in a long GC pause or
    behind a dead network path, the case the driver's default timeouts turn into 30 s."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        settings.NEO4J_URI = f"bolt://127.0.0.1:{server.getsockname()[1]}"
        close_driver()
        breaker.reset()
        yield
        close_driver()
        breaker.reset()


def test_a_hung_neo4j_costs_the_first_page_one_short_wait_and_later_pages_none(
    client, circle, hung_neo4j
):
    client.force_login(circle["ann"])

    started = time.monotonic()
    first = client.get(reverse("home"))
    first_page = time.monotonic() - started
    started = time.monotonic()
    later = [client.get(reverse("home")) for _ in range(5)]
    later_pages = time.monotonic() - started

    assert first_page < 2 * connect_timeout() + 1.0
    assert later_pages < 2.0  # the breaker skips Neo4j: no page waits on it
    for page in [first, *later]:
        assert "2 mutual friends: Bob and Cid" in page.content.decode()


def test_mutual_friends_come_from_the_store_with_blocks_filtered(circle, dead_neo4j):
    ann, dan = circle["ann"], circle["dan"]
    assert list(suggestions.mutual_friends(ann, dan).order_by("pk")) == [
        circle["bob"],
        circle["cid"],
    ]

    services.block_bunny(blocker=ann, blocked=circle["cid"])

    assert list(suggestions.mutual_friends(ann, dan)) == [circle["bob"]]
    assert suggestions.mutual_friend_ids(ann, ann) == []


def test_the_breaker_lets_one_probe_through_after_the_cooldown(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("social.graph.client.time.monotonic", lambda: clock[0])
    guard = CircuitBreaker(cooldown=10)
    assert guard.allow()

    guard.record_failure()
    assert not guard.allow()
    clock[0] += 10.5
    assert guard.allow()  # the probe
    assert not guard.allow()  # everyone else keeps skipping while it runs

    guard.record_success()
    assert guard.allow()
    assert not guard.is_open
