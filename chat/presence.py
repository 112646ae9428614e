"""Presence: which bunnies have an open socket, kept with TTL heartbeats, never in the database.

Each bunny has a sorted set of her sockets' channel names scored by their last heartbeat;
she is online while any score is fresher than PRESENCE_TTL, so several tabs count once and a
dead server's sockets simply age out. An index set scores every online bunny by her newest
heartbeat, so a periodic sweep finds bunnies whose sockets all lapsed. Every transition
(first socket opens, last one closes or lapses) is reported exactly once, because each is
decided inside one atomic step (a Lua script on Redis, a lock in-process).

With CACHE_URL set the store lives in that Redis server (shared by every server process);
without it, an in-process store serves the embedded single-process default.
"""

import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings

logger = logging.getLogger(__name__)

USERS_KEY = "presence:users"
SWEEP_LOCK_KEY = "presence:sweep"

# KEYS: user's socket set, index. ARGV: channel, now, cutoff, key ttl (ms), user id.
# Returns how many live sockets the bunny had before this one was (re)scored.
_TOUCH = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local before = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then before = before - 1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
return before
"""

# KEYS: user's socket set, index. ARGV: channel, cutoff, user id.
# Returns 1 when this was the bunny's last live socket.
_REMOVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return removed
end
return 0
"""

# KEYS: user's socket set, index. ARGV: cutoff, user id.
# Returns 1 when every socket of the bunny has lapsed (she just went offline).
_EXPIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[2])
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], newest[2], ARGV[2])
return 0
"""


def _user_key(user_id: int) -> str:
    return f"presence:u:{user_id}"


def _ttl() -> float:
    return settings.PRESENCE_TTL


class RedisPresenceStore:
    def __init__(self, client):
        self.client = client
        self._touch = client.register_script(_TOUCH)
        self._remove = client.register_script(_REMOVE)
        self._expire = client.register_script(_EXPIRE)

    def touch(self, user_id: int, channel: str) -> bool:
        now = time.time()
        before = self._touch(
            keys=[_user_key(user_id), USERS_KEY],
            args=[channel, now, now - _ttl(), int(_ttl() * 2000), user_id],
        )
        return int(before) == 0

    def remove(self, user_id: int, channel: str) -> bool:
        cutoff = time.time() - _ttl()
        return bool(
            self._remove(keys=[_user_key(user_id), USERS_KEY], args=[channel, cutoff, user_id])
        )

    def online_ids(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        cutoff = time.time() - _ttl()
        scores = self.client.zmscore(USERS_KEY, ids)
        return {
            user_id for user_id, score in zip(ids, scores, strict=True) if score and score > cutoff
        }

    def sweep(self) -> list[int]:
        """The bunnies whose sockets all lapsed since the last sweep; each is reported once,
        by whichever server's sweep gets there first."""
        interval_ms = max(int(settings.PRESENCE_HEARTBEAT * 500), 100)
        if not self.client.set(SWEEP_LOCK_KEY, 1, nx=True, px=interval_ms):
            return []
        cutoff = time.time() - _ttl()
        lapsed = []
        for raw in self.client.zrangebyscore(USERS_KEY, "-inf", cutoff):
            user_id = int(raw)
            if self._expire(keys=[_user_key(user_id), USERS_KEY], args=[cutoff, user_id]):
                lapsed.append(user_id)
        return lapsed


class LocalPresenceStore:
    """The same rules in process memory, for the embedded single-process default."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sockets: dict[int, dict[str, float]] = {}

    def _prune(self, user_id: int, cutoff: float) -> dict[str, float]:
        sockets = self._sockets.get(user_id, {})
        for channel in [channel for channel, seen in sockets.items() if seen <= cutoff]:
            del sockets[channel]
        return sockets

    def touch(self, user_id: int, channel: str) -> bool:
        now = time.time()
        with self._lock:
            sockets = self._prune(user_id, now - _ttl())
            before = len(sockets) - (1 if channel in sockets else 0)
            sockets[channel] = now
            self._sockets[user_id] = sockets
            return before == 0

    def remove(self, user_id: int, channel: str) -> bool:
        with self._lock:
            sockets = self._sockets.get(user_id, {})
            removed = sockets.pop(channel, None) is not None
            sockets = self._prune(user_id, time.time() - _ttl())
            if not sockets:
                self._sockets.pop(user_id, None)
                return removed
            return False

    def online_ids(self, user_ids: Iterable[int]) -> set[int]:
        cutoff = time.time() - _ttl()
        with self._lock:
            return {
                user_id
                for user_id in user_ids
                if any(seen > cutoff for seen in self._sockets.get(user_id, {}).values())
            }

    def sweep(self) -> list[int]:
        cutoff = time.time() - _ttl()
        lapsed = []
        with self._lock:
            for user_id in list(self._sockets):
                if not self._prune(user_id, cutoff):
                    del self._sockets[user_id]
                    lapsed.append(user_id)
        return lapsed


_store = None
_store_lock = threading.Lock()


def get_store():
    """The process's presence store, built on first use (never at import time)."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                if settings.CACHE_URL:
                    from django_redis import get_redis_connection

                    _store = RedisPresenceStore(get_redis_connection("default"))
                else:
                    _store = LocalPresenceStore()
    return _store


# Failures of the presence store must never break a socket or a page: presence is then
# unknown (reported offline) until the store answers again.


def socket_alive(user_id: int, channel: str) -> bool:
    """Record a socket's (first or renewed) heartbeat; True if the bunny just came online."""
    try:
        return get_store().touch(user_id, channel)
    except Exception:
        logger.warning("presence store unavailable (touch)", exc_info=True)
        return False


def socket_gone(user_id: int, channel: str) -> bool:
    """Forget a closed socket; True if it was the bunny's last one."""
    try:
        return get_store().remove(user_id, channel)
    except Exception:
        logger.warning("presence store unavailable (remove)", exc_info=True)
        return False


def online_ids(user_ids: Iterable[int]) -> set[int]:
    try:
        return get_store().online_ids(user_ids)
    except Exception:
        logger.warning("presence store unavailable (read)", exc_info=True)
        return set()


_last_sweep = 0.0


def sweep_lapsed() -> list[int]:
    """Bunnies whose every socket lapsed (their server died). Cheap to call often: each
    process sweeps at most twice per heartbeat interval, and the cluster once."""
    global _last_sweep
    now = time.monotonic()
    if now - _last_sweep < settings.PRESENCE_HEARTBEAT / 2:
        return []
    _last_sweep = now
    try:
        return get_store().sweep()
    except Exception:
        logger.warning("presence store unavailable (sweep)", exc_info=True)
        return []
