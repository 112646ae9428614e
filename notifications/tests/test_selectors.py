"""The notification reads written out in SQL against the ORM rule they restate
(`Notification.objects.visible_to`), over every kind of target, actor and relation."""

import itertools
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from conftest import every_page, make_bunny
from notifications import selectors
from notifications.models import Notification, NotificationActor, NotificationType
from social.models import Block, Comment, Post, Visibility
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def bunnies():
    """ann is friends with bob and cid; ann blocked eve, fay blocked ann; gus left. Each
    bunny gets a notification about every post, naming each possible actor, read and unread,
    and post-less ones beside them, several at the same instant."""
    names = ["ann", "bob", "cid", "dot", "eve", "fay", "gus"]
    bunnies = [make_bunny(name) for name in names]
    ann, bob, cid, _, eve, fay, gus = bunnies
    make_friends(ann, bob)
    make_friends(ann, cid)
    Block.objects.create(blocker=ann, blocked=eve)
    Block.objects.create(blocker=fay, blocked=ann)
    gus.is_active = False
    gus.save()
    posts = [
        Post.objects.create(author=author, wall=wall, body="hi", visibility=visibility)
        for author, wall, visibility in itertools.product(bunnies[:4], bunnies, Visibility.values)
    ]
    comment = Comment.objects.create(post=posts[0], author=bob, body="hey")
    targets = [*posts, None, None]
    start = timezone.now() - timedelta(days=1)
    for number, (recipient, post) in enumerate(itertools.product(bunnies, targets)):
        notification = Notification.objects.create(
            recipient=recipient,
            type=NotificationType.POST_LIKED if post else NotificationType.FRIEND_REQUEST_RECEIVED,
            group_key=f"n{number}",
            post=post,
            comment=comment if post == posts[0] else None,
            created_at=start + timedelta(minutes=number // 2),
            read_at=timezone.now() if number % 5 == 0 else None,
        )
        actors = [bunnies[number % len(bunnies)], bunnies[(number * 3 + 1) % len(bunnies)]]
        for actor in {actor.pk: actor for actor in actors}.values():
            NotificationActor.objects.create(notification=notification, actor=actor)
    return bunnies


def shown(viewer, *, unread_only=False) -> list[Notification]:
    notifications = Notification.objects.visible_to(viewer).order_by("-created_at", "-id")
    return list(notifications.unread() if unread_only else notifications)


def test_a_page_of_notifications_is_exactly_the_ones_shown_page_by_page(bunnies):
    for viewer, unread_only in itertools.product(bunnies, [False, True]):
        expected = shown(viewer, unread_only=unread_only)
        listed = every_page(
            lambda cursor, v=viewer, u=unread_only: selectors.notifications_for(
                v, unread_only=u, cursor=cursor, size=7
            )
        )
        assert [n.pk for n in listed] == [n.pk for n in expected], viewer.username
        assert [n.actor_count for n in listed] == [n.actor_count for n in expected]
    assert shown(bunnies[0])
    assert len(shown(bunnies[0])) < Notification.objects.filter(recipient=bunnies[0]).count()


def test_one_notification_comes_with_its_post_author_and_comment(
    bunnies, django_assert_num_queries
):
    for viewer in bunnies:
        expected = {n.pk: n for n in shown(viewer)}
        for notification in Notification.objects.filter(recipient=viewer):
            if notification.pk not in expected:
                with pytest.raises(Http404):
                    selectors.get_notification_for(viewer, notification.pk)
                continue
            found = selectors.get_notification_for(viewer, notification.pk)
            with django_assert_num_queries(0):
                post, comment = found.post, found.comment
                author = post and post.author
            assert (post and post.pk) == notification.post_id
            assert (author and author.pk) == (post and notification.post.author_id)
            assert (comment and comment.pk) == notification.comment_id
            assert found.actor_count == expected[found.pk].actor_count
    stranger = Notification.objects.exclude(recipient=bunnies[0]).first()
    for not_hers in (stranger.pk, 0, -1, 2**63):
        with pytest.raises(Http404):
            selectors.get_notification_for(bunnies[0], not_hers)


def test_each_notification_names_its_latest_actors_still_shown(bunnies):
    ann, bob, cid, dot, eve, fay, gus = bunnies
    crowded = Notification.objects.create(
        recipient=ann, type=NotificationType.POST_LIKED, group_key="crowded"
    )
    for minutes, actor in enumerate([eve, bob, gus, cid, fay, dot]):
        acted_at = timezone.now() - timedelta(minutes=minutes)
        NotificationActor.objects.create(notification=crowded, actor=actor, acted_at=acted_at)
    assert selectors.get_notification_for(ann, crowded.pk).latest_actors == [bob, cid, dot]
    for viewer in bunnies:
        blocked = set(Block.objects.filter(blocker=viewer).values_list("blocked_id", flat=True))
        blocked |= set(Block.objects.filter(blocked=viewer).values_list("blocker_id", flat=True))
        page = selectors.notifications_for(viewer, size=100)
        assert page.items, viewer.username
        for notification in page.items:
            links = NotificationActor.objects.filter(notification=notification).order_by(
                "-acted_at", "-id"
            )
            expected = [
                link.actor_id
                for link in links.select_related("actor")
                if link.actor.is_active and link.actor_id not in blocked
            ][: selectors.ACTORS_SHOWN]
            assert [actor.pk for actor in notification.latest_actors] == expected
            assert len(expected) == min(notification.actor_count, selectors.ACTORS_SHOWN)


def test_the_unread_count_is_exactly_the_unread_notifications_shown(bunnies):
    ann = bunnies[0]
    counts = set()
    for viewer in bunnies:
        expected = Notification.objects.visible_to(viewer).unread().count()
        assert selectors.unread_count_for(viewer) == expected, viewer.username
        counts.add(expected)
    assert len(counts) > 1
    unread = Notification.objects.filter(recipient=ann, read_at__isnull=True).count()
    assert 0 < selectors.unread_count_for(ann) < unread
