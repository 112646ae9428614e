"""The presence store: transitions decided once, per-server heartbeats, dead servers swept;
a bunny's friends' presence read from it in one query; and presence news told to online
friends only, in one query."""

import time
from unittest import mock

import pytest
import redis

from chat import presence, selectors, services
from chat.tests.conftest import befriend
from conftest import make_bunny


@pytest.fixture
def store(settings):
    """The real store of this run (Redis with CACHE_URL, else in-process), empty."""
    settings.PRESENCE_TTL = 10.0
    presence._store = None
    if settings.CACHE_URL:
        server = redis.Redis.from_url(settings.CACHE_URL)
        for key in server.scan_iter("presence:*"):
            server.delete(key)
    return presence.get_store()


def test_several_sockets_on_several_servers_count_once(store):
    assert store.open("server-a", 1, "tab") is True
    assert store.open("server-b", 1, "phone") is False
    assert store.close("server-a", 1, "tab") is False
    assert store.online_ids([1, 2]) == {1}
    assert store.close("server-b", 1, "phone") is True
    assert store.close("server-b", 1, "phone") is False  # told once
    assert store.online_ids([1]) == set()


def test_a_beat_costs_nothing_new_when_nothing_changed(store):
    store.open("server-a", 1, "tab")
    assert store.beat("server-a", {"tab": 1}, set()) == ([], [])


def test_a_server_that_stops_beating_is_swept_by_another(store, settings):
    store.open("dying", 1, "tab")  # only there
    store.open("dying", 2, "tab-2")
    store.open("alive", 2, "phone")  # also here
    settings.PRESENCE_TTL = 0.05
    time.sleep(0.1)
    came, went = store.beat("alive", {"phone": 2}, set())
    assert (came, went) == ([], [1])
    assert store.online_ids([1, 2]) == {2}
    assert store.beat("alive", {"phone": 2}, set()) == ([], [])  # swept once


def test_a_beat_rebuilds_what_the_store_forgot(store, settings):
    store.open("server-a", 1, "tab")
    store.open("server-a", 2, "stray")  # closed while the store was away, say
    if settings.CACHE_URL:
        server = redis.Redis.from_url(settings.CACHE_URL)
        server.srem(presence.ONLINE_KEY, 1)
        server.delete(presence._sockets_key(1))
        server.hdel(presence._server_key("server-a"), "tab")
    else:
        store._online.discard(1)
        store._sockets.pop(1)
    if settings.CACHE_URL:  # it knows of as many sockets as the server has: left to...
        assert store.beat("server-a", {"tab": 1}, set()) == ([], [])
    came, went = store.beat("server-a", {"tab": 1}, set(), full=True)  # ...the periodic check
    assert came == [1]
    assert store.online_ids([1]) == {1}
    if settings.CACHE_URL:  # the in-process store cannot lose a socket it was told of
        assert went == [2]
        assert store.online_ids([2]) == set()


def test_a_flushed_store_is_rebuilt_by_the_next_beat(store):
    store.open("server-a", 1, "tab")
    for user_id in (2, 3):
        store.open("server-a", user_id, f"tab-{user_id}")
    presence._store = None
    if hasattr(store, "client"):
        store.client.flushdb()
    else:
        store.__init__()
    store = presence.get_store() if hasattr(store, "client") else store
    came, went = store.beat("server-a", {"tab": 1, "tab-2": 2, "tab-3": 3}, set())
    assert (sorted(came), went) == ([1, 2, 3], [])


def test_a_socket_opening_or_closing_during_a_beat_is_left_alone(store):
    store.open("server-a", 1, "tab")
    store.open("server-a", 2, "closing")
    assert store.beat("server-a", {"tab": 1}, {"closing", "opening"}) == ([], [])
    assert store.online_ids([1, 2]) == {1, 2}


@pytest.mark.django_db
def test_a_bunnys_friends_presence_is_one_query_however_many_friends(
    store, django_assert_num_queries
):
    ann = make_bunny("ann")
    online, offline, hidden = (make_bunny(name) for name in ("bob", "cid", "dot"))
    hidden.appear_offline = True
    hidden.save(update_fields=["appear_offline"])
    stranger = make_bunny("eve")
    for friend in (online, offline, hidden):
        befriend(ann, friend)
    for bunny in (online, hidden, stranger):
        store.open("server-a", bunny.pk, f"tab-{bunny.pk}")

    with django_assert_num_queries(1):
        states = selectors.friends_presence(ann)

    assert states == {online.pk: True, offline.pk: False, hidden.pk: False}


@pytest.mark.django_db
def test_presence_news_reaches_online_friends_only_in_one_query(
    store, django_assert_num_queries, django_capture_on_commit_callbacks
):
    ann, bob, cid, dot, eve = (make_bunny(name) for name in ("ann", "bob", "cid", "dot", "eve"))
    dot.appear_offline = True
    dot.save(update_fields=["appear_offline"])
    befriend(ann, bob)
    befriend(ann, cid)
    befriend(dot, bob)
    for listener in (bob, eve, dot):  # eve is online but no friend of anyone here
        store.open("server-a", listener.pk, f"tab-{listener.pk}")

    with mock.patch("chat.services.deliver") as deliver, django_assert_num_queries(1):
        # cid's only friend is offline; dot appears offline, so she stays silent.
        services.announce_presence_changes(online=[ann.pk], offline=[cid.pk, dot.pk])

    told = {"type": "presence", "user": "ann", "user_id": ann.pk, "online": True}
    assert deliver.call_args.args[0] == [(f"user.{bob.pk}", told)]

    # Turning "appear offline" on is itself news to her friends.
    with (
        mock.patch("chat.services.deliver") as deliver,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.appear_offline_changed(user=dot)

    told = {"type": "presence", "user": "dot", "user_id": dot.pk, "online": False}
    assert deliver.call_args.args[0] == [(f"user.{bob.pk}", told)]
