"""The seeding algorithm: a believable network of any size, the same for the same seed.

Bunnies live in friend groups ("warrens") of K+1 to 2K+1 neighbours in id order. Inside a
warren each pair is friends with a probability that gives about 3/4 of K friends; the
rest of K are links to nearby warrens (mostly) or anywhere (a few), so friends of friends
exist and suggestions have something to rank. A few unlinked pairs inside a warren have a
pending request. Every warren has its own random stream, seeded by (seed, warren), so a
later phase regenerates a warren's friendships in a second instead of keeping millions of
edges in memory: posts go on one's own wall or an in-warren friend's, and comments, likes
and conversations come from the wall owner's in-warren friends, who may all see them.

Rows stream into bulk writers (COPY on PostgreSQL); ids are assigned here, from the
tables' current maximum, so rows can point at each other before they are written.
"""

import time
import uuid
from array import array
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, Message, Participant
from social.graph import sync as graph_sync
from social.graph.client import GraphUnavailable, graph_enabled
from social.models import Comment, CommentLike, FriendRequest, Friendship, Post, PostLike
from social.seeding import text
from social.seeding.writers import BulkWriter, build_indexes, drop_indexes, make_writer

SEED_PASSWORD = "hop-hop-carrot"  # noqa: S105 - printed by the command on purpose
DAY = 24 * 60 * 60
IN_WARREN_SHARE = 0.75  # of K; the rest links to other warrens
NEARBY_SHARE = 0.7  # of those: to a warren close by, the others anywhere
PUBLIC_SHARE = 0.3
FRIENDS_WALL_SHARE = 0.2
BIO_SHARE = 0.6
LIMITS = {"users": 10_000_000, "posts": 1000, "comments": 1000, "likes": 1000, "messages": 1000}

# What the seeder fills per table (other columns get their model defaults).
USER_COLUMNS = [
    *("id", "password", "username", "email", "display_name", "bio", "avatar_seed"),
    "date_joined",
]
POST_COLUMNS = [
    *("id", "author", "wall", "body", "visibility", "created_at", "like_count"),
    "comment_count",
]

SEEDED_MODELS = [
    User,
    Friendship,
    FriendRequest,
    Post,
    Comment,
    PostLike,
    CommentLike,
    Conversation,
    Participant,
    Message,
]

Advance = Callable[[int], None]
Progress = Callable[[str, int], AbstractContextManager[Advance]]


class SeedError(ValueError):
    """Bad arguments; raised before anything is written."""


@contextmanager
def no_progress(phase: str, total: int) -> Iterator[Advance]:
    yield lambda n: None


@dataclass(frozen=True)
class SeedPlan:
    users: int
    friends: int = 20  # K: average friends per bunny
    posts: int = 3  # average posts per bunny
    comments: int = 2  # average comments per post
    likes: int = 3  # average likes per post
    messages: int = 5  # average messages per conversation (about one per bunny)
    seed: int = 1
    password: str = SEED_PASSWORD

    def check(self) -> None:
        problems = []
        for name in ("users", "friends", "posts", "comments", "likes", "messages"):
            value = getattr(self, name)
            if value < 0:
                problems.append(f"--{name} must not be negative (got {value})")
            elif value > LIMITS.get(name, value):
                problems.append(f"--{name} must be at most {LIMITS[name]} (got {value})")
        if self.users < 1:
            problems.append("--users must be at least 1")
        elif self.friends >= self.users:
            problems.append(
                f"--friends K must be smaller than --users N, since a bunny can have at most "
                f"N-1 friends (got K={self.friends}, N={self.users})"
            )
        if not self.password:
            problems.append("--password must not be empty")
        if problems:
            raise SeedError("; ".join(problems))


@dataclass
class SeedReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    graph: str = "not synced"

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def database_seconds(self) -> float:
        return sum(seconds for phase, seconds in self.seconds.items() if phase != "graph")

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.database_seconds if self.database_seconds else 0.0


def _next_id(model) -> int:
    """The first id of the rows we add: past every id the table has held, so no deleted
    bunny's id (in sessions, the graph or the outbox) ever comes back. A fresh database
    starts at 1, which makes the same seed give the same ids."""
    after_rows = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    if connection.vendor != "postgresql":
        return after_rows
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s))",
            [model._meta.db_table, model._meta.pk.column],
        )
        return max(after_rows, cursor.fetchone()[0])


class _Seeder:
    def __init__(self, plan: SeedPlan, writer: BulkWriter, now: datetime):
        self.plan, self.writer, self.now = plan, writer, now
        self.user_base = _next_id(User)
        self.post_id = _next_id(Post)
        self.comment_id = _next_id(Comment)
        self.conversation_id = _next_id(Conversation)
        self.message_id = _next_id(Message)
        self.warrens = self._warrens()
        self.words = text.Phrasebook(self.rng("words"))
        self.warren_of = array("l", bytes(8 * plan.users))
        for number, (start, size) in enumerate(self.warrens):
            for index in range(start, start + size):
                self.warren_of[index] = number

    def rng(self, *parts) -> Random:
        # Seeded on purpose (the same network for the same seed); nothing secret is drawn.
        return Random(":".join(map(str, (self.plan.seed, *parts))))  # noqa: S311

    def ago(self, rand, days: float) -> datetime:
        return self.now - timedelta(seconds=rand() * days * DAY)

    def _warrens(self) -> list[tuple[int, int]]:
        rng, k, n = self.rng("warrens"), self.plan.friends, self.plan.users
        warrens, start = [], 0
        while start < n:
            size = min(rng.randint(k + 1, 2 * k + 1), n - start)
            warrens.append((start, size))
            start += size
        return warrens

    def links(self, number: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The warren's friendships and pending requests, as member offsets; the same
        every time for the same seed and warren."""
        _, size = self.warrens[number]
        if size < 2 or self.plan.friends == 0:
            return [], []
        rng = self.rng("links", number)
        rand = rng.random
        p = min(0.9, IN_WARREN_SHARE * self.plan.friends / (size - 1))
        spare = (size - 1) * (1 - p)
        request_cut = p + (1 - p) * min(1.0, 0.6 / spare) if spare > 0 else p
        friends, requests = [], []
        for a in range(size):
            for b in range(a + 1, size):
                draw = rand()
                if draw < p:
                    friends.append((a, b))
                elif draw < request_cut:
                    requests.append((a, b) if rand() < 0.5 else (b, a))
        return friends, requests

    def neighbours(self, number: int) -> list[list[int]]:
        _, size = self.warrens[number]
        found: list[list[int]] = [[] for _ in range(size)]
        for a, b in self.links(number)[0]:
            found[a].append(b)
            found[b].append(a)
        return found

    # --- phases (hot loops: random() and local names instead of choice()/sample())

    def bunnies(self, advance: Advance) -> None:
        table = self.writer.declare(
            User,
            USER_COLUMNS,
        )
        password = make_password(self.plan.password)  # ~0.6 s a hash: once, for everyone
        rng = self.rng("bunnies")
        rand, bits, add, bios = rng.random, rng.getrandbits, self.writer.add, self.words.bios
        for index in range(self.plan.users):
            user_id = self.user_base + index
            username, name = text.names(rand, user_id)
            bio = text.pick(bios, rand) if rand() < BIO_SHARE else ""
            email = f"{username}@seed.bunnybook.localhost"
            joined = self.now - timedelta(seconds=rand() * 365 * DAY)
            add(table, (user_id, password, username, email, name, bio, bits(31), joined))
            if index % 1000 == 999:
                advance(1000)
        advance(self.plan.users % 1000)

    def friendships(self, advance: Advance) -> None:
        friends = self.writer.declare(Friendship, ["user_a", "user_b", "created_at"])
        requests = self.writer.declare(FriendRequest, ["from_user", "to_user", "created_at"])
        rng = self.rng("friendships")
        rand, add, ago = rng.random, self.writer.add, self.ago
        cross = self.plan.friends * (1 - IN_WARREN_SHARE) / 2  # links each bunny starts
        whole, part = int(cross), cross - int(cross)
        reach = 3 * self.plan.users / len(self.warrens)  # "nearby": a few warrens away
        n, base, seen = self.plan.users, self.user_base, set()
        for number, (start, size) in enumerate(self.warrens):
            in_warren, pending = self.links(number)
            first = base + start
            for a, b in in_warren:
                add(friends, (first + a, first + b, ago(rand, 365)))
            for a, b in pending:
                add(requests, (first + a, first + b, ago(rand, 14)))
            for i in range(start, start + size):
                for _ in range(whole + (rand() < part)):
                    if rand() < NEARBY_SHARE:
                        step = int(rng.expovariate(1 / reach)) + 1
                        j = i + step if rand() < 0.5 else i - step
                    else:
                        j = int(rand() * n)
                    if not 0 <= j < n or self.warren_of[j] == number:
                        continue
                    low, high = (i, j) if i < j else (j, i)
                    if low * n + high not in seen:
                        seen.add(low * n + high)
                        add(friends, (base + low, base + high, ago(rand, 365)))
            advance(size)

    def posts(self, advance: Advance) -> None:
        plan, add, words = self.plan, self.writer.add, self.words
        posts = self.writer.declare(
            Post,
            POST_COLUMNS,
        )
        comments = self.writer.declare(
            Comment, ["id", "post", "author", "body", "created_at", "like_count"]
        )
        post_likes = self.writer.declare(PostLike, ["post", "user", "created_at"])
        comment_likes = self.writer.declare(CommentLike, ["comment", "user", "created_at"])
        post_span, comment_span, like_span = (
            2 * plan.posts + 1,
            2 * plan.comments + 1,
            (2 * plan.likes + 1),
        )
        for number, (start, size) in enumerate(self.warrens):
            rand = self.rng("posts", number).random
            neighbours = self.neighbours(number)
            first = self.user_base + start
            for author in range(size):
                for _ in range(int(rand() * post_span)):
                    own = neighbours[author]
                    wall = (
                        author if not own or rand() >= FRIENDS_WALL_SHARE else text.pick(own, rand)
                    )
                    circle = [wall, *neighbours[wall]]  # who may see a friends-only post
                    age = rand() * 60 * DAY
                    created = self.now - timedelta(seconds=age)
                    post_id, self.post_id = self.post_id, self.post_id + 1
                    replies = int(rand() * comment_span)
                    for offset in sorted(rand() * age for _ in range(replies)):
                        comment_id, self.comment_id = self.comment_id, self.comment_id + 1
                        when = created + timedelta(seconds=offset)
                        likers = _distinct(circle, int(rand() * 2.5) if rand() < 0.4 else 0, rand)
                        for liker in likers:
                            add(comment_likes, (comment_id, first + liker, when))
                        commenter = first + text.pick(circle, rand)
                        body = text.pick(words.comments, rand)
                        add(comments, (comment_id, post_id, commenter, body, when, len(likers)))
                    likers = _distinct(circle, int(rand() * like_span), rand)
                    for liker in likers:
                        add(post_likes, (post_id, first + liker, created))
                    add(
                        posts,
                        (
                            post_id,
                            first + author,
                            first + wall,
                            text.pick(words.posts, rand),
                            "public" if rand() < PUBLIC_SHARE else "friends",
                            created,
                            len(likers),
                            replies,
                        ),
                    )
            advance(size)

    def conversations(self, advance: Advance) -> None:
        add, span, words = self.writer.add, 2 * self.plan.messages - 1, self.words
        conversations = self.writer.declare(
            Conversation,
            ["id", "kind", "pair_key", "created_at", "last_activity_at", "last_message"],
        )
        participants = self.writer.declare(
            Participant, ["conversation", "user", "joined_at", "last_read_message_id"]
        )
        messages = self.writer.declare(
            Message, ["id", "conversation", "sender", "body", "client_id", "created_at"]
        )
        for number, (start, size) in enumerate(self.warrens):
            rng = self.rng("chat", number)
            rand, first = rng.random, self.user_base + start
            pairs = self.links(number)[0]
            share = min(1.0, size / (2 * len(pairs))) if pairs else 0.0  # ~1 chat a bunny
            for a, b in pairs:
                if rand() >= share:
                    continue
                talk, self.conversation_id = self.conversation_id, self.conversation_id + 1
                users = (first + a, first + b)
                when = self.ago(rand, 30)
                ids = []
                for _ in range(1 + int(rand() * span)):
                    ids.append(self.message_id)
                    self.message_id += 1
                    when = min(self.now, when + timedelta(seconds=rng.expovariate(1 / 600)))
                    client_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                    sender = users[rand() < 0.5]
                    body = text.pick(words.messages, rand)
                    add(messages, (ids[-1], talk, sender, body, client_id, when))
                opened = when - timedelta(minutes=1)
                pair_key = f"{users[0]}:{users[1]}"
                add(conversations, (talk, "direct", pair_key, opened, when, ids[-1]))
                # One has read everything; the other may have a few unread.
                add(participants, (talk, users[0], opened, ids[-1]))
                read = ids[max(0, len(ids) - 1 - int(rand() * 3))]
                add(participants, (talk, users[1], opened, read))
            advance(size)


def _distinct(items: list[int], count: int, rand) -> list[int]:
    """`count` different items (fewer if there are not that many), drawn with `rand`."""
    if count >= len(items):
        return list(items)
    picked: list[int] = []
    while len(picked) < count:
        item = items[int(rand() * len(items))]
        if item not in picked:
            picked.append(item)
    return picked


@dataclass
class _Run:
    plan: SeedPlan
    writer: BulkWriter
    progress: Progress
    report: SeedReport

    def timed(self, name: str, total: int, work: Callable[[Advance], None]) -> None:
        started = time.perf_counter()
        with self.progress(name, total) as advance:
            work(advance)
        self.writer.flush()
        self.report.seconds[name] = self.report.seconds.get(name, 0.0) + (
            time.perf_counter() - started
        )

    def load(self) -> None:
        """Everything that writes, inside the caller's transaction."""
        seeder = _Seeder(self.plan, self.writer, timezone.now())
        started = time.perf_counter()
        rebuild = drop_indexes(SEEDED_MODELS)  # built back below, after the load
        self.report.seconds["indexes"] = time.perf_counter() - started
        self.timed("bunnies", self.plan.users, seeder.bunnies)
        self.timed("friendships", self.plan.users, seeder.friendships)
        self.timed("posts", self.plan.users, seeder.posts)
        if self.plan.messages:
            self.timed("conversations", self.plan.users, seeder.conversations)
        self.timed("indexes", len(rebuild), lambda advance: build_indexes(rebuild, advance))
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), SEEDED_MODELS):
                cursor.execute(statement)

    def analyze(self) -> None:
        """Fresh planner statistics for the grown tables (after commit)."""
        if connection.vendor != "postgresql":
            return
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in SEEDED_MODELS:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        self.report.seconds["analyze"] = time.perf_counter() - started

    def sync_graph(self) -> None:
        if not graph_enabled():
            self.report.graph = "Neo4j not configured (suggestions use SQL)"
            return
        edges = self.report.rows.get("social.Friendship", 0)
        started = time.perf_counter()
        try:
            with self.progress("graph", edges) as advance:
                outcome = graph_sync.rebuild(progress=advance)
        except GraphUnavailable as exc:
            self.report.graph = f"not synced, Neo4j unavailable ({exc}); run graph_rebuild"
        else:
            self.report.graph = f"loaded {outcome['edges']:,} friendships into Neo4j"
        self.report.seconds["graph"] = time.perf_counter() - started


def seed_network(
    plan: SeedPlan, *, progress: Progress = no_progress, graph: bool = True
) -> SeedReport:
    """Add a network of `plan.users` bunnies to the database in one transaction, then load
    all friendships into Neo4j in bulk (when configured and `graph`). Raises SeedError for
    bad arguments before writing anything."""
    plan.check()
    run = _Run(plan=plan, writer=make_writer(), progress=progress, report=SeedReport())
    try:
        with transaction.atomic():
            run.load()
    finally:
        run.writer.close()
    for table in run.writer.tables.values():
        run.report.rows[table.model._meta.label] = table.written
    run.analyze()
    if graph:
        run.sync_graph()
    return run.report


FINGERPRINTED = [
    (User, ["username", "email", "display_name", "bio", "avatar_seed"]),
    (Friendship, ["user_a_id", "user_b_id"]),
    (FriendRequest, ["from_user_id", "to_user_id"]),
    (Post, ["id", "author_id", "wall_id", "body", "visibility", "like_count", "comment_count"]),
    (Comment, ["id", "post_id", "author_id", "body", "like_count"]),
    (PostLike, ["post_id", "user_id"]),
    (CommentLike, ["comment_id", "user_id"]),
    (Conversation, ["pair_key", "last_message_id"]),
    (Participant, ["conversation_id", "user_id", "last_read_message_id"]),
    (Message, ["id", "conversation_id", "sender_id", "body", "client_id"]),
]


def network_fingerprint() -> str:
    """A hash of the whole network (not of times or of ids nothing points at): equal for
    two databases that hold the same bunnies, relations, posts and messages."""
    import hashlib

    digest = hashlib.sha256()
    for model, fields in FINGERPRINTED:
        rows = model.objects.order_by(*fields).values_list(*fields).iterator(chunk_size=5000)
        for row in rows:
            digest.update(repr(row).encode())
        digest.update(b"|")
    return digest.hexdigest()
