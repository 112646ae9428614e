"""The store contract: the Neo4j store and the SQL store give the same answers."""

import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from conftest import make_bunny
from social import services
from social.graph import services as graph_services
from social.graph import sync
from social.graph.models import SuggestionDismissal
from social.graph.suggestions import neo4j_store as pages_store
from social.graph.suggestions import sql_store, suggestions_for
from social.graph.tests.conftest import FEED_WITH_PANEL_QUERY_BOUND
from social.graph.tests.conftest import patient_neo4j_store as neo4j_store
from social.models import Friendship
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(ann, bob, cid):
    """ann — bob, cid, dan. Their friends: eve (via bob, cid, dan), fay (bob, dan),
    gus (dan), hal (bob)."""
    dan, eve, fay, gus, hal = (make_bunny(name) for name in ("dan", "eve", "fay", "gus", "hal"))
    for friend in (bob, cid, dan):
        make_friends(ann, friend)
    for first, second in [(bob, eve), (cid, eve), (dan, eve), (bob, fay), (dan, fay)]:
        make_friends(first, second)
    make_friends(dan, gus)
    make_friends(bob, hal)
    return {bunny.username: bunny for bunny in (ann, bob, cid, dan, eve, fay, gus, hal)}


def test_friends_of_friends_are_ranked_by_mutual_count_then_by_id(store, network):
    assert store.suggest(network["ann"]) == [
        ("eve", 3, ["bob", "cid", "dan"]),
        ("fay", 2, ["bob", "dan"]),
        ("gus", 1, ["dan"]),
        ("hal", 1, ["bob"]),
    ]


def test_the_sample_names_the_three_smallest_mutual_friends(store, network):
    extra = make_bunny("ivy")
    make_friends(network["ann"], extra)
    make_friends(extra, network["eve"])

    top = store.suggest(network["ann"])[0]

    assert top == ("eve", 4, ["bob", "cid", "dan"])


def test_self_and_friends_are_never_suggested(store, network):
    suggested = {name for name, _, _ in store.suggest(network["bob"])}

    assert suggested == {"cid", "dan"}  # ann's other friends; not bob, ann, eve, fay, hal


def test_pending_requests_either_way_are_never_suggested(store, network):
    services.send_friend_request(sender=network["ann"], to=network["eve"])
    services.send_friend_request(sender=network["fay"], to=network["ann"])

    assert [name for name, _, _ in store.suggest(network["ann"])] == ["gus", "hal"]


def test_blocked_bunny_is_never_suggested_either_way(store, network):
    services.block_bunny(blocker=network["ann"], blocked=network["eve"])
    services.block_bunny(blocker=network["gus"], blocked=network["ann"])

    assert [name for name, _, _ in store.suggest(network["ann"])] == ["fay", "hal"]


def test_dismissed_bunny_is_not_suggested_for_90_days(store, network):
    dismissal = graph_services.dismiss_suggestion(user=network["ann"], dismissed=network["eve"])
    assert "eve" not in [name for name, _, _ in store.suggest(network["ann"])]

    SuggestionDismissal.objects.filter(pk=dismissal.pk).update(
        dismissed_at=timezone.now() - timedelta(days=91)
    )

    assert store.suggest(network["ann"])[0][0] == "eve"


def test_unfriending_changes_the_suggestions(store, network):
    services.unfriend(user=network["dan"], friend=network["gus"])
    services.unfriend(user=network["ann"], friend=network["cid"])

    assert store.suggest(network["ann"]) == [
        ("eve", 2, ["bob", "dan"]),
        ("fay", 2, ["bob", "dan"]),
        ("hal", 1, ["bob"]),
    ]


def test_the_limit_cuts_the_ranked_list(store, network):
    assert [name for name, _, _ in store.suggest(network["ann"], limit=2)] == ["eve", "fay"]


def test_a_bunny_without_friends_has_no_candidates(store, network):
    loner = make_bunny("loner")

    assert store.suggest(loner) == []


def test_mutual_friends_are_the_friends_of_both_smallest_id_first(store, network):
    ann, eve = network["ann"], network["eve"]

    assert store.mutual(ann, eve) == [network[n].pk for n in ("bob", "cid", "dan")]
    assert store.mutual(eve, ann) == store.mutual(ann, eve)
    assert store.mutual(ann, network["gus"]) == [network["dan"].pk]
    assert store.mutual(ann, make_bunny("nobody")) == []


def test_both_stores_agree_on_a_random_clustered_network(clean_graph):
    """Same ranking, counts and samples for every bunny, ties included. The friendships
    are bulk-inserted and loaded with the rebuild, the bulk path the benchmark uses."""
    rng = random.Random(4)
    bunnies = [make_bunny(f"bunny{n:02d}") for n in range(60)]
    pairs = set()
    for index, bunny in enumerate(bunnies):
        group = index // 12
        for _ in range(5):
            if rng.random() < 0.8:
                other = bunnies[group * 12 + rng.randrange(12)]
            else:
                other = rng.choice(bunnies)
            if other.pk != bunny.pk:
                pairs.add(Friendship.ordered(bunny.pk, other.pk))
    Friendship.objects.bulk_create(Friendship(user_a_id=a, user_b_id=b) for a, b in pairs)
    sync.rebuild()
    friends_of_first = {b if a == bunnies[0].pk else a for a, b in pairs if bunnies[0].pk in (a, b)}
    stranger = next(b for b in bunnies[30:] if b.pk not in friends_of_first)
    services.send_friend_request(sender=bunnies[0], to=stranger)
    services.block_bunny(blocker=bunnies[3], blocked=bunnies[7])
    services.block_bunny(blocker=bunnies[5], blocked=bunnies[6])
    sync.drain_all(use_breaker=False)

    for bunny in bunnies:
        assert neo4j_store.suggest(bunny.pk, limit=10) == sql_store.suggest(bunny.pk, limit=10)
    for first, second in zip(bunnies, reversed(bunnies), strict=True):
        assert neo4j_store.mutual_friend_ids(first.pk, second.pk) == sql_store.mutual_friend_ids(
            first.pk, second.pk
        )


def test_the_api_serves_what_the_graph_ranks_once_the_outbox_is_drained(
    clean_graph, network, ann_api
):
    sync.drain_all(use_breaker=False)

    results = ann_api.get("/api/suggestions/?limit=3").json()["results"]

    assert [(r["profile"]["username"], r["mutual_count"], r["mutual_sample"]) for r in results] == [
        ("eve", 3, ["bob", "cid", "dan"]),
        ("fay", 2, ["bob", "dan"]),
        ("gus", 1, ["dan"]),
    ]


def test_exclusions_that_fill_the_whole_margin_do_not_crowd_out_a_suggestion(store, ann, bob):
    """Pages let the graph rank without PostgreSQL's exclusions (hydration drops those);
    when they take every candidate fetched, the store is asked again with them applied."""
    others = [make_bunny(f"c{n:02d}") for n in range(21)]
    make_friends(ann, bob)
    for other in others:
        make_friends(bob, other)
    for other in others[:20]:  # the 20 best ranked (smallest ids): asked already
        services.send_friend_request(sender=ann, to=other)
    store.sync()

    picked = suggestions_for(ann, limit=1, use_cache=False, store=store.store)

    assert [suggestion.user for suggestion in picked] == [others[20]]


def test_pages_and_the_api_read_suggestions_and_mutual_friends_from_neo4j(
    clean_graph, network, client, ann_api, monkeypatch, django_assert_max_num_queries
):
    """The feed's panel, the profile's mutual friends and the API ask the graph, and the
    feed costs no more queries than on the SQL store."""
    sync.drain_all(use_breaker=False)
    cache.clear()
    asked = []
    for method in ("suggest", "mutual_friend_ids"):
        real = getattr(pages_store, method)
        monkeypatch.setattr(
            pages_store,
            method,
            lambda *a, real=real, **k: asked.append(real.__name__) or real(*a, **k),
        )
    client.force_login(network["ann"])

    with django_assert_max_num_queries(FEED_WITH_PANEL_QUERY_BOUND):
        feed = client.get(reverse("home")).content.decode()
    profile = client.get(reverse("profile", args=["eve"]))
    detail = ann_api.get(reverse("api-profile", args=["eve"])).json()
    mutual = ann_api.get(reverse("api-profile-mutual-friends", args=["eve"])).json()

    assert "3 mutual friends: Bob, Cid and Dan" in feed
    assert "2 mutual friends: Bob and Dan" in feed
    trio = [network[name] for name in ("bob", "cid", "dan")]
    assert profile.context["mutual_preview"] == trio
    assert profile.context["mutual_count"] == 3
    assert detail["mutual_friends_count"] == 3
    assert [bunny["username"] for bunny in mutual["results"]] == ["bob", "cid", "dan"]
    assert asked == ["suggest", *["mutual_friend_ids"] * 3]
