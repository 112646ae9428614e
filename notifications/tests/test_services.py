"""Who is notified of what, grouping, blocks, deletion, visibility, preferences, read state
and the durable live events, through the real social services."""

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import Http404
from django.utils import timezone

from chat.models import UserEvent
from conftest import make_bunny
from notifications import selectors
from notifications import services as notifications
from notifications.models import Notification, NotificationActor
from notifications.tests.helpers import inbox, kinds, only, race
from social import services
from social.models import Post
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def dan(db):
    return make_bunny("dan")


def public_post(author, body="Carrots are great", wall=None):
    return services.create_post(author=author, body=body, wall=wall, visibility="public")


def notification_events(user) -> list[dict]:
    rows = UserEvent.objects.filter(user=user).order_by("seq")
    return [
        {**row.payload, "seq": row.seq} for row in rows if row.payload["type"] == "notification"
    ]


# --- Every type and its recipients ------------------------------------------------------


def test_a_friend_request_notifies_the_addressee_and_nobody_else(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)

    item = only(bob)
    assert item["type"] == "friend_request_received"
    assert item["actor"]["username"] == "ann"
    assert item["target"] == {
        "type": "friend_request",
        "id": request.pk,
        "username": "ann",
        "url": "/u/ann/",
    }
    assert item["text"] == "Ann sent you a friend request"
    assert item["read"] is False
    assert inbox(ann) == []


def test_accepting_notifies_the_bunny_who_asked_and_clears_the_request(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)

    services.accept_friend_request(friend_request=request, by=bob)

    item = only(ann)
    assert item["type"] == "friend_request_accepted"
    assert item["actor"]["username"] == "bob"
    assert item["actor"]["friendship"] == "friends"
    assert item["target"] == {"type": "user", "username": "bob", "url": "/u/bob/"}
    assert inbox(bob) == []  # the answered request's notification went with it


def test_asking_back_accepts_and_notifies_the_first_asker(ann, bob):
    services.send_friend_request(sender=ann, to=bob)

    services.send_friend_request(sender=bob, to=ann)

    assert kinds(ann) == ["friend_request_accepted"]
    assert kinds(bob) == []


@pytest.mark.parametrize("answer", ["decline", "cancel"])
def test_a_declined_or_cancelled_request_takes_its_notification_with_it(ann, bob, answer):
    request = services.send_friend_request(sender=ann, to=bob)

    if answer == "decline":
        services.decline_friend_request(friend_request=request, by=bob)
    else:
        services.cancel_friend_request(friend_request=request, by=ann)

    assert inbox(bob) == []
    assert inbox(ann) == []
    assert Notification.objects.count() == 0


def test_friend_requests_from_different_bunnies_are_never_grouped(ann, bob, cid):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=cid, to=ann)

    items = inbox(ann)
    assert [item["actor"]["username"] for item in items] == ["cid", "bob"]
    assert all(item["actor_count"] == 1 for item in items)


def test_a_post_on_a_friends_wall_notifies_the_wall_owner(ann, bob):
    make_friends(ann, bob)
    inbox_before = len(inbox(bob))

    post = services.create_post(author=ann, wall=bob, body="Happy birthday, Bob!")

    items = inbox(bob)
    assert len(items) == inbox_before + 1
    assert items[0]["type"] == "wall_post"
    assert items[0]["text"] == "Ann posted on your wall"
    assert items[0]["target"]["type"] == "post"
    assert items[0]["target"]["id"] == post.pk
    assert items[0]["target"]["excerpt"] == "Happy birthday, Bob!"


def test_a_post_on_your_own_wall_notifies_nobody(ann, bob):
    make_friends(ann, bob)
    Notification.objects.all().delete()

    public_post(ann)

    assert inbox(ann) == inbox(bob) == []


def test_a_comment_notifies_the_posts_author_and_the_wall_owner(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(bob, cid)
    post = services.create_post(author=ann, wall=bob, body="On Bob's wall")
    Notification.objects.all().delete()

    services.add_comment(post=post, author=cid, body="Nice")

    assert only(ann)["type"] == "post_commented"
    assert only(ann)["text"] == "Cid commented on your post"
    assert only(bob)["type"] == "post_commented"
    assert only(bob)["text"] == "Cid commented on a post on your wall"
    assert inbox(cid) == []


def test_a_comment_notifies_earlier_commenters_of_the_thread(ann, bob, cid, dan):
    post = public_post(ann)
    services.add_comment(post=post, author=bob, body="First")

    services.add_comment(post=post, author=cid, body="Me too")

    assert only(bob)["type"] == "thread_commented"
    assert only(bob)["text"] == "Cid also commented on Ann’s post"
    assert only(ann)["type"] == "post_commented"
    assert inbox(cid) == []
    assert inbox(dan) == []


def test_the_author_answering_notifies_the_thread(ann, bob, cid):
    post = public_post(ann)
    services.add_comment(post=post, author=bob, body="First")

    services.add_comment(post=post, author=ann, body="Thanks")

    assert only(bob)["text"] == "Ann also commented on their post"
    services.add_comment(post=post, author=cid, body="Me too")
    assert only(bob)["text"] == "Cid and Ann commented on Ann’s post"
    assert only(ann)["text"] == "Cid and Bob commented on your post"


def test_likes_notify_the_author_of_the_post_or_comment(ann, bob):
    post = public_post(ann)
    comment = services.add_comment(post=post, author=bob, body="Hi")
    Notification.objects.all().delete()

    services.like_post(post=post, user=bob)
    services.like_comment(comment=comment, user=ann)

    assert only(ann)["type"] == "post_liked"
    assert only(ann)["text"] == "Bob liked your post"
    liked = only(bob)
    assert liked["type"] == "comment_liked"
    assert liked["text"] == "Ann liked your comment"
    assert liked["target"]["type"] == "comment"
    assert liked["target"]["id"] == comment.pk
    assert liked["target"]["post_id"] == post.pk
    assert liked["target"]["url"].endswith(f"#comment-{comment.pk}")


def test_nobody_is_notified_of_their_own_actions(ann):
    post = public_post(ann)
    comment = services.add_comment(post=post, author=ann, body="Me")
    services.like_post(post=post, user=ann)
    services.like_comment(comment=comment, user=ann)

    assert inbox(ann) == []
    assert Notification.objects.count() == 0


def test_liking_twice_notifies_once(ann, bob):
    post = public_post(ann)

    services.like_post(post=post, user=bob)
    services.like_post(post=post, user=bob)

    assert only(ann)["actor_count"] == 1


# --- Grouping ---------------------------------------------------------------------------


def test_likes_on_one_post_collapse_into_one_notification_naming_the_latest(ann):
    post = public_post(ann)
    likers = [make_bunny(name) for name in ("bob", "cid", "dan", "eve", "fay")]

    for liker in likers:
        services.like_post(post=post, user=liker)

    item = only(ann)
    assert item["type"] == "post_liked"
    assert item["actor_count"] == 5
    assert item["actor"]["username"] == "fay"
    assert [actor["username"] for actor in item["actors"]] == ["fay", "eve", "dan"]
    assert item["text"] == "Fay, Eve and 3 others liked your post"


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "Bob liked your post"),
        (2, "Cid and Bob liked your post"),
        (3, "Dan, Cid and Bob liked your post"),
        (4, "Eve, Dan and 2 others liked your post"),
    ],
)
def test_group_text_names_the_latest_actors(ann, count, text):
    post = public_post(ann)
    for name in ("bob", "cid", "dan", "eve")[:count]:
        services.like_post(post=post, user=make_bunny(name))

    assert only(ann)["text"] == text


def test_comments_on_one_post_collapse_too(ann, bob, cid):
    post = public_post(ann)

    services.add_comment(post=post, author=bob, body="One")
    services.add_comment(post=post, author=cid, body="Two")
    services.add_comment(post=post, author=bob, body="Three")

    item = only(ann)
    assert item["type"] == "post_commented"
    assert [actor["username"] for actor in item["actors"]] == ["bob", "cid"]
    assert item["text"] == "Bob and Cid commented on your post"


def test_a_new_actor_moves_the_group_to_the_top_and_makes_it_unread(ann, bob, cid, dan):
    make_friends(ann, dan)
    first = public_post(ann, "First")
    second = public_post(ann, "Second")
    services.like_post(post=first, user=bob)
    services.like_post(post=second, user=bob)
    services.create_post(author=dan, wall=ann, body="Hi")
    notifications.mark_all_read(user=ann)
    assert kinds(ann) == ["wall_post", "post_liked", "post_liked", "friend_request_accepted"]
    assert inbox(ann)[1]["target"]["id"] == second.pk

    services.like_post(post=first, user=cid)

    items = inbox(ann)
    assert kinds(ann) == ["post_liked", "wall_post", "post_liked", "friend_request_accepted"]
    assert items[0]["target"]["id"] == first.pk
    assert items[0]["read"] is False
    assert items[0]["actor_count"] == 2
    assert selectors.unread_count_for(ann) == 1


def test_likes_on_different_targets_stay_apart(ann, bob):
    first, second = public_post(ann, "First"), public_post(ann, "Second")
    comment = services.add_comment(post=first, author=ann, body="Mine")

    services.like_post(post=first, user=bob)
    services.like_post(post=second, user=bob)
    services.like_comment(comment=comment, user=bob)

    assert sorted(kinds(ann)) == ["comment_liked", "post_liked", "post_liked"]


def test_unliking_removes_that_actor_from_the_group(ann, bob, cid):
    post = public_post(ann)
    services.like_post(post=post, user=bob)
    services.like_post(post=post, user=cid)

    services.unlike_post(post=post, user=cid)

    item = only(ann)
    assert item["actor_count"] == 1
    assert item["actor"]["username"] == "bob"
    assert item["text"] == "Bob liked your post"


def test_an_emptied_group_disappears(ann, bob):
    post = public_post(ann)
    comment = services.add_comment(post=post, author=ann, body="Mine")
    services.like_post(post=post, user=bob)
    services.like_comment(comment=comment, user=bob)

    services.unlike_post(post=post, user=bob)
    services.unlike_comment(comment=comment, user=bob)

    assert inbox(ann) == []
    assert Notification.objects.count() == 0
    assert NotificationActor.objects.count() == 0


def test_an_emptied_group_tells_the_recipient_live(ann, bob, django_capture_on_commit_callbacks):
    post = public_post(ann)
    services.like_post(post=post, user=bob)
    notification_id = Notification.objects.get().pk

    with django_capture_on_commit_callbacks():
        services.unlike_post(post=post, user=bob)

    removed = UserEvent.objects.filter(user=ann).latest("seq").payload
    assert removed == {"type": "notification.removed", "id": notification_id, "unread_count": 0}


def test_un_liking_falls_back_to_the_remaining_actors_time(ann, bob, cid):
    post = public_post(ann)
    services.like_post(post=post, user=bob)
    bob_time = NotificationActor.objects.get(actor=bob).acted_at
    services.like_post(post=post, user=cid)

    services.unlike_post(post=post, user=cid)

    assert Notification.objects.get().created_at == bob_time


def test_a_deleted_comment_takes_its_author_out_of_the_comment_groups(ann, bob, cid):
    post = public_post(ann)
    services.add_comment(post=post, author=bob, body="Bob's")
    cids = services.add_comment(post=post, author=cid, body="Cid's")

    services.delete_comment(comment=cids, by=cid)

    item = only(ann)
    assert item["actor_count"] == 1
    assert item["actor"]["username"] == "bob"
    assert inbox(bob) == []  # cid's thread notice to bob emptied and went


def test_a_commenter_with_another_comment_stays_in_the_group(ann, bob):
    post = public_post(ann)
    first = services.add_comment(post=post, author=bob, body="One")
    services.add_comment(post=post, author=bob, body="Two")

    services.delete_comment(comment=first, by=bob)

    assert only(ann)["actor"]["username"] == "bob"


@pytest.mark.django_db(transaction=True)
def test_bunnies_liking_at_once_land_in_one_group():
    ann = make_bunny("ann")
    post = public_post(ann)
    likers = [make_bunny(f"liker{index}") for index in range(6)]

    outcomes = race(
        *[lambda liker=liker: services.like_post(post=post, user=liker) for liker in likers]
    )

    assert outcomes == [True] * 6
    assert Notification.objects.filter(recipient=ann).count() == 1
    assert only(ann)["actor_count"] == 6


@pytest.mark.django_db(transaction=True)
def test_racing_writers_of_one_group_settle_on_one_row():
    # Straight at the core, without the post row lock the like services take first.
    ann = make_bunny("ann")
    post = public_post(ann)
    actors = [make_bunny(f"fan{index}") for index in range(6)]

    def notify(actor):
        return notifications.notify(
            kind="post_liked", actor=actor, recipient_ids=[ann.pk], post=post
        )

    outcomes = race(*[lambda actor=actor: notify(actor) for actor in actors])

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert Notification.objects.filter(recipient=ann).count() == 1
    assert only(ann)["actor_count"] == 6


@pytest.mark.django_db(transaction=True)
def test_liking_while_the_last_actor_unlikes_never_loses_the_new_like():
    ann, bob, cid = make_bunny("ann"), make_bunny("bob"), make_bunny("cid")
    post = public_post(ann)
    services.like_post(post=post, user=bob)

    race(
        lambda: services.unlike_post(post=post, user=bob),
        lambda: services.like_post(post=post, user=cid),
    )

    item = only(ann)
    assert [actor["username"] for actor in item["actors"]] == ["cid"]


# --- Blocks -----------------------------------------------------------------------------


@pytest.mark.parametrize("blocker", ["ann", "bob"])
def test_nothing_is_created_between_blocked_bunnies(ann, bob, blocker):
    post = public_post(ann)
    comment = services.add_comment(post=post, author=ann, body="Mine")
    if blocker == "ann":
        services.block_bunny(blocker=ann, blocked=bob)
    else:
        services.block_bunny(blocker=bob, blocked=ann)

    # Services trust their callers to have checked visibility; notifications check again.
    services.like_post(post=post, user=bob)
    services.like_comment(comment=comment, user=bob)
    services.add_comment(post=post, author=bob, body="Sneaky")

    assert Notification.objects.filter(recipient=ann).count() == 0


def test_a_block_hides_earlier_notifications_from_that_bunny(ann, bob, cid):
    post = public_post(ann)
    services.like_post(post=post, user=bob)
    services.like_post(post=post, user=cid)
    services.send_friend_request(sender=bob, to=ann)

    services.block_bunny(blocker=bob, blocked=ann)

    item = only(ann)
    assert item["type"] == "post_liked"
    assert item["actor_count"] == 1
    assert [actor["username"] for actor in item["actors"]] == ["cid"]
    assert item["text"] == "Cid liked your post"


def test_a_group_of_only_blocked_bunnies_is_not_shown(ann, bob):
    post = public_post(ann)
    services.like_post(post=post, user=bob)

    services.block_bunny(blocker=ann, blocked=bob)

    assert inbox(ann) == []
    assert selectors.unread_count_for(ann) == 0


def test_a_thread_notice_skips_commenters_blocked_with_the_new_commenter(ann, bob, cid):
    post = public_post(ann)
    services.add_comment(post=post, author=bob, body="First")
    services.block_bunny(blocker=bob, blocked=cid)

    services.add_comment(post=post, author=cid, body="Second")

    assert inbox(bob) == []
    assert kinds(ann) == ["post_commented"]


# --- Deletion and visibility ------------------------------------------------------------


def test_a_deleted_post_takes_its_notifications_with_it(ann, bob, cid):
    make_friends(ann, bob)
    post = services.create_post(author=bob, wall=ann, body="On Ann's wall")
    comment = services.add_comment(post=post, author=cid, body="Hello")
    services.like_post(post=post, user=cid)
    services.like_comment(comment=comment, user=bob)
    assert Notification.objects.filter(post=post).count() >= 4

    services.delete_post(post=post, by=ann)

    assert Notification.objects.filter(post__isnull=False).count() == 0
    assert kinds(ann) == ["friend_request_accepted"]
    assert inbox(bob) == inbox(cid) == []


def test_a_deleted_comment_takes_its_likes_notification_with_it(ann, bob):
    post = public_post(ann)
    comment = services.add_comment(post=post, author=bob, body="Hi")
    services.like_comment(comment=comment, user=ann)

    services.delete_comment(comment=comment, by=ann)

    assert inbox(bob) == []
    assert Notification.objects.filter(recipient=bob).count() == 0


def test_a_notification_about_a_post_you_can_no_longer_see_is_hidden(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = services.create_post(author=ann, body="Friends only")
    services.add_comment(post=post, author=bob, body="Bob")
    services.add_comment(post=post, author=cid, body="Cid")
    notification = Notification.objects.get(recipient=bob, type="thread_commented")
    assert selectors.unread_count_for(bob) == 1

    services.unfriend(user=ann, friend=bob)

    assert inbox(bob) == []
    assert selectors.unread_count_for(bob) == 0
    with pytest.raises(Http404):
        selectors.get_notification_for(bob, notification.pk)


def test_no_notification_is_made_about_a_post_the_recipient_cannot_see(ann, bob, cid, dan):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = services.create_post(author=ann, body="Friends only")
    services.add_comment(post=post, author=bob, body="Bob")
    services.unfriend(user=ann, friend=bob)

    services.add_comment(post=post, author=cid, body="Cid")

    assert Notification.objects.filter(recipient=bob).count() == 0


def test_changing_visibility_hides_and_reveals(ann, bob, cid):
    post = public_post(ann)
    services.add_comment(post=post, author=bob, body="Bob")
    services.add_comment(post=post, author=cid, body="Cid")
    assert kinds(bob) == ["thread_commented"]

    services.edit_post(post=post, by=ann, body=post.body, visibility="friends")
    assert kinds(bob) == []

    services.edit_post(post=post, by=ann, body=post.body, visibility="public")
    assert kinds(bob) == ["thread_commented"]


def test_nobody_reads_someone_elses_notification(ann, bob):
    services.send_friend_request(sender=ann, to=bob)
    notification = Notification.objects.get(recipient=bob)

    with pytest.raises(Http404):
        selectors.get_notification_for(ann, notification.pk)
    with pytest.raises(Http404):
        notifications.mark_read(notification=notification, by=ann)


# --- Preferences ------------------------------------------------------------------------


def test_a_muted_type_is_not_created(ann, bob):
    notifications.set_muted_types(user=ann, muted={"post_liked"})
    post = public_post(ann)

    services.like_post(post=post, user=bob)
    services.add_comment(post=post, author=bob, body="Still told")

    assert kinds(ann) == ["post_commented"]
    assert selectors.muted_types_for(ann) == {"post_liked"}


def test_unmuting_lets_the_type_through_again(ann, bob):
    notifications.set_muted_types(user=ann, muted={"post_liked", "wall_post"})
    notifications.set_muted_types(user=ann, muted={"wall_post"})

    services.like_post(post=public_post(ann), user=bob)

    assert kinds(ann) == ["post_liked"]
    assert selectors.muted_types_for(ann) == {"wall_post"}


def test_muting_an_unknown_type_is_refused(ann):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        notifications.set_muted_types(user=ann, muted={"post_liked", "bogus"})


# --- Read state -------------------------------------------------------------------------


def test_mark_read_and_read_all(ann, bob, cid):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=cid, to=ann)
    first = Notification.objects.get(recipient=ann, friend_request__from_user=bob)
    assert selectors.unread_count_for(ann) == 2

    assert notifications.mark_read(notification=first, by=ann) is True
    assert notifications.mark_read(notification=first, by=ann) is False
    assert selectors.unread_count_for(ann) == 1
    assert [item["read"] for item in inbox(ann)] == [False, True]
    assert [item["read"] for item in inbox(ann, unread_only=True)] == [False]

    assert notifications.mark_all_read(user=ann) == 1
    assert selectors.unread_count_for(ann) == 0
    assert inbox(ann, unread_only=True) == []


def test_the_list_is_newest_first_and_cursor_paginated(ann):
    posts = [public_post(ann, f"Post {index}") for index in range(5)]
    for post in posts:
        services.like_post(post=post, user=make_bunny(f"fan{post.pk}"))
    # Same timestamps must not break the order: the id breaks ties.
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=1))

    first = selectors.notifications_for(ann, size=2)
    second = selectors.notifications_for(ann, size=2, cursor=first.next_cursor)
    third = selectors.notifications_for(ann, size=2, cursor=second.next_cursor)

    ids = [item.pk for page in (first, second, third) for item in page.items]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 5
    assert third.next_cursor is None


# --- Live: durable events and their publication -----------------------------------------


def test_each_notification_is_stored_as_a_durable_event_with_a_growing_seq(
    ann, bob, cid, django_capture_on_commit_callbacks
):
    post = public_post(ann)

    with django_capture_on_commit_callbacks() as callbacks:
        services.like_post(post=post, user=bob)
    with django_capture_on_commit_callbacks():
        services.like_post(post=post, user=cid)

    assert callbacks  # the publish waits for the commit
    events = notification_events(ann)
    assert [event["seq"] for event in events] == sorted({event["seq"] for event in events})
    assert len(events) == 2
    last = events[-1]
    assert json.loads(json.dumps(last)) == last
    assert last["unread_count"] == 1
    assert last["notification"]["type"] == "post_liked"
    assert last["notification"]["actor_count"] == 2
    assert last["notification"]["actor"]["username"] == "cid"
    assert last["notification"] == inbox(ann)[0]
    assert notification_events(bob) == notification_events(cid) == []


def test_a_rolled_back_action_leaves_no_notification_and_no_event(ann, bob):
    from django.db import transaction

    post = public_post(ann)

    class Boom(Exception):
        pass

    @transaction.atomic
    def like_then_fail():
        services.like_post(post=post, user=bob)
        raise Boom

    with pytest.raises(Boom):
        like_then_fail()

    assert Notification.objects.count() == 0
    assert notification_events(ann) == []


@pytest.mark.django_db(transaction=True)
async def test_the_event_reaches_the_recipients_channel_group_after_commit(ann, bob):
    # One event loop throughout: the pub/sub layer's subscriptions live in the loop that made
    # them, and the publish after commit (from the database thread) goes through it.
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(f"user.{ann.pk}", channel)
    try:
        post = await database_sync_to_async(public_post)(ann)
        await database_sync_to_async(services.like_post)(post=post, user=bob)
        event = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(f"user.{ann.pk}", channel)

    assert event["type"] == "notification"
    assert event["seq"] == (await database_sync_to_async(notification_events)(ann))[-1]["seq"]
    assert event["notification"]["text"] == "Bob liked your post"
    assert event["unread_count"] == 1


def test_reading_tells_the_other_tabs(ann, bob, django_capture_on_commit_callbacks):
    services.send_friend_request(sender=bob, to=ann)
    notification = Notification.objects.get(recipient=ann)

    with django_capture_on_commit_callbacks():
        notifications.mark_read(notification=notification, by=ann)
    read_one = UserEvent.objects.filter(user=ann).latest("seq").payload
    services.send_friend_request(sender=make_bunny("cid"), to=ann)
    with django_capture_on_commit_callbacks():
        notifications.mark_all_read(user=ann)
    read_all = UserEvent.objects.filter(user=ann).latest("seq").payload

    assert read_one == {"type": "notification.read", "id": notification.pk, "unread_count": 0}
    assert read_all == {"type": "notification.read", "id": None, "unread_count": 0}


def test_the_post_counts_stay_right_alongside_notifications(ann, bob):
    post = public_post(ann)
    services.like_post(post=post, user=bob)
    services.add_comment(post=post, author=bob, body="Hi")

    post = Post.objects.get(pk=post.pk)
    assert (post.like_count, post.comment_count) == (1, 1)
