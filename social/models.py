"""Friendships, blocks, posts, comments and likes, with their visibility rules."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest, Least

from bunnybook import links, rows

User = settings.AUTH_USER_MODEL


# The two id sets nearly every read filters by, written out: built with the ORM, each use
# cost ~1 ms of CPU to build and compile (a feed page used four). Portable SQL; both
# placeholders take the same user id (the suggestions' SQL names it instead).
FRIEND_IDS_SQL = (
    "SELECT user_b_id FROM social_friendship WHERE user_a_id = %s"
    " UNION ALL SELECT user_a_id FROM social_friendship WHERE user_b_id = %s"
)
BLOCKED_IDS_SQL = (
    "SELECT blocked_id FROM social_block WHERE blocker_id = %s"
    " UNION ALL SELECT blocker_id FROM social_block WHERE blocked_id = %s"
)


def named(sql: str, name: str) -> str:
    """FRIEND_IDS_SQL or BLOCKED_IDS_SQL with its user id as the named parameter `name`."""
    return sql.replace("%s", f"%({name})s")


def read_ids(subquery: RawSQL) -> set[int]:
    """Run an id subquery on its own (friend_ids, ids_blocked_with)."""
    with rows.cursor() as cursor:
        cursor.execute(subquery.sql, subquery.params)
        return {row[0] for row in cursor.fetchall()}


class FriendshipQuerySet(models.QuerySet):
    def friend_ids(self, user_id: int) -> RawSQL:
        """The ids of a bunny's friends, as a subquery (`pk__in=`); read_ids() reads them."""
        return RawSQL(FRIEND_IDS_SQL, [user_id, user_id])  # noqa: S611 - a constant

    def between(self, first_id: int, second_id: int) -> "FriendshipQuerySet":
        user_a, user_b = Friendship.ordered(first_id, second_id)
        return self.filter(user_a_id=user_a, user_b_id=user_b)


class Friendship(models.Model):
    """One row per pair of friends, smaller id first, so a pair can exist only once."""

    user_a = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    user_b = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FriendshipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_a", "user_b"], name="friendship_pair_unique"),
            models.CheckConstraint(
                condition=Q(user_a__lt=F("user_b")), name="friendship_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["user_b", "user_a"], name="friendship_by_b")]

    def __str__(self):
        return f"{self.user_a_id} ♥ {self.user_b_id}"

    @staticmethod
    def ordered(first_id: int, second_id: int) -> tuple[int, int]:
        return (first_id, second_id) if first_id < second_id else (second_id, first_id)


class FriendRequestQuerySet(models.QuerySet):
    def between(self, first_id: int, second_id: int) -> "FriendRequestQuerySet":
        return self.filter(
            Q(from_user_id=first_id, to_user_id=second_id)
            | Q(from_user_id=second_id, to_user_id=first_id)
        )


class FriendRequest(models.Model):
    """A pending request. Accepting or declining deletes it; one per pair, either way."""

    from_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    to_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FriendRequestQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                name="friend_request_pair_unique",
            ),
            models.CheckConstraint(
                condition=~Q(from_user=F("to_user")), name="friend_request_not_to_self"
            ),
        ]
        indexes = [models.Index(fields=["to_user", "-created_at"], name="friend_request_inbox")]

    def __str__(self):
        return f"{self.from_user_id} → {self.to_user_id}"


class BlockQuerySet(models.QuerySet):
    def ids_blocked_with(self, user_id: int) -> RawSQL:
        """Everyone who blocked the bunny or whom the bunny blocked, as a subquery."""
        return RawSQL(BLOCKED_IDS_SQL, [user_id, user_id])  # noqa: S611 - a constant

    def between(self, first_id: int, second_id: int) -> "BlockQuerySet":
        return self.filter(
            Q(blocker_id=first_id, blocked_id=second_id)
            | Q(blocker_id=second_id, blocked_id=first_id)
        )


class Block(models.Model):
    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BlockQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_pair_unique"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="block_by_blocked")]

    def __str__(self):
        return f"{self.blocker_id} ⊘ {self.blocked_id}"


class Visibility(models.TextChoices):
    FRIENDS = "friends", "Friends"
    PUBLIC = "public", "Everyone"


class PostQuerySet(models.QuerySet):
    def visible_to(self, viewer) -> "PostQuerySet":
        """Public posts, and friends-only posts of walls the viewer owns or is a friend of;
        never anything whose author or wall owner is blocked either way."""
        friends = Friendship.objects.friend_ids(viewer.pk)
        blocked = Block.objects.ids_blocked_with(viewer.pk)
        return self.filter(
            Q(visibility=Visibility.PUBLIC)
            | Q(wall_id=viewer.pk)
            | Q(author_id=viewer.pk)
            | Q(wall_id__in=friends)
        ).exclude(Q(author_id__in=blocked) | Q(wall_id__in=blocked))


class Post(models.Model):
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="posts")
    wall = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wall_posts")
    body = models.TextField(max_length=5000)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.FRIENDS
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)

    objects = PostQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["author", "-created_at", "-id"], name="post_by_author"),
            models.Index(fields=["wall", "-created_at", "-id"], name="post_by_wall"),
            models.Index(fields=["-created_at", "-id"], name="post_newest"),
        ]

    def __str__(self):
        return f"Post {self.pk} by {self.author_id}"

    def get_absolute_url(self) -> str:
        return links.url("post", self.pk)

    def editable_by(self, user) -> bool:
        return self.author_id == user.pk

    def deletable_by(self, user) -> bool:
        return user.pk in (self.author_id, self.wall_id)


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    like_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["post", "created_at", "id"], name="comment_by_post")]

    def __str__(self):
        return f"Comment {self.pk} on {self.post_id}"

    def editable_by(self, user) -> bool:
        return self.author_id == user.pk

    def deletable_by(self, user, *, post: Post) -> bool:
        """Its author, or whoever may delete the post (the post's author, the wall owner)."""
        return self.author_id == user.pk or post.deletable_by(user)


class PostLike(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="post_like_unique")]
        indexes = [models.Index(fields=["user", "post"], name="post_like_by_user")]

    def __str__(self):
        return f"{self.user_id} ♡ post {self.post_id}"


class CommentLike(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "user"], name="comment_like_unique")
        ]
        indexes = [models.Index(fields=["user", "comment"], name="comment_like_by_user")]

    def __str__(self):
        return f"{self.user_id} ♡ comment {self.comment_id}"


from social.graph.models import GraphOutbox, SuggestionDismissal  # noqa: E402,F401
