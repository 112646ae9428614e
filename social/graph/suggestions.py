""" "Bunnies you may know" and mutual friends: two stores behind one interface.

`Neo4jStore` asks the projection, `SqlStore` asks PostgreSQL (or SQLite) directly; both
return the same candidates in the same order. The graph returns ids and counts only:
`hydrate` loads profiles and sample names from SQL in one query, keeps the rank, and drops
anyone blocked, befriended, asked or dismissed meanwhile, so neither a stale graph nor a
stale cache can ever show one. Pages therefore let the graph rank without PostgreSQL's
exclusions (requests, blocks, dismissals), which would cost a round trip before asking it,
and fetch a margin of candidates instead (see `suggestions_for`). The Neo4j store is used
when configured and its circuit breaker is closed; any failure falls back to SQL for that
call.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from neo4j import Query

from accounts.models import User
from bunnybook import rows
from social import models, selectors
from social.graph import cypher
from social.graph.client import GraphUnavailable, graph_enabled, graph_session, query_timeout
from social.models import Block

logger = logging.getLogger(__name__)

DISMISS_FOR = timedelta(days=90)
MAX_LIMIT = 50
CACHE_TTL = 60  # seconds; both bunnies' entries are also dropped when their relation changes
SAMPLE_SIZE = 3
SLOW_QUERY_SECONDS = 0.1  # a Neo4j read slower than this is logged


@dataclass(frozen=True)
class Candidate:
    """What a store answers: a bunny id, its mutual-friend count and up to three mutual
    friends' ids (smallest first)."""

    user_id: int
    mutual_count: int
    sample_ids: tuple[int, ...] = ()


class SuggestionStore(Protocol):
    name: str

    def suggest(self, user_id: int, *, limit: int, exclusions: bool = True) -> list[Candidate]:
        """Friends of friends of `user_id` ranked by mutual count desc, then id asc; never
        the bunny, a friend, a pending request either way, a block either way or a
        bunny dismissed within DISMISS_FOR. With `exclusions=False` a store may leave in
        the last three (requests, blocks, dismissals) if they are not in its own data:
        `hydrate` drops them anyway, and asking PostgreSQL for them first would cost the
        graph store a round trip."""
        ...

    def mutual_friend_ids(self, user_id: int, other_id: int) -> list[int]:
        """Ids of the bunnies friends with both, ascending."""
        ...


def dismissed_since():
    return timezone.now() - DISMISS_FOR


# Portable SQL (PostgreSQL and SQLite), shared by the stores, hydration and the fallback.
# Written out rather than built with the ORM, whose building and compiling cost more than
# running them: hydration took 6 ms that way against 1.3 ms now (bench/, 50,000 bunnies).


FRIEND_IDS_SQL = models.named(models.FRIEND_IDS_SQL, "user_id")

# Never suggested beyond self and friends: pending requests either way, blocks either way,
# recent dismissals.
EXCLUDED_IDS_SQL = f"""
    SELECT to_user_id FROM social_friendrequest WHERE from_user_id = %(user_id)s
    UNION ALL SELECT from_user_id FROM social_friendrequest WHERE to_user_id = %(user_id)s
    UNION ALL {models.named(models.BLOCKED_IDS_SQL, "user_id")}
    UNION ALL SELECT dismissed_id FROM social_suggestiondismissal
        WHERE user_id = %(user_id)s AND dismissed_at > %(since)s
"""  # noqa: S608 - joined from constants; values are parameters


def _fetch(sql: str, params: dict) -> list[tuple]:
    with rows.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def excluded_ids(user_id: int) -> set[int]:
    """The ids of EXCLUDED_IDS_SQL, in one query."""
    return {
        row[0] for row in _fetch(EXCLUDED_IDS_SQL, {"user_id": user_id, "since": dismissed_since()})
    }


# --- The SQL store ----------------------------------------------------------------------------

# `paths` has one row per (mutual friend, candidate).
SQL_SUGGESTIONS = f"""
WITH friends(id) AS ({FRIEND_IDS_SQL}
), excluded(id) AS (
    SELECT id FROM friends
    UNION ALL {EXCLUDED_IDS_SQL}
), paths AS (
    SELECT f.id AS via, fr.user_b_id AS candidate
    FROM friends f JOIN social_friendship fr ON fr.user_a_id = f.id
    UNION ALL
    SELECT f.id, fr.user_a_id
    FROM friends f JOIN social_friendship fr ON fr.user_b_id = f.id
), ranked AS (
    SELECT candidate, COUNT(*) AS mutual_count
    FROM paths
    WHERE candidate <> %(user_id)s AND candidate NOT IN (SELECT id FROM excluded)
    GROUP BY candidate
    ORDER BY mutual_count DESC, candidate
    LIMIT %(limit)s
), sampled AS (
    SELECT p.candidate, p.via,
           ROW_NUMBER() OVER (PARTITION BY p.candidate ORDER BY p.via) AS position
    FROM paths p JOIN ranked r ON r.candidate = p.candidate
)
SELECT r.candidate, r.mutual_count, s.via
FROM ranked r JOIN sampled s ON s.candidate = r.candidate AND s.position <= %(sample)s
ORDER BY r.mutual_count DESC, r.candidate, s.via
"""  # noqa: S608 - joined from the constants above, values travel as parameters

SQL_MUTUAL_FRIEND_IDS = """
SELECT mine.id
FROM (
    SELECT user_b_id AS id FROM social_friendship WHERE user_a_id = %(user_id)s
    UNION ALL
    SELECT user_a_id FROM social_friendship WHERE user_b_id = %(user_id)s
) mine
JOIN (
    SELECT user_b_id AS id FROM social_friendship WHERE user_a_id = %(other_id)s
    UNION ALL
    SELECT user_a_id FROM social_friendship WHERE user_b_id = %(other_id)s
) theirs ON theirs.id = mine.id
ORDER BY mine.id
"""


class SqlStore:
    name = "sql"

    def suggest(self, user_id: int, *, limit: int, exclusions: bool = True) -> list[Candidate]:
        # Exclusions are always applied: in the same query, they cost nothing extra.
        params = {
            "user_id": user_id,
            "limit": limit,
            "since": dismissed_since(),
            "sample": SAMPLE_SIZE,
        }
        with rows.cursor() as cursor:
            cursor.execute(SQL_SUGGESTIONS, params)
            fetched = cursor.fetchall()
        candidates: list[Candidate] = []
        for candidate_id, mutual_count, via in fetched:
            if candidates and candidates[-1].user_id == candidate_id:
                last = candidates[-1]
                candidates[-1] = Candidate(candidate_id, mutual_count, (*last.sample_ids, via))
            else:
                candidates.append(Candidate(candidate_id, mutual_count, (via,)))
        return candidates

    def mutual_friend_ids(self, user_id: int, other_id: int) -> list[int]:
        if user_id == other_id:
            return []  # as in the graph, where a path never reuses a relationship
        with rows.cursor() as cursor:
            cursor.execute(SQL_MUTUAL_FRIEND_IDS, {"user_id": user_id, "other_id": other_id})
            return [row[0] for row in cursor.fetchall()]


# --- The Neo4j store --------------------------------------------------------------------------


class Neo4jStore:
    """Raises GraphUnavailable when Neo4j is off, down, too slow or behind an open breaker.

    `timeout` caps each query on the server; by default the short NEO4J_QUERY_TIMEOUT that
    pages can afford (a slower answer falls back to SQL). Commands and tests that want the
    graph's answer whatever the load may pass a longer one; slow queries are logged either
    way, so a longer cap never hides them."""

    name = "neo4j"

    def __init__(self, *, timeout: float | None = None):
        self.timeout = timeout

    def _answer(self, statement: str, **parameters) -> list:
        """The list that a read of `cypher` returns as its one record."""
        timeout = self.timeout if self.timeout is not None else query_timeout()
        started = time.monotonic()
        with graph_session() as session:
            result = session.run(Query(statement, timeout=timeout), **parameters)
            answer = result.single(strict=True)[0]
        elapsed = time.monotonic() - started
        if elapsed > SLOW_QUERY_SECONDS:
            logger.warning(
                "slow Neo4j read (%.0f ms): %s", elapsed * 1000, statement.strip().splitlines()[0]
            )
        return answer

    def suggest(self, user_id: int, *, limit: int, exclusions: bool = True) -> list[Candidate]:
        # Exclusions live in PostgreSQL only; the graph holds nothing but friendships.
        ranked = self._answer(
            cypher.SUGGESTIONS,
            user_id=user_id,
            exclude=sorted(excluded_ids(user_id)) if exclusions else [],
            limit=limit,
            sample=SAMPLE_SIZE,
        )
        return [Candidate(bunny_id, count, tuple(sample)) for bunny_id, count, sample in ranked]

    def mutual_friend_ids(self, user_id: int, other_id: int) -> list[int]:
        return self._answer(cypher.MUTUAL_FRIEND_IDS, user_id=user_id, other_id=other_id)


sql_store = SqlStore()
neo4j_store = Neo4jStore()  # what pages use: the short timeout


def _with_fallback(call, store: SuggestionStore | None = None):
    """Run `call(store)` on Neo4j when configured, on SQL if that fails or is skipped; or
    on the given `store` (benchmarks compare them on the same path)."""
    if store is not None:
        return call(store)
    if graph_enabled():
        try:
            return call(neo4j_store)
        except GraphUnavailable:
            pass
    return call(sql_store)


# --- Cache-aside ------------------------------------------------------------------------------

FETCH_SIZES = (20, MAX_LIMIT)  # a margin over the page: hydration may drop a few


def _fetch_size(limit: int) -> int:
    return next(size for size in FETCH_SIZES if size >= limit)


def _cache_key(user_id: int, fetch: int) -> str:
    return f"graph:suggest:v1:{user_id}:{fetch}"


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # a dead cache falls through to the store
        logger.warning("suggestion cache read failed", exc_info=True)
        return None


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, CACHE_TTL)
    except Exception:
        logger.warning("suggestion cache write failed", exc_info=True)


def forget_suggestions(user_ids: Iterable[int]) -> None:
    keys = [_cache_key(user_id, fetch) for user_id in set(user_ids) for fetch in FETCH_SIZES]
    try:
        cache.delete_many(keys)
    except Exception:  # entries then age out within CACHE_TTL
        logger.warning("suggestion cache invalidation failed", exc_info=True)


def forget_suggestions_on_commit(user_ids: Iterable[int]) -> None:
    ids = list(user_ids)
    transaction.on_commit(lambda: forget_suggestions(ids), robust=True)


def candidates_for(
    user_id: int,
    *,
    limit: int = 10,
    use_cache: bool = True,
    store: SuggestionStore | None = None,
) -> list[Candidate]:
    """Ranked candidates for the bunny: from the cache, else the store (cached after). They
    may still name bunnies with a pending request, a block or a dismissal (see
    SuggestionStore.suggest): `hydrate` drops those."""
    limit = max(1, min(limit, MAX_LIMIT))
    fetch = _fetch_size(limit)
    key = _cache_key(user_id, fetch)
    if use_cache and (cached := _cache_get(key)) is not None:
        return [Candidate(uid, count, tuple(sample)) for uid, count, sample in cached]
    candidates = _with_fallback(
        lambda store: store.suggest(user_id, limit=fetch, exclusions=False), store
    )
    if use_cache:
        _cache_set(key, [(c.user_id, c.mutual_count, list(c.sample_ids)) for c in candidates])
    return candidates


# --- Hydration --------------------------------------------------------------------------------


@dataclass
class Suggestion:
    user: User
    mutual_count: int = 0
    mutual_sample: list[User] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "mutual_friends" if self.mutual_count else "new_bunny"

    @property
    def why(self) -> str:
        """Why this bunny, as plain text (templates escape it), e.g.
        "3 mutual friends: Ann, Bob and Cid" or "5 mutual friends, including Ann, Bob and Cid".
        """
        count = self.mutual_count
        if not count:
            return "New on Bunnybook"
        names = [bunny.name for bunny in self.mutual_sample]
        noun = "mutual friend" if count == 1 else "mutual friends"
        if not names:
            return f"{count} {noun}"
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        joiner = ": " if len(names) == count else ", including "
        return f"{count} {noun}{joiner}{listed}"


# What a suggestion card shows, in the model's field order (as User.from_db wants them).
PROFILE_FIELDS = tuple(
    field.attname
    for field in User._meta.concrete_fields
    if field.attname in {"id", "username", "display_name", "bio", "avatar_seed", "is_active"}
)

# Visible bunnies among the listed ids (blocks filtered here, in SQL, whatever a store or a
# cache answered), each flagged with whether suggesting them is now ruled out.
SQL_PROFILES_WITH_RELATION = f"""
SELECT {", ".join(f"u.{name}" for name in PROFILE_FIELDS)},
    EXISTS (SELECT 1 FROM social_friendship f
            WHERE (f.user_a_id = %(user_id)s AND f.user_b_id = u.id)
               OR (f.user_a_id = u.id AND f.user_b_id = %(user_id)s)) AS is_friend,
    EXISTS (SELECT 1 FROM social_friendrequest r
            WHERE (r.from_user_id = %(user_id)s AND r.to_user_id = u.id)
               OR (r.from_user_id = u.id AND r.to_user_id = %(user_id)s)) AS is_pending,
    EXISTS (SELECT 1 FROM social_suggestiondismissal d
            WHERE d.user_id = %(user_id)s AND d.dismissed_id = u.id
              AND d.dismissed_at > %(since)s) AS is_dismissed
FROM accounts_user u
WHERE u.id IN ({{ids}}) AND u.is_active
  AND u.id NOT IN (SELECT blocked_id FROM social_block WHERE blocker_id = %(user_id)s)
  AND u.id NOT IN (SELECT blocker_id FROM social_block WHERE blocked_id = %(user_id)s)
"""  # noqa: S608 - joined from the constants above, values travel as parameters

SQL_NEW_BUNNIES = f"""
SELECT {", ".join(f"u.{name}" for name in PROFILE_FIELDS)}
FROM accounts_user u
WHERE u.is_active AND u.id <> %(user_id)s
  AND u.id NOT IN ({FRIEND_IDS_SQL})
  AND u.id NOT IN ({EXCLUDED_IDS_SQL})
ORDER BY u.date_joined DESC, u.id DESC
LIMIT %(limit)s
"""  # noqa: S608 - joined from the constants above, values travel as parameters


def _profile(row: Sequence) -> User:
    """A User with PROFILE_FIELDS loaded (the rest deferred), as the ORM's .only() makes."""
    return rows.build(User, row[: len(PROFILE_FIELDS)], PROFILE_FIELDS)


def _profiles_with_relation(viewer: User, ids: Iterable[int]) -> list[tuple[User, bool]]:
    """(bunny, ruled_out) for the visible bunnies among `ids`."""
    params = {"user_id": viewer.pk, "since": dismissed_since()}
    placeholders = []
    for index, user_id in enumerate(sorted(set(ids))):
        params[f"id{index}"] = user_id
        placeholders.append(f"%(id{index})s")
    sql = SQL_PROFILES_WITH_RELATION.format(ids=", ".join(placeholders))
    return [(_profile(row), any(row[len(PROFILE_FIELDS) :])) for row in _fetch(sql, params)]


def hydrate(viewer: User, candidates: Sequence[Candidate], *, limit: int) -> list[Suggestion]:
    """Profiles and sample names in one query, rank kept, ruled-out bunnies dropped. The
    first `limit` candidates are read first; the margin behind them only when some of
    those were ruled out (a second query)."""
    suggestions: list[Suggestion] = []
    for window in (candidates[:limit], candidates[limit:]):
        if not window or len(suggestions) == limit:
            break
        suggestions += _hydrate_window(viewer, window, limit=limit - len(suggestions))
    return suggestions


def _hydrate_window(viewer: User, candidates: Sequence[Candidate], *, limit: int):
    ids = {c.user_id for c in candidates} | {i for c in candidates for i in c.sample_ids}
    profiles = _profiles_with_relation(viewer, ids)
    by_id = {bunny.pk: bunny for bunny, _ in profiles}
    ruled_out = {bunny.pk for bunny, excluded in profiles if excluded} | {viewer.pk}
    suggestions = []
    for candidate in candidates:
        bunny = by_id.get(candidate.user_id)
        if bunny is None or bunny.pk in ruled_out:
            continue
        sample = [by_id[i] for i in candidate.sample_ids if i in by_id]
        suggestions.append(Suggestion(bunny, candidate.mutual_count, sample))
        if len(suggestions) == limit:
            break
    return suggestions


def new_bunnies_for(viewer: User, *, limit: int = 10) -> list[Suggestion]:
    """The fallback for a bunny with nobody to suggest: the most recently joined bunnies
    it could still befriend. One query."""
    fetched = _fetch(
        SQL_NEW_BUNNIES, {"user_id": viewer.pk, "since": dismissed_since(), "limit": limit}
    )
    return [Suggestion(_profile(row)) for row in fetched]


def suggestions_for(
    viewer: User,
    *,
    limit: int = 10,
    use_cache: bool = True,
    store: SuggestionStore | None = None,
) -> list[Suggestion]:
    """Top suggestions for the viewer, each with `mutual_count` and up to three mutual
    friends; when there are none (a bunny without friends), recently joined bunnies
    instead, recognisable by `reason == "new_bunny"`. `store` forces one store (benchmarks);
    by default Neo4j with the SQL fallback."""
    limit = max(1, min(limit, MAX_LIMIT))
    candidates = candidates_for(viewer.pk, limit=limit, use_cache=use_cache, store=store)
    suggestions = hydrate(viewer, candidates, limit=limit)
    if len(suggestions) < limit and len(candidates) >= _fetch_size(limit):
        # Ruled-out bunnies used up the whole margin and more may rank below: ask again
        # with the exclusions applied by the store. Rare: the margin is `limit` again.
        candidates = _with_fallback(
            lambda store: store.suggest(viewer.pk, limit=_fetch_size(limit)), store
        )
        suggestions = hydrate(viewer, candidates, limit=limit)
    return suggestions or new_bunnies_for(viewer, limit=limit)


# --- Mutual friends ---------------------------------------------------------------------------


def mutual_friend_ids(viewer: User, other: User) -> list[int]:
    """Ids of the bunnies friends with both, ascending; from Neo4j, or SQL as fallback.
    Not filtered for blocks: hydrate through `mutual_friends`."""
    if viewer.pk == other.pk:
        return []
    return _with_fallback(lambda store: store.mutual_friend_ids(viewer.pk, other.pk))


def mutual_friends_preview(viewer: User, other: User, *, limit: int) -> tuple[list[User], int]:
    """The first `limit` mutual friends by name that the viewer may see, and how many."""
    ids = mutual_friend_ids(viewer, other)
    if not ids:
        return [], 0
    listed = RawSQL(", ".join(["%s"] * len(ids)), ids)  # noqa: S611 - placeholders only
    return selectors.bunnies_preview(viewer, listed, limit=limit)


def mutual_friends(viewer: User, other: User) -> QuerySet[User]:
    """Drop-in for `selectors.mutual_friends`, served by the store: the visible bunnies
    that are friends of both."""
    return User.objects.filter(pk__in=mutual_friend_ids(viewer, other), is_active=True).exclude(
        pk__in=Block.objects.ids_blocked_with(viewer.pk)
    )
