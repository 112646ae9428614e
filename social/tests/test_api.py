"""The social JSON API against its contract (shared/API.md)."""

import pytest
from django.urls import reverse

from conftest import bearer_client, make_bunny
from social import services
from social.models import FriendRequest, Post
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db

PROFILE_FIELDS = {"id", "username", "display_name", "bio", "avatar_url", "friendship", "online"}
POST_FIELDS = {
    "id",
    "author",
    "wall",
    "body",
    "visibility",
    "created_at",
    "edited_at",
    "like_count",
    "liked",
    "comment_count",
}
COMMENT_FIELDS = {
    "id",
    "post_id",
    "author",
    "body",
    "created_at",
    "edited_at",
    "like_count",
    "liked",
}


# --- Friend requests --------------------------------------------------------------------


def test_friend_request_lifecycle(ann_api, bob_api, ann, bob):
    sent = ann_api.post(reverse("api-friend-requests"), {"to": "BOB"}, format="json")
    assert sent.status_code == 201
    body = sent.json()
    assert body["from"]["username"] == "ann"
    assert body["to"]["username"] == "bob"
    assert body["to"]["friendship"] == "request_sent"

    incoming = bob_api.get(reverse("api-friend-requests"), {"direction": "incoming"}).json()
    assert [r["id"] for r in incoming["results"]] == [body["id"]]
    assert incoming["next"] is None
    outgoing = ann_api.get(reverse("api-friend-requests"), {"direction": "outgoing"}).json()
    assert [r["id"] for r in outgoing["results"]] == [body["id"]]

    accept = reverse("api-friend-request-accept", args=[body["id"]])
    assert ann_api.post(accept).status_code == 403  # only the addressee
    assert bob_api.post(accept).json() == {"friendship": "friends"}

    friends = ann_api.get(reverse("api-friends")).json()["results"]
    assert [f["username"] for f in friends] == ["bob"]
    assert friends[0]["friendship"] == "friends"

    assert ann_api.delete(reverse("api-friend", args=["bob"])).status_code == 204
    assert ann_api.get(reverse("api-friends")).json()["results"] == []


def test_asking_back_makes_friends_with_200(ann_api, bob_api, ann, bob):
    ann_api.post(reverse("api-friend-requests"), {"to": "bob"}, format="json")

    response = bob_api.post(reverse("api-friend-requests"), {"to": "ann"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"friendship": "friends"}


@pytest.mark.parametrize(
    ("setup", "to", "status"),
    [
        ("none", "ann", 400),
        ("pending", "bob", 409),
        ("friends", "bob", 409),
        ("none", "nobody", 404),
        ("blocked", "bob", 404),
        ("none", "", 400),
    ],
)
def test_friend_request_errors(ann_api, ann, bob, setup, to, status):
    if setup == "pending":
        services.send_friend_request(sender=ann, to=bob)
    elif setup == "friends":
        make_friends(ann, bob)
    elif setup == "blocked":
        services.block_bunny(blocker=bob, blocked=ann)

    response = ann_api.post(reverse("api-friend-requests"), {"to": to}, format="json")

    assert response.status_code == status


def test_decline_and_cancel(ann_api, bob_api, cid, ann, bob):
    first = services.send_friend_request(sender=ann, to=bob)
    second = services.send_friend_request(sender=ann, to=cid)

    assert bob_api.post(reverse("api-friend-request-decline", args=[first.pk])).status_code == 204
    assert bob_api.delete(reverse("api-friend-request", args=[second.pk])).status_code == 404
    assert ann_api.delete(reverse("api-friend-request", args=[second.pk])).status_code == 204
    assert not FriendRequest.objects.exists()


def test_an_unknown_direction_is_400(ann_api):
    assert ann_api.get(reverse("api-friend-requests"), {"direction": "sideways"}).status_code == 400


# --- Profiles ---------------------------------------------------------------------------


def test_profile_shows_relation_and_mutual_count(ann_api, ann, bob, cid):
    make_friends(ann, cid)
    make_friends(bob, cid)

    profile = ann_api.get(reverse("api-profile", args=["bob"])).json()

    assert set(profile) == PROFILE_FIELDS | {"mutual_friends_count"}
    assert profile["friendship"] == "none"
    assert profile["mutual_friends_count"] == 1
    assert profile["online"] is None
    mutual = ann_api.get(reverse("api-profile-mutual-friends", args=["bob"])).json()
    assert [p["username"] for p in mutual["results"]] == ["cid"]
    friends = ann_api.get(reverse("api-profile-friends", args=["bob"])).json()
    assert [p["username"] for p in friends["results"]] == ["cid"]


def test_friend_lists_are_cursor_paginated(ann_api, ann):
    for i in range(55):
        make_friends(ann, make_bunny(f"friend{i:02}"))

    first = ann_api.get(reverse("api-friends")).json()
    second = ann_api.get(first["next"].removeprefix("http://testserver")).json()

    names = [p["username"] for p in first["results"] + second["results"]]
    assert names == sorted(names)
    assert len(set(names)) == 55
    assert second["next"] is None


def test_search_finds_bunnies_but_never_blocked_ones(ann_api, ann, bob):
    make_bunny("hazel")
    services.block_bunny(blocker=bob, blocked=ann)

    found = ann_api.get(reverse("api-profiles"), {"q": "haz"}).json()["results"]
    hidden = ann_api.get(reverse("api-profiles"), {"q": "bob"}).json()["results"]

    assert [p["username"] for p in found] == ["hazel"]
    assert hidden == []


def test_a_blocked_profile_is_404_both_ways(ann_api, bob_api, ann, bob):
    services.block_bunny(blocker=ann, blocked=bob)

    assert ann_api.get(reverse("api-profile", args=["bob"])).status_code == 404
    assert bob_api.get(reverse("api-profile", args=["ann"])).status_code == 404
    assert bob_api.get(reverse("api-profile-posts", args=["ann"])).status_code == 404


def test_blocks_endpoints(ann_api, ann, bob):
    make_friends(ann, bob)

    assert ann_api.put(reverse("api-block", args=["bob"])).status_code == 204
    assert [p["username"] for p in ann_api.get(reverse("api-blocks")).json()["results"]] == ["bob"]
    assert ann_api.get(reverse("api-friends")).json()["results"] == []
    assert ann_api.delete(reverse("api-block", args=["bob"])).status_code == 204
    assert ann_api.get(reverse("api-blocks")).json()["results"] == []
    assert ann_api.put(reverse("api-block", args=["ann"])).status_code == 400
    assert ann_api.put(reverse("api-block", args=["ghost"])).status_code == 404


# --- Posts ------------------------------------------------------------------------------


def test_create_read_edit_delete_a_post(ann_api, bob_api, ann, bob):
    make_friends(ann, bob)

    created = ann_api.post(reverse("api-posts"), {"body": "Hello <b>world</b>"}, format="json")
    assert created.status_code == 201
    post = created.json()
    assert set(post) == POST_FIELDS
    assert post["visibility"] == "friends"
    assert post["wall"]["username"] == "ann"
    assert post["body"] == "Hello <b>world</b>"  # stored as written; pages escape it

    url = reverse("api-post", args=[post["id"]])
    assert bob_api.get(url).status_code == 200
    assert bob_api.patch(url, {"body": "hacked"}, format="json").status_code == 403
    edited = ann_api.patch(url, {"body": "Edited"}, format="json").json()
    assert edited["body"] == "Edited"
    assert edited["edited_at"]
    assert bob_api.delete(url).status_code == 403
    assert ann_api.delete(url).status_code == 204
    assert ann_api.get(url).status_code == 404


def test_posting_on_walls(ann_api, ann, bob, cid):
    make_friends(ann, bob)

    on_friend = ann_api.post(reverse("api-posts"), {"body": "hi", "wall": "bob"}, format="json")
    on_stranger = ann_api.post(reverse("api-posts"), {"body": "hi", "wall": "cid"}, format="json")

    assert on_friend.status_code == 201
    assert on_friend.json()["wall"]["username"] == "bob"
    assert on_stranger.status_code == 403


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 5001},
        {"body": "ok", "visibility": "secret"},
        {"body": ["list"]},
    ],
)
def test_bad_posts_are_400_and_store_nothing(ann_api, payload):
    response = ann_api.post(reverse("api-posts"), payload, format="json")

    assert response.status_code == 400
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("viewer", "status"), [("author", 200), ("wall", 200), ("friend", 200), ("stranger", 404)]
)
def test_friends_only_post_visibility_through_the_api(ann, bob, cid, viewer, status):
    make_friends(ann, bob)
    dan = make_bunny("dan")
    make_friends(bob, dan)
    post = services.create_post(author=ann, wall=bob, body="for friends")
    client = bearer_client({"author": ann, "wall": bob, "friend": dan, "stranger": cid}[viewer])

    assert client.get(reverse("api-post", args=[post.pk])).status_code == status
    comments = client.get(reverse("api-post-comments", args=[post.pk]))
    assert comments.status_code == status
    assert client.post(reverse("api-post-like", args=[post.pk])).status_code == status


def test_anonymous_gets_401_everywhere(api, ann):
    post = services.create_post(author=ann, body="public", visibility="public")
    for url in [reverse("api-feed"), reverse("api-post", args=[post.pk]), reverse("api-friends")]:
        assert api.get(url).status_code == 401


def test_likes_are_idempotent(ann_api, bob_api, ann, bob):
    post = services.create_post(author=ann, body="like me", visibility="public")
    url = reverse("api-post-like", args=[post.pk])

    assert bob_api.post(url).json() == {"like_count": 1, "liked": True}
    assert bob_api.post(url).json() == {"like_count": 1, "liked": True}
    assert ann_api.get(reverse("api-post", args=[post.pk])).json()["liked"] is False
    assert bob_api.delete(url).json() == {"like_count": 0, "liked": False}
    assert bob_api.delete(url).json() == {"like_count": 0, "liked": False}


def test_comments_oldest_first_edit_delete_like(ann_api, bob_api, ann, bob):
    make_friends(ann, bob)
    post = services.create_post(author=ann, body="talk to me")
    url = reverse("api-post-comments", args=[post.pk])

    first = bob_api.post(url, {"body": "first"}, format="json").json()
    bob_api.post(url, {"body": "second"}, format="json")
    listed = ann_api.get(url).json()

    assert set(first) == COMMENT_FIELDS
    assert [c["body"] for c in listed["results"]] == ["first", "second"]
    comment_url = reverse("api-comment", args=[first["id"]])
    assert ann_api.patch(comment_url, {"body": "mine now"}, format="json").status_code == 403
    assert bob_api.patch(comment_url, {"body": "edited"}, format="json").json()["edited_at"]
    like_url = reverse("api-comment-like", args=[first["id"]])
    assert ann_api.post(like_url).json() == {"like_count": 1, "liked": True}
    assert ann_api.delete(comment_url).status_code == 204  # the post's author may
    assert ann_api.get(reverse("api-post", args=[post.pk])).json()["comment_count"] == 1
    assert bob_api.post(url, {"body": "c" * 2001}, format="json").status_code == 400


def test_feed_is_newest_first_with_liked_state(ann_api, ann, bob):
    make_friends(ann, bob)
    older = services.create_post(author=bob, body="older")
    newer = services.create_post(author=ann, body="newer")
    services.like_post(post=older, user=ann)

    feed = ann_api.get(reverse("api-feed")).json()

    assert [p["id"] for p in feed["results"]] == [newer.pk, older.pk]
    assert [p["liked"] for p in feed["results"]] == [False, True]
    assert feed["results"][1]["author"]["friendship"] == "friends"


def test_feed_query_count_does_not_grow_with_the_page(
    ann_api, ann, bob, django_assert_max_num_queries
):
    make_friends(ann, bob)
    post = services.create_post(author=bob, body="one")
    services.add_comment(post=post, author=ann, body="c")
    # measured: 4 (the bunny, the posts, her likes, friendship states) for 1 post and 20
    with django_assert_max_num_queries(4):
        ann_api.get(reverse("api-feed"))
    for i in range(19):
        p = services.create_post(author=bob if i % 2 else ann, body=f"post {i}")
        services.like_post(post=p, user=ann)
    with django_assert_max_num_queries(4):
        assert len(ann_api.get(reverse("api-feed")).json()["results"]) == 20


@pytest.mark.parametrize("cursor", ["garbage", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgMV0", "%%%"])
def test_a_forged_cursor_is_400(ann_api, cursor):
    response = ann_api.get(reverse("api-feed"), {"cursor": cursor})

    assert response.status_code == 400
    assert "cursor" in response.json()


def test_huge_ids_are_404_not_500(ann_api):
    assert ann_api.get("/api/posts/99999999999999999999999/").status_code == 404
    assert ann_api.post("/api/friend-requests/99999999999999999999/accept/").status_code == 404
