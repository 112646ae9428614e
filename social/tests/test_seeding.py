"""`manage.py seed` and `seed_demo`: deterministic, well-formed networks; bad arguments
refused before anything is written; the demo built once."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.test import Client

from accounts.models import User
from chat.models import Conversation, Message, Participant
from reports.models import Report
from social.demo import BUNNIES, DEMO_PASSWORD
from social.models import (
    Comment,
    CommentLike,
    FriendRequest,
    Friendship,
    Post,
    PostLike,
)
from social.seeding import SeedError, SeedPlan, network_fingerprint, seed_network
from social.seeding import network as seeding_network
from social.seeding.network import SEEDED_MODELS
from social.seeding.writers import InsertWriter

SMALL = SeedPlan(users=80, friends=8, posts=2, comments=2, likes=2, messages=3, seed=7)


def empty_the_database() -> None:
    """Back to a fresh database: no bunnies or anything of theirs, ids counting from 1."""
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in SEEDED_MODELS)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending checks
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def seed(plan: SeedPlan = SMALL):
    return seed_network(plan, graph=False)


def friend_pairs() -> set[tuple[int, int]]:
    return set(Friendship.objects.values_list("user_a_id", "user_b_id"))


# --- determinism -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_seed_on_an_empty_database_gives_the_same_network():
    empty_the_database()  # sequences too: earlier tests' ids are gone for good
    seed()
    first = network_fingerprint()
    empty_the_database()
    assert not User.objects.exists()
    seed()
    assert network_fingerprint() == first


@pytest.mark.django_db
def test_another_seed_gives_another_network():
    empty_the_database()
    seed()
    first = network_fingerprint()
    empty_the_database()
    seed(SeedPlan(**{**SMALL.__dict__, "seed": 8}))
    assert network_fingerprint() != first


@pytest.mark.django_db
def test_batched_inserts_write_the_same_network_as_copy(monkeypatch):
    """The path other databases (SQLite) take, checked against PostgreSQL's COPY."""
    empty_the_database()
    seed()
    by_copy = network_fingerprint()
    empty_the_database()
    monkeypatch.setattr(seeding_network, "make_writer", InsertWriter)
    seed()
    assert network_fingerprint() == by_copy


# --- shape ---------------------------------------------------------------------------------


@pytest.fixture
def seeded(db):
    return seed()


def test_counts_match_the_plan_roughly(seeded):
    assert User.objects.count() == SMALL.users
    degree = 2 * Friendship.objects.count() / SMALL.users
    assert 0.6 * SMALL.friends <= degree <= 1.3 * SMALL.friends
    assert FriendRequest.objects.exists()
    posts = Post.objects.count()
    assert 0.5 * SMALL.posts * SMALL.users <= posts <= 1.5 * SMALL.posts * SMALL.users
    assert Comment.objects.count() > posts  # about `comments` per post
    assert PostLike.objects.exists()
    assert CommentLike.objects.exists()
    assert Conversation.objects.count() > SMALL.users / 4
    assert Message.objects.count() >= Conversation.objects.count()
    assert seeded.rows["accounts.User"] == SMALL.users
    assert seeded.total_rows == sum(seeded.rows.values())


def test_friendships_come_in_groups_not_uniform_pairs(seeded):
    """Friends of friends are often friends: many closed triangles."""
    pairs = friend_pairs()
    friends: dict[int, set[int]] = {}
    for a, b in pairs:
        friends.setdefault(a, set()).add(b)
        friends.setdefault(b, set()).add(a)
    closed = wedges = 0
    for mine in friends.values():
        ordered = sorted(mine)
        for index, a in enumerate(ordered):
            for b in ordered[index + 1 :]:
                wedges += 1
                closed += b in friends.get(a, ())
    # A uniform random graph of this density would close about K/N = 10% of wedges.
    assert closed / wedges > 0.3


def test_the_relations_are_consistent(seeded):
    pairs = friend_pairs()
    assert all(a < b for a, b in pairs)
    for request in FriendRequest.objects.all():
        pair = tuple(sorted((request.from_user_id, request.to_user_id)))
        assert pair not in pairs
    requests = Counter(
        tuple(sorted(pair)) for pair in FriendRequest.objects.values_list("from_user", "to_user")
    )
    assert max(requests.values()) == 1


def test_denormalised_counts_are_right(seeded):
    wrong_posts = Post.objects.annotate(
        n_likes=Count("likes", distinct=True), n_replies=Count("comments", distinct=True)
    ).exclude(like_count=F("n_likes"), comment_count=F("n_replies"))
    assert not wrong_posts.exists()
    wrong_comments = Comment.objects.annotate(n_likes=Count("likes")).exclude(
        like_count=F("n_likes")
    )
    assert not wrong_comments.exists()


def test_everyone_may_see_what_they_touch(seeded):
    pairs = friend_pairs()

    def friends(a, b):
        return a == b or tuple(sorted((a, b))) in pairs

    for post in Post.objects.all():
        assert friends(post.author_id, post.wall_id)  # own wall or a friend's
    for comment in Comment.objects.select_related("post"):
        assert friends(comment.author_id, comment.post.wall_id)
    for like in PostLike.objects.select_related("post"):
        assert friends(like.user_id, like.post.wall_id)
    for conversation in Conversation.objects.all():
        members = list(
            Participant.objects.filter(conversation=conversation).values_list("user", flat=True)
        )
        assert len(members) == 2
        assert friends(*members)
        latest = Message.objects.filter(conversation=conversation).order_by("-id").first()
        assert conversation.last_message_id == latest.pk
        assert (
            not Message.objects.filter(conversation=conversation)
            .exclude(sender_id__in=members)
            .exists()
        )


def test_the_indexes_and_constraints_are_back_after_seeding(seeded):
    pair = Friendship.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(user_a_id=pair.user_a_id, user_b_id=pair.user_b_id)
    with transaction.atomic():
        PostLike.objects.create(post_id=10**9, user_id=pair.user_a_id)  # no such post
        with pytest.raises(IntegrityError):
            connection.check_constraints()
        transaction.set_rollback(True)
    # New rows get fresh ids after the seeded ones.
    fresh = User.objects.create_user(username="newcomer", email="new@bunnies.test")
    assert fresh.pk > max(User.objects.exclude(pk=fresh.pk).values_list("pk", flat=True))


def test_seeded_bunnies_log_in_with_the_seed_password(seeded):
    bunny = User.objects.order_by("?").first()
    assert Client().login(username=bunny.username, password=SMALL.password)
    assert bunny.avatar_url  # drawn on first view, not while seeding


def test_seeding_adds_to_a_database_that_has_bunnies(ann):
    seed()
    assert User.objects.filter(pk=ann.pk, username="ann").exists()
    assert User.objects.count() == SMALL.users + 1
    assert not Friendship.objects.filter(Q(user_a=ann) | Q(user_b=ann)).exists()


# --- the command -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_seeds_and_prints_a_summary():
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "seed",
        "--users",
        "40",
        "--friends",
        "5",
        "--seed",
        "3",
        "--no-graph",
        stdout=out,
        stderr=err,
    )
    assert User.objects.count() == 40
    summary = out.getvalue()
    assert "Seeded 40 bunnies (seed 3)" in summary
    assert "social.Friendship" in summary
    assert "rows/s" in summary
    assert "bunnies" in err.getvalue()  # the progress bars


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--users", "-5"], "--users must not be negative"),
        (["--users", "0"], "--users must be at least 1"),
        (["--users", "10", "--friends", "10"], "--friends K must be smaller than --users N"),
        (["--users", "10", "--friends", "12"], "--friends K must be smaller than --users N"),
        (["--users", "10", "--friends", "-1"], "--friends must not be negative"),
        (["--users", "10", "--friends", "2", "--posts", "-1"], "--posts must not be negative"),
        (["--users", "10", "--friends", "2", "--comments", "-2"], "--comments must not"),
        (["--users", "10", "--friends", "2", "--messages", "-3"], "--messages must not"),
        (["--users", "10", "--friends", "2", "--posts", "5000"], "--posts must be at most"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(args, complaint):
    with pytest.raises(CommandError, match=complaint):
        call_command("seed", *args, "--no-graph", stdout=io.StringIO(), stderr=io.StringIO())
    assert not User.objects.exists()


def test_the_plan_checks_itself():
    with pytest.raises(SeedError):
        SeedPlan(users=3, friends=3).check()
    SeedPlan(users=3, friends=2).check()


# --- seed_demo -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_builds_the_demo_once_and_prints_the_logins():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    assert "Built the demo network" in first.getvalue()
    assert DEMO_PASSWORD in first.getvalue()
    assert set(User.objects.values_list("username", flat=True)) >= {b[0] for b in BUNNIES}
    assert Friendship.objects.exists()
    assert FriendRequest.objects.exists()
    assert Post.objects.exists()
    assert Message.objects.exists()
    assert Report.objects.exists()
    assert User.objects.get(username="mod").is_staff
    assert Client().login(username="ann", password=DEMO_PASSWORD)
    counts = {model: model.objects.count() for model in (User, Friendship, Post, Message)}

    again = io.StringIO()
    call_command("seed_demo", stdout=again)

    assert "left it as it is" in again.getvalue()
    assert DEMO_PASSWORD in again.getvalue()  # still prints the logins
    assert {model: model.objects.count() for model in counts} == counts


@pytest.mark.django_db
def test_seed_demo_leaves_a_database_with_bunnies_alone(ann):
    call_command("seed_demo", stdout=io.StringIO())
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]
