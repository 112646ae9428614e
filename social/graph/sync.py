"""Keeping the Neo4j projection equal to PostgreSQL: the outbox (written with each change,
drained after commit and by `graph_sync`), the bulk rebuild and the edge-by-edge check.

Ordering: a pair's changes are serialised by the service's row locks, so its outbox ids
follow commit order. A drainer applies a pair's rows only when no earlier row of that pair
is still pending in another drainer's hands, so concurrent drainers never apply a pair's
changes out of order; within a batch only a pair's last row matters (rows state the
relation after the change), and a batch is one Neo4j transaction.
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import groupby, islice
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from social.graph import cypher
from social.graph.client import GraphUnavailable, graph_enabled, graph_session, query_timeout
from social.graph.models import GraphOutbox
from social.graph.suggestions import forget_suggestions_on_commit
from social.models import Friendship

logger = logging.getLogger(__name__)

DRAIN_BATCH = 500
LOAD_BATCH = 10_000
KEEP_DONE = timedelta(days=7)

Pair = tuple[int, int]
Progress = Callable[[int], None]


def _ordered(first_id: int, second_id: int) -> Pair:
    return (first_id, second_id) if first_id < second_id else (second_id, first_id)


# --- Writing the outbox (inside the service's transaction) ----------------------------------


def record_friendship_change(first_id: int, second_id: int, *, friends: bool) -> None:
    """Note that the pair now is (or is not) friends, in the caller's transaction, and push
    it to Neo4j once that transaction commits. Without Neo4j configured, nothing to feed."""
    if not graph_enabled():
        return
    user_a, user_b = _ordered(first_id, second_id)
    GraphOutbox.objects.create(
        user_a_id=user_a,
        user_b_id=user_b,
        op=GraphOutbox.Op.LINK if friends else GraphOutbox.Op.UNLINK,
    )
    _ring_the_bell()
    transaction.on_commit(lambda: push_pair_quietly((user_a, user_b)), robust=True)


# PostgreSQL delivers a NOTIFY when (and only if) its transaction commits, so the worker
# (`graph_sync --follow`) wakes for a change at once, even one whose after-commit push never
# ran (a web process that died right after its commit), instead of on its next poll.
OUTBOX_CHANNEL = "graph_outbox"
NOTIFY_OUTBOX = "NOTIFY graph_outbox"
LISTEN_OUTBOX = "LISTEN graph_outbox"


def _ring_the_bell() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(NOTIFY_OUTBOX)


def push_pair_quietly(pair: Pair) -> None:
    """After commit: apply the pair's pending rows now. Never raises: if Neo4j is down
    (or the breaker open) the rows wait for `graph_sync`."""
    try:
        drain(pair=pair)
    except Exception:  # the write is committed; the outbox row waits for graph_sync
        logger.warning("outbox push for pair %s deferred", pair, exc_info=True)


# --- Draining ---------------------------------------------------------------------------------


def _apply(session, rows: list[GraphOutbox]) -> None:
    """One Neo4j transaction for the batch; for each pair only its last row counts."""
    last_op: dict[Pair, str] = {}
    for row in rows:  # rows are in id order
        last_op[row.pair] = row.op
    links = [list(pair) for pair, op in last_op.items() if op == GraphOutbox.Op.LINK]
    unlinks = [list(pair) for pair, op in last_op.items() if op == GraphOutbox.Op.UNLINK]
    apply_pairs(session, links=links, unlinks=unlinks)


def apply_pairs(session, *, links: list[list[int]], unlinks: list[list[int]]) -> None:
    with session.begin_transaction(timeout=max(query_timeout(), 10.0)) as tx:
        if unlinks:
            tx.run(cypher.UNLINK_PAIRS, pairs=unlinks).consume()
        if links:
            tx.run(cypher.LINK_PAIRS, pairs=links).consume()
        tx.commit()


def _claim(batch_size: int, pair: Pair | None) -> list[GraphOutbox]:
    """Lock the oldest pending rows nobody else holds. A pair's row is kept only if no
    earlier row of that pair is pending in another drainer's hands; it waits otherwise."""
    rows = GraphOutbox.objects.pending().select_for_update(skip_locked=True).order_by("id")
    if pair is not None:
        rows = rows.filter(user_a_id=pair[0], user_b_id=pair[1])
    claimed = list(rows[:batch_size])
    if not claimed:
        return []
    foreign = (
        GraphOutbox.objects.pending()
        .filter(id__lt=claimed[-1].id)
        .exclude(id__in=[row.id for row in claimed])
        .values_list("id", "user_a_id", "user_b_id")
    )
    if pair is not None:  # the push after a commit: only its own pair matters
        foreign = foreign.filter(user_a_id=pair[0], user_b_id=pair[1])
    first_foreign: dict[Pair, int] = {}
    for row_id, user_a, user_b in foreign:
        first_foreign[(user_a, user_b)] = min(row_id, first_foreign.get((user_a, user_b), row_id))
    return [row for row in claimed if row.id < first_foreign.get(row.pair, row.id + 1)]


def drain(
    *, batch_size: int = DRAIN_BATCH, pair: Pair | None = None, use_breaker: bool = True
) -> int:
    """Apply one batch of pending outbox rows (optionally of one pair) and mark them done.
    Returns how many rows were applied. Raises GraphUnavailable, leaving the rows pending."""
    with transaction.atomic():
        rows = _claim(batch_size, pair)
        if not rows:
            return 0
        ids = [row.id for row in rows]
        try:
            with graph_session(write=True, use_breaker=use_breaker) as session:
                _apply(session, rows)
        except GraphUnavailable as exc:
            failure = str(exc)[:500]
        else:
            GraphOutbox.objects.filter(id__in=ids).update(
                done_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
            # The graph changed only now: a suggestion cached from it since the friendship
            # commit (which forgot them too) is stale.
            forget_suggestions_on_commit({user_id for row in rows for user_id in row.pair})
            return len(ids)
    # Outside the rolled-forward transaction: remember the failure for graph_check.
    GraphOutbox.objects.filter(id__in=ids).update(attempts=F("attempts") + 1, last_error=failure)
    raise GraphUnavailable(failure)


def drain_all(*, batch_size: int = DRAIN_BATCH, use_breaker: bool = True) -> int:
    """Drain until nothing is pending (rows held by another drainer are left to it)."""
    total = 0
    while applied := drain(batch_size=batch_size, use_breaker=use_breaker):
        total += applied
    return total


def pending_count() -> int:
    return GraphOutbox.objects.pending().count()


def prune_done(*, older_than: timedelta = KEEP_DONE) -> int:
    deleted, _ = GraphOutbox.objects.filter(done_at__lt=timezone.now() - older_than).delete()
    return deleted


class OutboxBell:
    """Waits for the next outbox change: LISTEN on the worker's PostgreSQL connection, so a
    commit wakes it at once; a plain sleep on other databases or while listening fails.
    Notifications that arrive while the worker drains are kept by psycopg (3.3 does; an
    older one may drop them, and the row then waits for the poll) and end the next wait at
    once; one drain answers them all."""

    def __init__(self):
        self._listening_on = None

    def listen(self):
        """The raw connection now listening, or None (not PostgreSQL, or it failed)."""
        if connection.vendor != "postgresql":
            return None
        try:
            connection.ensure_connection()
            raw = connection.connection
            if raw is not self._listening_on:  # a new connection: LISTEN is per connection
                with connection.cursor() as cursor:
                    cursor.execute(LISTEN_OUTBOX)
                self._listening_on = raw
            return raw
        except Exception:  # PostgreSQL away: sleep; the next drain will say why
            logger.debug("LISTEN %s failed", OUTBOX_CHANNEL, exc_info=True)
            self._listening_on = None
            return None

    def wait(self, seconds: float) -> None:
        raw = self.listen()
        if raw is None:
            time.sleep(seconds)
            return
        try:
            for _ in raw.notifies(timeout=seconds, stop_after=1):
                pass
            for _ in raw.notifies(timeout=0):  # the rest of a burst: one drain takes it all
                pass
        except Exception:
            logger.debug("waiting on %s failed", OUTBOX_CHANNEL, exc_info=True)
            self._listening_on = None
            time.sleep(seconds)


def follow(
    *,
    poll_seconds: float = 1.0,
    batch_size: int = DRAIN_BATCH,
    should_stop: Callable[[], bool] = lambda: False,
    on_applied: Progress | None = None,
) -> None:
    """Keep draining: apply whatever is pending; when idle, wait for the next commit's
    notification (at most `poll_seconds`, which also catches rows a failed push left);
    back off while Neo4j is down (the breaker decides when to probe again); prune old done
    rows now and then."""
    bell = OutboxBell()
    last_prune = 0.0
    while not should_stop():
        failed = False
        try:
            applied = drain(batch_size=batch_size)
        except GraphUnavailable:
            applied, failed = 0, True
        if applied and on_applied:
            on_applied(applied)
        if time.monotonic() - last_prune > 3600:
            prune_done()
            last_prune = time.monotonic()
        if failed:
            time.sleep(poll_seconds)  # not woken by every commit while Neo4j is away
        elif not applied:
            bell.wait(poll_seconds)


# --- Schema --------------------------------------------------------------------------------


def ensure_schema(*, use_breaker: bool = False) -> None:
    """Create the uniqueness constraint on Bunny.id (which also indexes it). Idempotent."""
    with graph_session(write=True, use_breaker=use_breaker) as session:
        session.run(cypher.CREATE_BUNNY_ID_CONSTRAINT).consume()


def ensure_schema_after_migrate(sender, **kwargs) -> None:
    """post_migrate handler (see SocialConfig.ready): every `migrate` also sets up Neo4j
    when it is configured; a Neo4j that is down only costs a warning."""
    if not graph_enabled():
        return
    try:
        ensure_schema()
    except GraphUnavailable as exc:
        logger.warning("Neo4j schema not created (run `manage.py graph_setup` later): %s", exc)


# --- Rebuild -------------------------------------------------------------------------------


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def clear_graph() -> None:
    with graph_session(write=True, use_breaker=False) as session:
        session.run(cypher.DELETE_ALL_FRIEND_EDGES).consume()
        session.run(cypher.DELETE_ALL_BUNNIES).consume()


def load_pairs(pairs: Iterable[Pair], *, batch_size: int = LOAD_BATCH, progress=None) -> int:
    """Into a graph just emptied: MERGE the nodes of `pairs` (each once) and CREATE their
    FRIEND edges, `batch_size` per transaction. `pairs` must be distinct (Friendship's
    primary key makes them so: a pair listed twice would be linked twice) and are best
    sorted by their first id, which groups them (one index lookup per group, not per pair).

    Pipelined: while Neo4j runs one batch, the next is read from PostgreSQL and packed."""
    loaded = 0
    seen: set[int] = set()
    running = None  # (transaction, result, size) of the batch Neo4j is working on

    def finish(batch) -> None:
        tx, result, size = batch
        result.consume()
        tx.commit()
        if progress:
            progress(size)

    timeout = max(query_timeout(), 60.0)
    with graph_session(write=True, use_breaker=False) as session:
        try:
            for chunk in _chunks(pairs, batch_size):
                new_ids = sorted({user_id for pair in chunk for user_id in pair} - seen)
                seen.update(new_ids)
                rows = [
                    [user_a, [user_b for _, user_b in group]]
                    for user_a, group in groupby(chunk, key=itemgetter(0))
                ]
                if running:
                    finish(running)
                    running = None
                tx = session.begin_transaction(timeout=timeout)
                if new_ids:
                    tx.run(cypher.MERGE_BUNNIES, ids=new_ids).consume()
                # run() returns once Neo4j has started; the loop packs the next batch.
                running = (tx, tx.run(cypher.CREATE_FRIENDS_OF, rows=rows), len(chunk))
                loaded += len(chunk)
            if running:
                finish(running)
                running = None
        finally:
            if running:
                running[0].close()  # rolled back
    return loaded


def friendship_pairs(*, batch_size: int = LOAD_BATCH) -> Iterator[Pair]:
    """Every friendship as (smaller id, larger id), sorted, read through a server-side
    cursor (PostgreSQL) in one snapshot: call inside a transaction. The rows skip the ORM,
    whose per-row cost was most of the reading time (8 s of 10 s for 2.5M rows)."""
    query = Friendship.objects.order_by("user_a_id", "user_b_id").values_list(
        "user_a_id", "user_b_id"
    )
    sql, params = query.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_size):
            yield from rows


REPLAY_MARGIN = timedelta(minutes=5)


def rebuild(*, batch_size: int = LOAD_BATCH, progress: Progress | None = None) -> dict:
    """Replace the projection with PostgreSQL's friendships (emptied, then bulk-created),
    then replay every pair changed while it ran (its last outbox row), so writes made
    meanwhile are not lost and a pair both pushed and loaded is not linked twice."""
    started = timezone.now()
    ensure_schema()
    clear_graph()
    with transaction.atomic():
        pairs = friendship_pairs(batch_size=batch_size)
        loaded = load_pairs(pairs, batch_size=batch_size, progress=progress)
    replayed = replay_since(started - REPLAY_MARGIN)
    drained = drain_all(use_breaker=False)
    return {"edges": loaded, "replayed_pairs": replayed, "drained": drained}


def replay_since(since) -> int:
    """Re-apply the latest outbox row of every pair changed since `since`, pushed since then
    or still pending (a push may have linked it in the emptied graph before the load created
    it too: such pairs lose their extra copy first)."""
    changed = Q(created_at__gte=since) | Q(done_at__gte=since) | Q(done_at__isnull=True)
    latest_ids = (
        GraphOutbox.objects.filter(changed)
        .values("user_a_id", "user_b_id")
        .annotate(last_id=Max("id"))
        .values_list("last_id", flat=True)
    )
    rows = list(GraphOutbox.objects.filter(id__in=list(latest_ids)).order_by("id"))
    if rows:
        with graph_session(write=True, use_breaker=False) as session:
            for chunk in _chunks(rows, LOAD_BATCH):
                pairs = [list(row.pair) for row in chunk]
                session.run(cypher.DELETE_DUPLICATE_EDGES, pairs=pairs).consume()
                _apply(session, chunk)
    return len(rows)


# --- Check and repair ----------------------------------------------------------------------


@dataclass
class CheckReport:
    sql_edges: int = 0
    graph_edges: int = 0
    pending_outbox: int = 0
    compared_users: int | None = None  # None: every edge was compared
    missing: list[Pair] = field(default_factory=list)  # in PostgreSQL, not in Neo4j
    extra: list[Pair] = field(default_factory=list)  # in Neo4j, not in PostgreSQL
    duplicates: list[Pair] = field(default_factory=list)  # pairs linked more than once
    repaired: bool = False

    @property
    def in_sync(self) -> bool:
        return not self.missing and not self.extra and not self.duplicates

    def as_dict(self) -> dict:
        return {
            "sql_edges": self.sql_edges,
            "graph_edges": self.graph_edges,
            "pending_outbox": self.pending_outbox,
            "compared_users": self.compared_users,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "duplicates": len(self.duplicates),
            "in_sync": self.in_sync,
            "repaired": self.repaired,
        }


def _sql_edges_in_range(low: int, high: int) -> set[Pair]:
    return set(
        Friendship.objects.filter(user_a_id__gte=low, user_a_id__lt=high).values_list(
            "user_a_id", "user_b_id"
        )
    )


def _graph_edges_in_range(session, low: int, high: int) -> list[Pair]:
    """As a list: a pair linked twice shows up twice."""
    result = session.run(cypher.EDGES_IN_RANGE, low=low, high=high)
    return [(record["a"], record["b"]) for record in result]


def _sample_user_ranges(sample: int) -> list[tuple[int, int]]:
    """Single-id ranges for up to `sample` random bunnies that have friends: the smaller
    ends of the friendships found at random points of the primary key, an index seek each
    (sorting the whole table at random took 5 s at 25 million friendships)."""
    bounds = Friendship.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return []
    rows = Friendship.objects.order_by("pk").values_list("user_a_id", flat=True)
    ids = {
        rows.filter(pk__gte=random.randint(bounds["low"], bounds["high"])).first()  # noqa: S311
        for _ in range(sample)
    }
    return [(user_id, user_id + 1) for user_id in sorted(ids)]


def _full_ranges(step: int) -> list[tuple[int, int]]:
    """Ranges of `step` edge-owning ids each, over the ids of both stores: ids can be
    sparse, so walking fixed-width windows from zero could mean billions of empty ones."""
    with graph_session(use_breaker=False) as session:
        owners = {record["id"] for record in session.run(cypher.EDGE_OWNER_IDS)}
    owners.update(Friendship.objects.values_list("user_a_id", flat=True).distinct())
    return [(chunk[0], chunk[-1] + 1) for chunk in _chunks(sorted(owners), step)]


def check(
    *,
    full: bool = False,
    sample: int = 200,
    users: Iterable[int] | None = None,
    repair: bool = False,
    range_size: int = 5000,
    progress: Progress | None = None,
) -> CheckReport:
    """Compare PostgreSQL and Neo4j: edge counts, then every edge (`full`), the edges of
    the given `users`, or those of `sample` random bunnies (an edge belongs to its smaller
    id); with `repair`, add what is missing and delete what is extra. Pairs with pending
    outbox rows are left to the drain. Raises GraphUnavailable."""
    report = CheckReport(pending_outbox=pending_count())
    report.sql_edges = Friendship.objects.count()
    with graph_session(use_breaker=False) as session:
        report.graph_edges = session.run(cypher.COUNT_FRIEND_EDGES).single()["edges"]
    if users is not None:
        ranges = [(user_id, user_id + 1) for user_id in sorted(set(users))]
    elif full:
        ranges = _full_ranges(range_size)
    else:
        ranges = _sample_user_ranges(sample)
    report.compared_users = None if full and users is None else len(ranges)
    pending_pairs = set(GraphOutbox.objects.pending().values_list("user_a_id", "user_b_id"))
    with graph_session(use_breaker=False) as session:
        for low, high in ranges:
            sql = _sql_edges_in_range(low, high)
            graph_list = _graph_edges_in_range(session, low, high)
            graph = set(graph_list)
            if len(graph) < len(graph_list):
                counts = Counter(graph_list)
                report.duplicates += sorted(p for p, copies in counts.items() if copies > 1)
            report.missing += sorted(sql - graph - pending_pairs)
            report.extra += sorted(graph - sql - pending_pairs)
            if progress:
                progress(1)
    if repair and not report.in_sync:
        with graph_session(write=True, use_breaker=False) as session:
            for chunk in _chunks(report.missing, LOAD_BATCH):
                apply_pairs(session, links=[list(p) for p in chunk], unlinks=[])
            for chunk in _chunks(report.extra, LOAD_BATCH):
                apply_pairs(session, links=[], unlinks=[list(p) for p in chunk])
            for chunk in _chunks(report.duplicates, LOAD_BATCH):
                session.run(cypher.DELETE_DUPLICATE_EDGES, pairs=[list(p) for p in chunk]).consume()
        report.repaired = True
    return report


def graph_edges() -> set[Pair]:
    """Every FRIEND edge in Neo4j as an ordered pair; for tests and small graphs."""
    with graph_session(use_breaker=False) as session:
        return set(_graph_edges_in_range(session, -(2**62), 2**62))
