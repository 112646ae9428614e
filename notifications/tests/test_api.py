"""The notifications API: shapes, filters, unread counts, read endpoints, 404s and a
query count that does not grow with the page."""

import pytest

from conftest import bearer_client
from notifications.models import Notification
from notifications.tests.helpers import liked_posts
from social import services
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db

LIST = "/api/notifications/"


def test_the_list_has_the_contract_shape(ann, bob, ann_api):
    make_friends(bob, ann)  # bob asked; ann accepted, so bob is told, ann is not
    post = services.create_post(author=ann, body="Hello", visibility="public")
    services.like_post(post=post, user=bob)

    response = ann_api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "unread_count"}
    assert body["next"] is None
    assert body["unread_count"] == 1
    assert response["X-Unread-Count"] == "1"
    [item] = body["results"]
    assert {"id", "type", "actor", "target", "created_at", "read"} <= set(item)
    assert item["type"] == "post_liked"
    assert item["read"] is False
    assert item["created_at"].endswith("Z")
    assert set(item["actor"]) == {
        "id",
        "username",
        "display_name",
        "bio",
        "avatar_url",
        "friendship",
        "online",
    }
    assert item["actor"]["username"] == "bob"
    assert item["actor"]["friendship"] == "friends"
    assert item["actor"]["avatar_url"].startswith("http://testserver/")
    assert item["actors"] == [item["actor"]]
    assert item["actor_count"] == 1
    assert item["target"]["type"] == "post"
    assert item["target"]["id"] == post.pk
    assert item["text"] == "Bob liked your post"
    assert item["url"] == f"/notifications/{item['id']}/open/"


def test_unread_1_lists_only_unread_ones(ann, bob, cid, ann_api):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=cid, to=ann)
    bobs = Notification.objects.get(recipient=ann, friend_request__from_user=bob)
    ann_api.post(f"{LIST}{bobs.pk}/read/")

    everything = ann_api.get(LIST).json()
    unread = ann_api.get(LIST, {"unread": "1"}).json()

    assert [item["actor"]["username"] for item in everything["results"]] == ["cid", "bob"]
    assert [item["read"] for item in everything["results"]] == [False, True]
    assert [item["actor"]["username"] for item in unread["results"]] == ["cid"]
    assert unread["unread_count"] == everything["unread_count"] == 1


def test_the_list_is_cursor_paginated_newest_first(ann, ann_api):
    liked_posts(ann, 25)

    first = ann_api.get(LIST).json()
    second = ann_api.get(first["next"]).json()

    assert len(first["results"]) == 20
    assert len(second["results"]) == 5
    assert second["next"] is None
    ids = [item["id"] for item in first["results"] + second["results"]]
    assert len(set(ids)) == 25
    times = [item["created_at"] for item in first["results"] + second["results"]]
    assert times == sorted(times, reverse=True)


def test_a_bad_cursor_is_a_400(ann_api):
    response = ann_api.get(LIST, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert "cursor" in response.json()


def test_mark_one_read(ann, bob, ann_api):
    services.send_friend_request(sender=bob, to=ann)
    notification = Notification.objects.get(recipient=ann)

    response = ann_api.post(f"{LIST}{notification.pk}/read/")

    assert response.status_code == 204
    assert response["X-Unread-Count"] == "0"
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert ann_api.post(f"{LIST}{notification.pk}/read/").status_code == 204  # idempotent


def test_read_all(ann, bob, cid, ann_api):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=cid, to=ann)

    response = ann_api.post(f"{LIST}read-all/")

    assert response.status_code == 204
    assert ann_api.get(LIST).json()["unread_count"] == 0
    assert not Notification.objects.filter(recipient=ann, read_at__isnull=True).exists()


def test_someone_elses_notification_is_a_404(ann, bob, cid, ann_api):
    services.send_friend_request(sender=cid, to=bob)
    bobs = Notification.objects.get(recipient=bob)

    assert ann_api.post(f"{LIST}{bobs.pk}/read/").status_code == 404
    assert ann_api.post(f"{LIST}999999/read/").status_code == 404
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_read_all_touches_only_your_own(ann, bob, cid, ann_api):
    services.send_friend_request(sender=cid, to=bob)

    ann_api.post(f"{LIST}read-all/")

    assert Notification.objects.get(recipient=bob).read_at is None


def test_a_notification_you_may_no_longer_see_is_a_404(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = services.create_post(author=ann, body="Friends only")
    services.add_comment(post=post, author=bob, body="Bob")
    services.add_comment(post=post, author=cid, body="Cid")
    hidden = Notification.objects.get(recipient=bob, type="thread_commented")
    services.unfriend(user=ann, friend=bob)
    bob_api = bearer_client(bob)

    assert bob_api.post(f"{LIST}{hidden.pk}/read/").status_code == 404
    assert [item["type"] for item in bob_api.get(LIST).json()["results"]] == []


def test_anonymous_callers_get_401(api):
    assert api.get(LIST).status_code == 401
    assert api.post(f"{LIST}read-all/").status_code == 401
    assert api.post(f"{LIST}1/read/").status_code == 401


def test_notification_settings_round_trip(ann, bob, ann_api):
    assert ann_api.get(f"{LIST}settings/").json() == {"muted": []}

    response = ann_api.put(f"{LIST}settings/", {"muted": ["post_liked"]}, format="json")
    services.like_post(
        post=services.create_post(author=ann, body="x", visibility="public"), user=bob
    )

    assert response.status_code == 200
    assert response.json() == {"muted": ["post_liked"]}
    assert ann_api.get(LIST).json()["results"] == []
    bad = ann_api.put(f"{LIST}settings/", {"muted": ["nope"]}, format="json")
    assert bad.status_code == 400


def test_the_schema_describes_the_endpoints(ann_api):
    schema = ann_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()

    for path in (
        "/api/notifications/",
        "/api/notifications/read-all/",
        "/api/notifications/{notification_id}/read/",
    ):
        assert path in schema


@pytest.mark.parametrize("count", [1, 20])
def test_the_list_costs_the_same_for_1_or_20_notifications(
    ann, ann_api, count, django_assert_max_num_queries
):
    liked_posts(ann, count)

    with django_assert_max_num_queries(6):
        response = ann_api.get(LIST)

    assert len(response.json()["results"]) == count


def test_actions_through_the_api_notify(ann, bob, ann_api, bob_api):
    bob_api.post("/api/friend-requests/", {"to": "ann"}, format="json")
    [request] = ann_api.get(LIST).json()["results"]
    assert request["type"] == "friend_request_received"
    ann_api.post(f"/api/friend-requests/{request['target']['id']}/accept/")
    post = ann_api.post("/api/posts/", {"body": "Hop"}, format="json").json()
    bob_api.post(f"/api/posts/{post['id']}/like/")
    bob_api.post(f"/api/posts/{post['id']}/comments/", {"body": "Nice"}, format="json")

    ann_sees = ann_api.get(LIST).json()
    bob_sees = bob_api.get(LIST).json()

    assert [item["type"] for item in ann_sees["results"]] == ["post_commented", "post_liked"]
    assert [item["type"] for item in bob_sees["results"]] == ["friend_request_accepted"]
    bob_api.delete(f"/api/posts/{post['id']}/like/")
    assert [item["type"] for item in ann_api.get(LIST).json()["results"]] == ["post_commented"]
