"""The reads written out in SQL against the ORM rules they restate, on every combination of
author, wall, visibility, friendship and block among a handful of bunnies."""

import itertools
from datetime import timedelta

import pytest
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from conftest import every_page, make_bunny
from social import selectors
from social.models import Block, Comment, Friendship, Post, Visibility
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def network():
    """ann is friends with bob and cid; bob with dot and eve; ann blocked eve, fay blocked
    ann. Every bunny wrote on every wall, both visibilities, some at the same instant."""
    names = ["ann", "bob", "cid", "dot", "eve", "fay"]
    ann, bob, cid, dot, eve, fay = (make_bunny(name) for name in names)
    for first, second in [(ann, bob), (ann, cid), (bob, dot), (bob, eve)]:
        make_friends(first, second)
    Block.objects.create(blocker=ann, blocked=eve)
    Block.objects.create(blocker=fay, blocked=ann)
    bunnies = [ann, bob, cid, dot, eve, fay]
    start = timezone.now() - timedelta(days=1)
    combinations = itertools.product(bunnies, bunnies, Visibility.values)
    for number, (author, wall, visibility) in enumerate(combinations):
        post = Post.objects.create(author=author, wall=wall, body="hi", visibility=visibility)
        # Pairs of posts share a timestamp: the keyset must break ties by id.
        Post.objects.filter(pk=post.pk).update(created_at=start + timedelta(minutes=number // 2))
    return bunnies


def orm_feed(viewer) -> list[Post]:
    friends = Friendship.objects.friend_ids(viewer.pk)
    return list(
        Post.objects.visible_to(viewer)
        .filter(Q(author=viewer) | Q(wall=viewer) | Q(author_id__in=friends))
        .order_by("-created_at", "-id")
    )


def test_the_feed_shows_exactly_what_the_visibility_rule_allows_page_by_page(network):
    for viewer in network:
        expected = orm_feed(viewer)
        shown = every_page(lambda cursor, v=viewer: selectors.feed_for(v, cursor=cursor, size=7))
        assert [post.pk for post in shown] == [post.pk for post in expected], viewer.username
        assert expected, viewer.username


def test_a_wall_shows_exactly_what_the_visibility_rule_allows_page_by_page(network):
    for viewer, owner in itertools.product(network, network):
        expected = Post.objects.visible_to(viewer).filter(wall=owner).order_by("-created_at", "-id")
        shown = every_page(
            lambda cursor, v=viewer, o=owner: selectors.wall_for(v, o, cursor=cursor, size=5)
        )
        assert [post.pk for post in shown] == [post.pk for post in expected], (viewer, owner)


def test_one_post_is_found_exactly_when_the_visibility_rule_allows(network):
    posts = list(Post.objects.all())
    for viewer in network:
        visible = set(Post.objects.visible_to(viewer).values_list("pk", flat=True))
        for post in posts:
            assert selectors.may_see_post(viewer, post.pk) == (post.pk in visible)
            if post.pk in visible:
                found = selectors.get_post_for(viewer, post.pk)
                assert (found.author.pk, found.wall.pk) == (post.author_id, post.wall_id)
            else:
                with pytest.raises(Http404):
                    selectors.get_post_for(viewer, post.pk)
        assert 0 < len(visible) < len(posts), viewer.username
    for out_of_range in (0, -1, 2**63):
        with pytest.raises(Http404):
            selectors.get_post_for(network[0], out_of_range)


def test_feed_posts_come_with_their_author_and_wall_loaded(network, django_assert_num_queries):
    page = selectors.feed_for(network[0])
    with django_assert_num_queries(0):
        seen = [(post.author.username, post.wall.username) for post in page.items]
    expected = [(post.author.username, post.wall.username) for post in orm_feed(network[0])]
    assert seen == expected[: len(seen)]
    assert page.items[0].created_at.tzinfo is not None
    # A bunny named by several rows of the page is built once.
    bunnies = [bunny for post in page.items for bunny in (post.author, post.wall)]
    assert len({id(bunny) for bunny in bunnies}) == len({bunny.pk for bunny in bunnies})


def test_latest_comments_are_the_newest_three_per_post_less_blocked_authors(network):
    ann, bob, cid, dot, eve, fay = network
    posts = orm_feed(ann)[:6]
    threads = [[bob, cid, dot, eve, bob], [eve, fay], [], [cid], [dot, bob, cid, bob], [eve]]
    for post, commenters in zip(posts, threads, strict=True):
        for author in commenters:
            Comment.objects.create(post=post, author=author, body=f"from {author.username}")

    latest = selectors.latest_comments_on(ann, posts)

    blocked = {eve.pk, fay.pk}
    for post in posts:
        visible = Comment.objects.filter(post=post).exclude(author_id__in=blocked)
        newest = list(visible.order_by("-created_at", "-id")[:3])[::-1]
        assert [comment.pk for comment in latest[post.pk]] == [c.pk for c in newest]
        assert [c.author.username for c in latest[post.pk]] == [c.author.username for c in newest]
    authors = [comment.author for comments in latest.values() for comment in comments]
    assert len({id(author) for author in authors}) == len({author.pk for author in authors})


def test_one_comment_is_found_exactly_when_its_post_and_author_may_be_seen(network):
    for number, post in enumerate(Post.objects.order_by("id")[::3]):
        author = network[number % len(network)]
        Comment.objects.create(post=post, author=author, body=f"from {author.username}")
    comments = list(Comment.objects.all())
    hidden = 0
    for viewer in network:
        blocked = set(Block.objects.filter(blocker=viewer).values_list("blocked_id", flat=True))
        blocked |= set(Block.objects.filter(blocked=viewer).values_list("blocker_id", flat=True))
        posts = set(Post.objects.visible_to(viewer).values_list("pk", flat=True))
        seen = 0
        for comment in comments:
            if comment.post_id in posts and comment.author_id not in blocked:
                found = selectors.get_comment_for(viewer, comment.pk)
                assert (found.author.pk, found.post.pk) == (comment.author_id, comment.post_id)
                assert found.post.author.pk == found.post.author_id
                assert found.post.wall.pk == found.post.wall_id
                seen += 1
            else:
                with pytest.raises(Http404):
                    selectors.get_comment_for(viewer, comment.pk)
                hidden += 1
        assert seen, viewer.username
    assert hidden
    for out_of_range in (0, -1, 2**63):
        with pytest.raises(Http404):
            selectors.get_comment_for(network[0], out_of_range)


def test_a_profile_preview_lists_the_visible_friends_by_name_and_counts_them(network):
    ann, bob, cid, dot, _, fay = network
    for friend in [cid, fay]:  # dot is a friend already
        make_friends(bob, friend)
    dot.is_active = False
    dot.save()

    for viewer in [ann, cid]:
        expected = list(selectors.friends_of(bob, viewer=viewer).order_by("username"))
        preview, total = selectors.friends_preview(bob, viewer=viewer, limit=2)
        assert preview == expected[:2], viewer.username
        assert total == len(expected), viewer.username
    # ann blocked eve and fay blocked ann: neither shows to her; dot is inactive.
    assert selectors.friends_preview(bob, viewer=ann, limit=9) == ([ann, cid], 2)


def test_a_bunny_is_looked_up_by_name_through_the_unique_lower_case_index(network):
    from django.db import connection

    params = {"username": "BOB", "viewer": network[0].pk}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows would be scanned anyway
        cursor.execute(f"EXPLAIN {selectors._bunny_by_name_sql()}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "user_username_ci_unique" in plan, plan
    assert selectors.get_bunny_for(network[0], "BOB") == network[1]


def test_a_bunny_is_found_by_name_in_any_case_exactly_when_visible(network):
    gone = network[3]
    gone.is_active = False
    gone.save()
    for viewer in network:
        visible = set(selectors.bunnies_visible_to(viewer).values_list("pk", flat=True))
        for bunny in network:
            for name in (bunny.username, bunny.username.upper(), bunny.username.title()):
                if bunny.pk in visible:
                    assert selectors.get_bunny_for(viewer, name) == bunny
                else:
                    with pytest.raises(Http404):
                        selectors.get_bunny_for(viewer, name)
    for name in ("nobody", "b%", "_ob", ""):
        with pytest.raises(Http404):
            selectors.get_bunny_for(network[0], name)
