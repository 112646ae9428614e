"""Friendship, block, post, comment and like rules, enforced by the services and the database."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404

from conftest import make_bunny
from notifications.models import Notification
from social import selectors, services
from social.models import Block, Comment, FriendRequest, Friendship, Post, PostLike
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


# --- Friend requests --------------------------------------------------------------------


def test_a_request_then_an_accept_makes_one_friendship(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)
    assert isinstance(request, FriendRequest)

    services.accept_friend_request(friend_request=request, by=bob)

    assert selectors.are_friends(ann.pk, bob.pk)
    assert Friendship.objects.count() == 1
    assert FriendRequest.objects.count() == 0


def test_asking_someone_who_already_asked_you_makes_you_friends_at_once(ann, bob):
    services.send_friend_request(sender=ann, to=bob)

    outcome = services.send_friend_request(sender=bob, to=ann)

    assert isinstance(outcome, Friendship)
    assert FriendRequest.objects.count() == 0


def test_asking_yourself_is_a_validation_error(ann):
    with pytest.raises(ValidationError):
        services.send_friend_request(sender=ann, to=ann)


def test_asking_twice_is_a_conflict(ann, bob):
    services.send_friend_request(sender=ann, to=bob)

    with pytest.raises(services.RequestPending):
        services.send_friend_request(sender=ann, to=bob)


def test_asking_a_friend_is_a_conflict(ann, bob):
    make_friends(ann, bob)

    with pytest.raises(services.AlreadyFriends):
        services.send_friend_request(sender=bob, to=ann)


def test_only_the_addressee_answers_and_only_the_sender_cancels(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)

    with pytest.raises(PermissionDenied):
        services.accept_friend_request(friend_request=request, by=ann)
    with pytest.raises(PermissionDenied):
        services.decline_friend_request(friend_request=request, by=ann)
    with pytest.raises(PermissionDenied):
        services.cancel_friend_request(friend_request=request, by=bob)

    services.cancel_friend_request(friend_request=request, by=ann)
    assert not FriendRequest.objects.exists()


def test_declining_leaves_no_friendship_and_allows_a_new_request(ann, bob):
    request = services.send_friend_request(sender=ann, to=bob)
    services.decline_friend_request(friend_request=request, by=bob)

    assert not selectors.are_friends(ann.pk, bob.pk)
    assert isinstance(services.send_friend_request(sender=ann, to=bob), FriendRequest)


def test_unfriending_ends_the_friendship_silently(ann, bob):
    make_friends(ann, bob)
    notified_before = Notification.objects.count()

    services.unfriend(user=bob, friend=ann)

    assert not selectors.are_friends(ann.pk, bob.pk)
    assert Notification.objects.count() == notified_before


def test_unfriending_a_stranger_is_404(ann, bob):
    with pytest.raises(Http404):
        services.unfriend(user=ann, friend=bob)


def test_the_database_refuses_a_second_row_for_a_pair(ann, bob):
    from django.db import IntegrityError, transaction

    FriendRequest.objects.create(from_user=ann, to_user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequest.objects.create(from_user=bob, to_user=ann)
    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(user_a=bob, user_b=ann)  # must be ordered


def race(*actions):
    """Run each action in its own thread and database connection, released together."""
    start = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        start.wait()
        try:
            outcomes[index] = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_bunnies_asking_each_other_at_once_become_friends_exactly_once():
    for round_ in range(5):
        ann, bob = make_bunny(f"ann{round_}"), make_bunny(f"bob{round_}")

        outcomes = race(
            lambda a=ann, b=bob: services.send_friend_request(sender=a, to=b),
            lambda a=ann, b=bob: services.send_friend_request(sender=b, to=a),
        )

        assert not any(isinstance(o, Exception) for o in outcomes), outcomes
        assert Friendship.objects.between(ann.pk, bob.pk).count() == 1
        assert not FriendRequest.objects.between(ann.pk, bob.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_request_sent_twice_at_once_is_stored_once():
    ann, bob = make_bunny("ann"), make_bunny("bob")

    outcomes = race(*[lambda: services.send_friend_request(sender=ann, to=bob)] * 4)

    assert FriendRequest.objects.count() == 1
    assert sum(isinstance(o, FriendRequest) for o in outcomes) == 1
    assert sum(isinstance(o, services.RequestPending) for o in outcomes) == 3


@pytest.mark.django_db(transaction=True)
def test_accepting_twice_at_once_makes_one_friendship():
    ann, bob = make_bunny("ann"), make_bunny("bob")
    request = services.send_friend_request(sender=ann, to=bob)

    outcomes = race(*[lambda: services.accept_friend_request(friend_request=request, by=bob)] * 3)

    assert Friendship.objects.count() == 1
    assert sum(isinstance(o, Friendship) for o in outcomes) == 1
    assert sum(isinstance(o, Http404) for o in outcomes) == 2


# --- Blocks -----------------------------------------------------------------------------


def test_a_block_ends_friendship_and_requests_both_ways(ann, bob, cid):
    make_friends(ann, bob)
    services.send_friend_request(sender=cid, to=ann)

    services.block_bunny(blocker=ann, blocked=bob)
    services.block_bunny(blocker=cid, blocked=ann)

    assert not Friendship.objects.exists()
    assert not FriendRequest.objects.exists()


def test_a_blocked_bunny_cannot_ask_or_be_asked(ann, bob):
    services.block_bunny(blocker=ann, blocked=bob)

    with pytest.raises(Http404):
        services.send_friend_request(sender=bob, to=ann)
    with pytest.raises(Http404):
        services.send_friend_request(sender=ann, to=bob)


def test_blocking_twice_is_harmless_and_unblocking_restores_nothing(ann, bob):
    make_friends(ann, bob)
    services.block_bunny(blocker=ann, blocked=bob)
    services.block_bunny(blocker=ann, blocked=bob)
    services.unblock_bunny(blocker=ann, blocked=bob)

    assert not Block.objects.exists()
    assert not selectors.are_friends(ann.pk, bob.pk)


@pytest.mark.parametrize("direction", ["ann_blocks_bob", "bob_blocks_ann"])
def test_a_block_hides_each_bunny_from_the_other_everywhere(ann, bob, cid, direction):
    make_friends(ann, cid)
    make_friends(bob, cid)
    ann_post = services.create_post(author=ann, body="Ann's public", visibility="public")
    bob_post = services.create_post(author=bob, body="Bob's public", visibility="public")
    on_cid_wall = services.create_post(author=bob, wall=cid, body="Hi Cid", visibility="public")
    bob_comment = services.add_comment(post=ann_post, author=bob, body="Bob was here")
    services.like_post(post=ann_post, user=bob)
    blocker, blocked = (ann, bob) if direction == "ann_blocks_bob" else (bob, ann)

    services.block_bunny(blocker=blocker, blocked=blocked)

    for viewer, other, other_post in [(ann, bob, bob_post), (bob, ann, ann_post)]:
        assert other not in selectors.search_bunnies(viewer, other.username)
        with pytest.raises(Http404):
            selectors.get_bunny_for(viewer, other.username)
        with pytest.raises(Http404):
            selectors.get_post_for(viewer, other_post.pk)
        assert other not in selectors.friends_of(cid, viewer=viewer)
        assert other not in selectors.mutual_friends(viewer, cid)
        assert other_post not in selectors.feed_for(viewer).items
        assert other_post not in selectors.wall_for(viewer, other).items
        assert other.pk not in {u.pk for u in selectors.post_likers(viewer, ann_post)}
    assert on_cid_wall not in selectors.wall_for(ann, cid).items
    assert bob_comment not in selectors.comments_on(ann, ann_post)
    with pytest.raises(Http404):
        selectors.get_comment_for(ann, bob_comment.pk)


# --- Posts ------------------------------------------------------------------------------


def test_posting_on_a_strangers_wall_is_forbidden(ann, bob):
    with pytest.raises(PermissionDenied):
        services.create_post(author=ann, wall=bob, body="Hello stranger")


def test_posting_on_a_friends_wall_works(ann, bob):
    make_friends(ann, bob)

    post = services.create_post(author=ann, wall=bob, body="Hello friend")

    assert post.wall == bob
    assert post.visibility == "friends"


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 5001])
def test_empty_or_overlong_posts_are_refused(ann, body):
    with pytest.raises(ValidationError):
        services.create_post(author=ann, body=body)
    assert not Post.objects.exists()


def test_only_the_author_edits_and_edits_are_marked(ann, bob):
    make_friends(ann, bob)
    post = services.create_post(author=ann, wall=bob, body="First")

    with pytest.raises(PermissionDenied):
        services.edit_post(post=post, by=bob, body="Hacked")
    edited = services.edit_post(post=post, by=ann, body="Second")

    assert edited.body == "Second"
    assert edited.edited_at is not None


def test_the_author_or_the_wall_owner_may_delete(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(cid, bob)
    first = services.create_post(author=ann, wall=bob, body="One")
    second = services.create_post(author=ann, wall=bob, body="Two")

    with pytest.raises(PermissionDenied):
        services.delete_post(post=first, by=cid)
    services.delete_post(post=first, by=ann)
    services.delete_post(post=second, by=bob)

    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("viewer_name", "friends_only_visible", "public_visible"),
    [
        ("author", True, True),
        ("wall_owner", True, True),
        ("friend_of_wall", True, True),
        ("friend_of_author_only", False, True),
        ("stranger", False, True),
    ],
)
def test_who_may_see_a_post(ann, bob, cid, viewer_name, friends_only_visible, public_visible):
    make_friends(ann, bob)  # ann writes on bob's wall
    dan, eve, fay = make_bunny("dan"), make_bunny("eve"), make_bunny("fay")
    make_friends(bob, dan)
    make_friends(ann, eve)
    viewers = {
        "author": ann,
        "wall_owner": bob,
        "friend_of_wall": dan,
        "friend_of_author_only": eve,
        "stranger": fay,
    }
    friends_only = services.create_post(author=ann, wall=bob, body="Friends only")
    public = services.create_post(author=ann, wall=bob, body="Public", visibility="public")
    viewer = viewers[viewer_name]

    visible = set(Post.objects.visible_to(viewer).values_list("pk", flat=True))

    assert (friends_only.pk in visible) is friends_only_visible
    assert (public.pk in visible) is public_visible


# --- Comments and likes -----------------------------------------------------------------


def test_comments_count_and_delete_rights(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(bob, cid)
    post = services.create_post(author=ann, wall=bob, body="Hello")
    comment = services.add_comment(post=post, author=cid, body="Hi!")

    with pytest.raises(PermissionDenied):
        services.edit_comment(comment=comment, by=ann, body="no")
    for deleter in [cid, ann, bob]:
        comment = services.add_comment(post=post, author=cid, body="again")
        services.delete_comment(comment=comment, by=deleter)

    post.refresh_from_db()
    assert post.comment_count == Comment.objects.filter(post=post).count() == 1


@pytest.mark.parametrize("body", ["", "  ", "c" * 2001])
def test_empty_or_overlong_comments_are_refused(ann, body):
    post = services.create_post(author=ann, body="Hello")

    with pytest.raises(ValidationError):
        services.add_comment(post=post, author=ann, body=body)


def test_likes_are_idempotent_and_counted(ann, bob):
    post = services.create_post(author=ann, body="Like me", visibility="public")

    assert services.like_post(post=post, user=bob)
    assert not services.like_post(post=post, user=bob)
    post.refresh_from_db()
    assert post.like_count == 1
    assert services.unlike_post(post=post, user=bob)
    assert not services.unlike_post(post=post, user=bob)
    post.refresh_from_db()
    assert post.like_count == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_by_one_bunny_count_once():
    ann, bob = make_bunny("ann"), make_bunny("bob")
    post = services.create_post(author=ann, body="Race", visibility="public")

    race(*[lambda: services.like_post(post=post, user=bob)] * 4)

    post.refresh_from_db()
    assert post.like_count == PostLike.objects.count() == 1


# --- Feed -------------------------------------------------------------------------------


def test_the_feed_holds_own_friends_and_wall_posts_newest_first(ann, bob, cid):
    make_friends(ann, bob)
    make_friends(cid, bob)
    mine = services.create_post(author=ann, body="mine")
    friends = services.create_post(author=bob, body="bob's")
    on_my_wall = services.create_post(author=bob, wall=ann, body="for ann")
    stranger = services.create_post(author=cid, body="cid's", visibility="public")

    feed = selectors.feed_for(ann).items

    assert feed == [on_my_wall, friends, mine]
    assert stranger not in feed


def test_feed_pages_are_stable_when_new_posts_arrive(ann):
    posts = [services.create_post(author=ann, body=f"post {i}") for i in range(45)]

    first = selectors.feed_for(ann)
    services.create_post(author=ann, body="arrived while scrolling")
    second = selectors.feed_for(ann, cursor=first.next_cursor)
    third = selectors.feed_for(ann, cursor=second.next_cursor)

    seen = [p.pk for p in first.items + second.items + third.items]
    assert seen == [p.pk for p in reversed(posts)]
    assert third.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "e30", "WyJ4IiwgMV0", "W251bGwsIDFd", "!!!"])
def test_a_forged_cursor_is_a_validation_error(ann, cursor):
    with pytest.raises(ValidationError):
        selectors.feed_for(ann, cursor=cursor)


def test_search_finds_by_substring_and_forgives_typos(ann, settings):
    hazel = make_bunny("hazel", display_name="Hazel Warren")
    make_bunny("fiver")

    assert selectors.search_bunnies(ann, "haz")[0] == hazel
    assert selectors.search_bunnies(ann, "WARREN")[0] == hazel
    assert selectors.search_bunnies(ann, "%") == []
    if settings.USES_POSTGRES:
        assert selectors.search_bunnies(ann, "hazle")[0] == hazel
        assert selectors.search_bunnies(ann, "Hazel Waren")[0] == hazel
