"""Keeping the Neo4j projection equal to PostgreSQL: the outbox (written with each change,
drained after commit and by `graph_sync`), the bulk rebuild and the edge-by-edge check.

Ordering: a pair's changes are serialised by the service's row locks, so its outbox ids
follow commit order. A drainer applies a pair's rows only when no earlier row of that pair
is still pending in another drainer's hands, so concurrent drainers never apply a pair's
changes out of order; within a batch only a pair's last row matters (rows state the
relation after the change), and a batch is one Neo4j transaction.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from social.graph import cypher
from social.graph.client import GraphUnavailable, graph_enabled, graph_session, query_timeout
from social.graph.models import GraphOutbox
from social.graph.suggestions import forget_suggestions_on_commit
from social.models import Friendship

logger = logging.getLogger(__name__)

DRAIN_BATCH = 500
LOAD_BATCH = 5000
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
    transaction.on_commit(lambda: push_pair_quietly((user_a, user_b)), robust=True)


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


def follow(
    *,
    poll_seconds: float = 1.0,
    batch_size: int = DRAIN_BATCH,
    should_stop: Callable[[], bool] = lambda: False,
    on_applied: Progress | None = None,
) -> None:
    """Keep draining: apply whatever is pending, sleep when idle, back off while Neo4j is
    down (the breaker decides when to probe again), prune old done rows now and then."""
    last_prune = 0.0
    while not should_stop():
        try:
            applied = drain(batch_size=batch_size)
        except GraphUnavailable:
            applied = 0
        if applied and on_applied:
            on_applied(applied)
        if time.monotonic() - last_prune > 3600:
            prune_done()
            last_prune = time.monotonic()
        if not applied:
            time.sleep(poll_seconds)


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
    """MERGE nodes and FRIEND edges for `pairs`, thousands per round trip."""
    loaded = 0
    with graph_session(write=True, use_breaker=False) as session:
        for chunk in _chunks(pairs, batch_size):
            ids = sorted({user_id for pair in chunk for user_id in pair})
            rows = [list(pair) for pair in chunk]

            def write(tx, ids=ids, rows=rows):
                tx.run(cypher.MERGE_BUNNIES, ids=ids).consume()
                tx.run(cypher.LINK_EXISTING_PAIRS, pairs=rows).consume()

            session.execute_write(write)
            loaded += len(chunk)
            if progress:
                progress(len(chunk))
    return loaded


REPLAY_MARGIN = timedelta(minutes=5)


def rebuild(*, batch_size: int = LOAD_BATCH, progress: Progress | None = None) -> dict:
    """Replace the projection with PostgreSQL's friendships, then replay every pair changed
    while it ran (its last outbox row), so writes made meanwhile are not lost."""
    started = timezone.now()
    ensure_schema()
    clear_graph()
    with transaction.atomic():
        # One snapshot for the whole read: a server-side cursor inside a transaction.
        pairs = (
            Friendship.objects.order_by("user_a_id", "user_b_id")
            .values_list("user_a_id", "user_b_id")
            .iterator(chunk_size=batch_size)
        )
        loaded = load_pairs(pairs, batch_size=batch_size, progress=progress)
    replayed = replay_since(started - REPLAY_MARGIN)
    drained = drain_all(use_breaker=False)
    return {"edges": loaded, "replayed_pairs": replayed, "drained": drained}


def replay_since(since) -> int:
    """Re-apply the latest outbox row of every pair changed since `since`."""
    latest_ids = (
        GraphOutbox.objects.filter(created_at__gte=since)
        .values("user_a_id", "user_b_id")
        .annotate(last_id=Max("id"))
        .values_list("last_id", flat=True)
    )
    rows = list(GraphOutbox.objects.filter(id__in=list(latest_ids)).order_by("id"))
    if rows:
        with graph_session(write=True, use_breaker=False) as session:
            for chunk in _chunks(rows, LOAD_BATCH):
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
    """Single-id ranges for `sample` random bunnies that have friends."""
    ids = Friendship.objects.order_by("?").values_list("user_a_id", flat=True)[:sample]
    return [(user_id, user_id + 1) for user_id in sorted(set(ids))]


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
