"""Social reads shared by pages, the API and consumers. `get_*_for(viewer, ...)` fetch and
authorise at once: what the viewer may not see is a 404, exactly as if it did not exist."""

import functools
from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest, Upper
from django.http import Http404

from accounts.models import User
from bunnybook import rows
from bunnybook.pagination import Page, decode_cursor, page_of, paginate
from social.models import (
    BLOCKED_IDS_SQL,
    FRIEND_IDS_SQL,
    Block,
    Comment,
    CommentLike,
    FriendRequest,
    Friendship,
    Post,
    PostLike,
    Visibility,
    named,
    read_ids,
)

FEED_PAGE_SIZE = 20
INLINE_COMMENTS = 3
SEARCH_LIMIT = 20


# --- Bunnies and relations --------------------------------------------------------------


def bunnies_visible_to(viewer: User) -> QuerySet[User]:
    """Active bunnies, less anyone blocked with the viewer either way."""
    return User.objects.filter(is_active=True).exclude(
        pk__in=Block.objects.ids_blocked_with(viewer.pk)
    )


# One of bunnies_visible_to(viewer) by name, whatever its case (equal_ignoring_case: the
# lower() unique index answers). Written out: every profile and friendship action reads
# one, and the ORM spent ~1.5 ms of CPU building it.
@functools.cache
def _bunny_by_name_sql() -> str:
    return f"""
        SELECT {rows.columns(User, "u")} FROM accounts_user u
        WHERE lower(u.username) = lower(%(username)s) AND u.is_active
          AND u.id NOT IN ({named(BLOCKED_IDS_SQL, "viewer")})
    """  # noqa: S608 - joined from constants; values are parameters


def get_bunny_for(viewer: User, username: str) -> User:
    with rows.cursor() as db:
        db.execute(_bunny_by_name_sql(), {"username": username, "viewer": viewer.pk})
        row = db.fetchone()
    if row is None:
        raise Http404
    return rows.build(User, row)


def friends_of(owner: User, *, viewer: User) -> QuerySet[User]:
    return bunnies_visible_to(viewer).filter(pk__in=Friendship.objects.friend_ids(owner.pk))


def _bunnies_and_total(sql: str, params) -> tuple[list[User], int]:
    """The bunnies of a written-out "first few and how many" query, whose rows are a
    bunny's columns and the total."""
    with rows.cursor() as db:
        db.execute(sql, params)
        fetched = db.fetchall()
    return [rows.build(User, row[:-1]) for row in fetched], fetched[0][-1] if fetched else 0


# Written out: a profile shows two of these (friends, mutual friends), which the ORM spent
# ~2 ms of CPU each building (the blocks, a window for the count).
_BUNNIES_PREVIEW_SQL = """
SELECT {user}, COUNT(*) OVER () AS total
FROM accounts_user u
WHERE u.id IN ({ids}) AND u.is_active AND u.id NOT IN ({blocked})
ORDER BY u.username
LIMIT %s
"""


def bunnies_preview(viewer: User, ids: RawSQL, *, limit: int) -> tuple[list[User], int]:
    """The first `limit` bunnies by name among `ids` (an id subquery) that the viewer may
    see, as bunnies_visible_to, and how many there are in all."""
    sql = _BUNNIES_PREVIEW_SQL.format(
        user=rows.columns(User, "u"), ids=ids.sql, blocked=BLOCKED_IDS_SQL
    )
    return _bunnies_and_total(sql, [*ids.params, viewer.pk, viewer.pk, limit])


def friends_preview(owner: User, *, viewer: User, limit: int) -> tuple[list[User], int]:
    """The first `limit` of friends_of(owner) by name, and how many there are."""
    return bunnies_preview(viewer, Friendship.objects.friend_ids(owner.pk), limit=limit)


def mutual_friends(viewer: User, other: User) -> QuerySet[User]:
    return friends_of(viewer, viewer=viewer).filter(pk__in=Friendship.objects.friend_ids(other.pk))


def are_friends(first_id: int, second_id: int) -> bool:
    return Friendship.objects.between(first_id, second_id).exists()


# Written out: as two ORM queries it cost every API list ~1.5 ms of CPU to build; `{ids}`
# is a list of placeholders, one per bunny asked about.
_FRIENDSHIP_STATES_SQL = """
SELECT user_b_id, 'friends' FROM social_friendship
    WHERE user_a_id = %(viewer)s AND user_b_id IN ({ids})
UNION ALL SELECT user_a_id, 'friends' FROM social_friendship
    WHERE user_b_id = %(viewer)s AND user_a_id IN ({ids})
UNION ALL SELECT to_user_id, 'request_sent' FROM social_friendrequest
    WHERE from_user_id = %(viewer)s AND to_user_id IN ({ids})
UNION ALL SELECT from_user_id, 'request_received' FROM social_friendrequest
    WHERE to_user_id = %(viewer)s AND from_user_id IN ({ids})
"""


def friendship_states(viewer: User, user_ids: Iterable[int]) -> dict[int, str]:
    """The viewer's relation to each bunny: self, friends, request_sent, request_received
    or none; one query for any number of bunnies."""
    ids = set(user_ids)
    states = dict.fromkeys(ids, "none")
    if viewer.pk in states:
        states[viewer.pk] = "self"
    ids.discard(viewer.pk)
    if not ids:
        return states
    params = {"viewer": viewer.pk} | {f"id{n}": user_id for n, user_id in enumerate(ids)}
    marks = ", ".join(f"%(id{n})s" for n in range(len(ids)))
    with rows.cursor() as cursor:
        cursor.execute(_FRIENDSHIP_STATES_SQL.format(ids=marks), params)
        states.update(cursor.fetchall())
    return states


def pending_request_between(viewer: User, other: User) -> FriendRequest | None:
    return FriendRequest.objects.between(viewer.pk, other.pk).first()


def get_friend_request_for(viewer: User, request_id: int) -> FriendRequest:
    """A pending request the viewer sent or received."""
    friend_request = (
        FriendRequest.objects.select_related("from_user", "to_user")
        .filter(Q(from_user=viewer) | Q(to_user=viewer), pk=request_id)
        .first()
    )
    if friend_request is None:
        raise Http404
    return friend_request


def friend_requests_for(viewer: User, *, direction: str) -> QuerySet[FriendRequest]:
    blocked = Block.objects.ids_blocked_with(viewer.pk)
    requests = FriendRequest.objects.select_related("from_user", "to_user")
    if direction == "outgoing":
        requests = requests.filter(from_user=viewer).exclude(to_user_id__in=blocked)
    else:
        requests = requests.filter(to_user=viewer).exclude(from_user_id__in=blocked)
    return requests.order_by("-created_at", "-id")


# Written out: built with the ORM (two joins, the blocks, a window for the count) this cost
# every feed page ~2.8 ms of CPU.
_REQUESTERS_SQL = """
SELECT {user}, COUNT(*) OVER () AS total
FROM social_friendrequest r JOIN accounts_user u ON u.id = r.from_user_id
WHERE r.to_user_id = %(viewer)s AND r.from_user_id NOT IN ({blocked})
ORDER BY r.created_at DESC, r.id DESC
LIMIT %(limit)s
"""


def latest_requesters(viewer: User, *, limit: int) -> tuple[list[User], int]:
    """The bunnies whose friend requests to the viewer are pending, newest request first
    (at most `limit`), and how many there are in all; as friend_requests_for("incoming")."""
    sql = _REQUESTERS_SQL.format(
        user=rows.columns(User, "u"), blocked=named(BLOCKED_IDS_SQL, "viewer")
    )
    return _bunnies_and_total(sql, {"viewer": viewer.pk, "limit": limit})


def blocked_by(viewer: User) -> QuerySet[User]:
    return User.objects.filter(
        pk__in=Block.objects.filter(blocker=viewer).values("blocked_id")
    ).order_by("username")


def search_bunnies(viewer: User, query: str) -> list[User]:
    """Best match first. On PostgreSQL, trigram similarity forgives typos; elsewhere a
    plain substring match."""
    query = query.strip()[:100]
    if not query:
        return []
    bunnies = bunnies_visible_to(viewer).annotate(
        upper_username=Upper("username"), upper_display_name=Upper("display_name")
    )
    needle = query.upper()
    substring = Q(upper_username__contains=needle) | Q(upper_display_name__contains=needle)
    if settings.USES_POSTGRES:
        # Both lookups run on the GIN trigram indexes over upper(name).
        bunnies = (
            bunnies.filter(
                substring
                | Q(upper_username__trigram_similar=needle)
                | Q(upper_display_name__trigram_similar=needle)
            )
            .annotate(
                similarity=Greatest(
                    TrigramSimilarity("upper_username", needle),
                    TrigramSimilarity("upper_display_name", needle),
                )
            )
            .order_by("-similarity", "username")
        )
    else:
        bunnies = bunnies.filter(substring).order_by("username")
    return list(bunnies[:SEARCH_LIMIT])


# --- Posts ------------------------------------------------------------------------------


# Pages of posts (the feed, a wall), written out: the ORM spent ~4 ms of CPU a page building
# and compiling them (the visibility rule, two joined bunnies, the keyset), several times
# what PostgreSQL takes to run them. The second condition restates
# Post.objects.visible_to; test_selectors pins the two together.
_VISIBLE_POST = """(p.visibility = %(public)s OR p.wall_id = %(viewer)s OR p.author_id = %(viewer)s
       OR p.wall_id IN ({friends}))
  AND p.author_id NOT IN ({blocked}) AND p.wall_id NOT IN ({blocked})"""
_POSTS_SQL = """
SELECT {post}, {author}, {wall}
FROM social_post p
JOIN accounts_user a ON a.id = p.author_id
JOIN accounts_user w ON w.id = p.wall_id
WHERE {scope}
  AND {visible}
  {after}
ORDER BY p.created_at DESC, p.id DESC
LIMIT %(limit)s
"""
_AFTER_CURSOR = "AND (p.created_at < %(at)s OR (p.created_at = %(at)s AND p.id < %(pk)s))"


@functools.cache
def _posts_sql(*, scope: str, after_cursor: bool) -> str:
    friends = named(FRIEND_IDS_SQL, "viewer")
    # `author_id = ANY(ARRAY(friends))`: PostgreSQL then reads just the friends' posts by
    # the post_by_author index; with `IN (friends)` it walked every post, newest first,
    # testing each (~0.3 ms instead of ~3.5 ms with 50 friends among 10,000 bunnies).
    by_friend = f"p.author_id = ANY(ARRAY({friends}))" if settings.USES_POSTGRES else None
    scopes = {
        "feed": "(p.author_id = %(viewer)s OR p.wall_id = %(viewer)s OR {by_friend})".format(
            by_friend=by_friend or f"p.author_id IN ({friends})"
        ),
        "wall": "p.wall_id = %(owner)s",
        "post": "p.id = %(post)s",
    }
    return _POSTS_SQL.format(
        post=rows.columns(Post, "p"),
        author=rows.columns(User, "a"),
        wall=rows.columns(User, "w"),
        scope=scopes[scope],
        visible=visible_post_sql(),
        after=_AFTER_CURSOR if after_cursor else "",
    )


@functools.cache
def visible_post_sql() -> str:
    """The condition that post `p` is one the viewer may see (Post.objects.visible_to), for
    written-out statements; parameters `viewer` (her id) and `public` (Visibility.PUBLIC)."""
    return _VISIBLE_POST.format(
        friends=named(FRIEND_IDS_SQL, "viewer"), blocked=named(BLOCKED_IDS_SQL, "viewer")
    )


def _posts_page(viewer: User, scope: str, *, cursor: str | None, size: int, **params) -> Page:
    params |= {"viewer": viewer.pk, "public": Visibility.PUBLIC, "limit": size + 1}
    if cursor:
        params["at"], params["pk"] = decode_cursor(cursor, Post._meta.get_field("created_at"))
    with rows.cursor() as db:
        db.execute(_posts_sql(scope=scope, after_cursor=bool(cursor)), params)
        fetched = db.fetchall()
    posts, bunnies = [], {}
    for row in fetched:
        post, author, wall = rows.split(row, (Post, User, User))
        post = rows.build(Post, post)
        Post.author.field.set_cached_value(post, rows.build_shared(User, author, bunnies))
        Post.wall.field.set_cached_value(post, rows.build_shared(User, wall, bunnies))
        posts.append(post)
    return page_of(posts, size=size)


def feed_for(viewer: User, *, cursor: str | None = None, size: int = FEED_PAGE_SIZE) -> Page:
    """The viewer's and friends' posts, and posts on the viewer's wall, newest first."""
    return _posts_page(viewer, "feed", cursor=cursor, size=size)


def wall_for(viewer: User, owner: User, *, cursor: str | None = None, size: int = FEED_PAGE_SIZE):
    """The posts on `owner`'s wall that the viewer may see, newest first."""
    return _posts_page(viewer, "wall", cursor=cursor, size=size, owner=owner.pk)


def get_post_for(viewer: User, post_id: int) -> Post:
    """The post with its author and wall if the viewer may see it, else Http404. Written out
    as the pages of posts are: every like, comment and post page reads one (the ORM spent
    ~2.5 ms of CPU building it, read twice by a like)."""
    if not 0 < post_id < 2**63:
        raise Http404
    found = _posts_page(viewer, "post", cursor=None, size=1, post=post_id).items
    if not found:
        raise Http404
    return found[0]


@functools.cache
def _may_see_post_sql() -> str:
    return f"SELECT 1 FROM social_post p WHERE p.id = %(post)s AND {visible_post_sql()}"  # noqa: S608 - joined from constants; values are parameters


def may_see_post(viewer: User, post_id: int) -> bool:
    """Whether the viewer may see the post (Post.objects.visible_to), in one written-out
    statement: asked for every recipient of a notification about a post."""
    params = {"post": post_id, "viewer": viewer.pk, "public": Visibility.PUBLIC}
    with rows.cursor() as db:
        db.execute(_may_see_post_sql(), params)
        return db.fetchone() is not None


def _liked_ids(like_model, target: str, viewer: User, ids: list[int]) -> set[int]:
    """Which of `ids` (posts or comments) the viewer liked. Written out: the ORM spent ~1 ms
    of CPU building this two-condition query, asked twice on every page of posts."""
    if not ids:
        return set()
    marks = ", ".join(["%s"] * len(ids))
    table = like_model._meta.db_table
    sql = f"SELECT {target} FROM {table} WHERE user_id = %s AND {target} IN ({marks})"  # noqa: S608 - names from the models, values are parameters
    return read_ids(RawSQL(sql, [viewer.pk, *ids]))  # noqa: S611


def liked_post_ids(viewer: User, posts: Iterable[Post]) -> set[int]:
    return _liked_ids(PostLike, "post_id", viewer, [post.pk for post in posts])


# --- Comments ---------------------------------------------------------------------------


def comments_on(viewer: User, post: Post) -> QuerySet[Comment]:
    """Oldest first, less authors blocked either way; the caller fetched `post` through
    get_post_for."""
    return (
        Comment.objects.filter(post=post)
        .select_related("author")
        .exclude(author_id__in=Block.objects.ids_blocked_with(viewer.pk))
        .order_by("created_at", "id")
    )


# Written out: building the same ranking with the ORM (a window filtered by rank) cost a
# feed page 5 ms of CPU, more than twice the query itself. Portable (PostgreSQL, SQLite).
_LATEST_COMMENT_IDS_SQL = f"""
SELECT id FROM (
    SELECT id,
           ROW_NUMBER() OVER (PARTITION BY post_id ORDER BY created_at DESC, id DESC) AS position
    FROM social_comment
    WHERE post_id IN ({{post_ids}}) AND author_id NOT IN ({BLOCKED_IDS_SQL})
) ranked
WHERE position <= %s
"""  # noqa: S608 - joined from constants; values are parameters


def _latest_comments_sql(post_count: int) -> str:
    """The comments of _LATEST_COMMENT_IDS_SQL with their authors, oldest first."""
    latest = _LATEST_COMMENT_IDS_SQL.format(post_ids=", ".join(["%s"] * post_count))
    return f"""
        SELECT {rows.columns(Comment, "c")}, {rows.columns(User, "a")}
        FROM social_comment c JOIN accounts_user a ON a.id = c.author_id
        WHERE c.id IN ({latest})
        ORDER BY c.created_at, c.id
    """  # noqa: S608 - joined from constants and placeholders; values are parameters


def latest_comments_on(viewer: User, posts: Iterable[Post], *, per_post: int = INLINE_COMMENTS):
    """The newest few comments of each post, in one query: {post_id: [oldest..newest]}."""
    ids = [post.pk for post in posts]
    by_post: dict[int, list[Comment]] = {post_id: [] for post_id in ids}
    if not ids:
        return by_post
    with rows.cursor() as db:
        db.execute(_latest_comments_sql(len(ids)), [*ids, viewer.pk, viewer.pk, per_post])
        fetched = db.fetchall()
    width, bunnies = len(rows.attnames(Comment)), {}
    for row in fetched:
        comment = rows.build(Comment, row[:width])
        author = rows.build_shared(User, row[width:], bunnies)
        Comment.author.field.set_cached_value(comment, author)
        by_post[comment.post_id].append(comment)
    return by_post


@functools.cache
def _comment_sql() -> str:
    return f"""
        SELECT {rows.columns(Comment, "c")}, {rows.columns(User, "ca")},
            {rows.columns(Post, "p")}, {rows.columns(User, "a")}, {rows.columns(User, "w")}
        FROM social_comment c
        JOIN accounts_user ca ON ca.id = c.author_id
        JOIN social_post p ON p.id = c.post_id
        JOIN accounts_user a ON a.id = p.author_id
        JOIN accounts_user w ON w.id = p.wall_id
        WHERE c.id = %(comment)s AND c.author_id NOT IN ({named(BLOCKED_IDS_SQL, "viewer")})
          AND {visible_post_sql()}
    """  # noqa: S608 - joined from constants; values are parameters


def get_comment_for(viewer: User, comment_id: int) -> Comment:
    """The comment with its author and post (with the post's author and wall) if the viewer
    may see it: its author is not blocked either way, and its post is one she may see; else
    Http404. Written out as get_post_for is (every comment like reads it twice)."""
    if not 0 < comment_id < 2**63:
        raise Http404
    params = {"comment": comment_id, "viewer": viewer.pk, "public": Visibility.PUBLIC}
    with rows.cursor() as db:
        db.execute(_comment_sql(), params)
        row = db.fetchone()
    if row is None:
        raise Http404
    comment, author, post, post_author, wall = rows.split(row, (Comment, User, Post, User, User))
    bunnies = {}
    comment, post = rows.build(Comment, comment), rows.build(Post, post)
    author, post_author, wall = (
        rows.build_shared(User, values, bunnies) for values in (author, post_author, wall)
    )
    Post.author.field.set_cached_value(post, post_author)
    Post.wall.field.set_cached_value(post, wall)
    Comment.author.field.set_cached_value(comment, author)
    Comment.post.field.set_cached_value(comment, post)
    return comment


def liked_comment_ids(viewer: User, comments: Iterable[Comment]) -> set[int]:
    return _liked_ids(CommentLike, "comment_id", viewer, [comment.pk for comment in comments])


def post_likers(viewer: User, post: Post, *, limit: int = 3) -> list[User]:
    """A few bunnies who liked the post, friends first, for "liked by Ann, Bob and 3 others"."""
    friends = Friendship.objects.friend_ids(viewer.pk)
    return list(
        bunnies_visible_to(viewer)
        .filter(pk__in=PostLike.objects.filter(post=post).values("user_id"))
        .annotate(is_friend=ExpressionWrapper(Q(pk__in=friends), output_field=BooleanField()))
        .order_by("-is_friend", "username")[:limit]
    )


# --- Pages of lists ---------------------------------------------------------------------

LIST_PAGE_SIZE = 50


def paginate_bunnies(bunnies: QuerySet[User], *, cursor: str | None) -> Page:
    return paginate(
        bunnies, cursor=cursor, size=LIST_PAGE_SIZE, order_field="username", descending=False
    )


def paginate_requests(requests: QuerySet[FriendRequest], *, cursor: str | None) -> Page:
    return paginate(requests, cursor=cursor, size=LIST_PAGE_SIZE)


def paginate_comments(comments: QuerySet[Comment], *, cursor: str | None) -> Page:
    return paginate(comments, cursor=cursor, size=LIST_PAGE_SIZE, descending=False)
