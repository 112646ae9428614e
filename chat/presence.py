"""Presence: which bunnies have an open socket, kept with TTL heartbeats, never in the database.

Heartbeats are per server, not per socket. Each server (an event loop of a server process,
`LocalServer`) registers its sockets as they open and close, and beats every
PRESENCE_HEARTBEAT seconds: one Redis round trip, whatever its number of sockets. A bunny is
online while she has a socket on a server whose last beat is fresher than PRESENCE_TTL, so
several tabs or devices count once, and a dead server's sockets age out with it: the next
beat of any live server sweeps it and reports its bunnies who have no other live socket.

Every transition (first socket opens, last one closes or lapses) is reported exactly once,
because each is decided inside one atomic step (a Lua script on Redis, a lock in-process)
by adding to or removing from the set of online bunnies.

With CACHE_URL set the store lives in that Redis server (shared by every server process;
the scripts reach keys they compute, so a single Redis, not a cluster); without it, an
in-process store serves the embedded single-process default.

Redis keys:
    presence:servers            sorted set: server id -> time of its last beat
    presence:server:<id>        hash: channel -> bunny id, the server's sockets
    presence:sockets:<user id>  hash: channel -> server id, the bunny's sockets
    presence:online             set of online bunny ids
"""

import asyncio
import logging
import os
import socket as _socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from asgiref.sync import sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

SERVERS_KEY = "presence:servers"
ONLINE_KEY = "presence:online"
SERVER_PREFIX = "presence:server:"
SOCKETS_PREFIX = "presence:sockets:"

# KEYS: servers, server's sockets, bunny's sockets, online. ARGV: server, channel, bunny, now.
# Returns 1 when the bunny just came online.
_OPEN = """
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
return redis.call('SADD', KEYS[4], ARGV[3])
"""

# Shared by the scripts below: does the bunny (hash KEYS[3] / ukey) keep a socket on a live
# server other than `skip`?
_ANY_LIVE = """
local function any_live(ukey, servers, cutoff, skip)
  local left = redis.call('HGETALL', ukey)
  for i = 1, #left, 2 do
    local server = left[i + 1]
    if server ~= skip then
      local seen = redis.call('ZSCORE', servers, server)
      if seen and tonumber(seen) > tonumber(cutoff) then return true end
    end
  end
  return false
end
"""

# KEYS: servers, server's sockets, bunny's sockets, online. ARGV: server, channel, bunny,
# cutoff. Returns 1 when that was the bunny's last live socket (she just went offline).
_CLOSE = (
    _ANY_LIVE
    + """
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if any_live(KEYS[3], KEYS[1], ARGV[4], '') then return 0 end
return redis.call('SREM', KEYS[4], ARGV[3])
"""
)

# KEYS: servers, the dead server's sockets, online. ARGV: server, cutoff, sockets prefix.
# Forgets a server that stopped beating and returns its bunnies who just went offline
# (nothing if it beat again meanwhile, or another sweep got there first).
_SWEEP = (
    _ANY_LIVE
    + """
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seen and tonumber(seen) > tonumber(ARGV[2]) then return {} end
local gone = {}
local sockets = redis.call('HGETALL', KEYS[2])
for i = 1, #sockets, 2 do
  local channel, bunny = sockets[i], sockets[i + 1]
  local ukey = ARGV[3] .. bunny
  redis.call('HDEL', ukey, channel)
  if not any_live(ukey, KEYS[1], ARGV[2], ARGV[1]) then
    if redis.call('SREM', KEYS[3], bunny) == 1 then table.insert(gone, bunny) end
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return gone
"""
)


def _server_key(server: str) -> str:
    return SERVER_PREFIX + server


def _sockets_key(user_id: int) -> str:
    return f"{SOCKETS_PREFIX}{user_id}"


def _cutoff() -> float:
    return time.time() - settings.PRESENCE_TTL


class RedisPresenceStore:
    def __init__(self, client):
        self.client = client
        self._open = client.register_script(_OPEN)
        self._close = client.register_script(_CLOSE)
        self._sweep = client.register_script(_SWEEP)

    def _open_keys(self, server: str, user_id: int) -> list[str]:
        return [SERVERS_KEY, _server_key(server), _sockets_key(user_id), ONLINE_KEY]

    def open(self, server: str, user_id: int, channel: str) -> bool:
        keys = self._open_keys(server, user_id)
        return bool(self._open(keys=keys, args=[server, channel, user_id, time.time()]))

    def close(self, server: str, user_id: int, channel: str) -> bool:
        keys = self._open_keys(server, user_id)
        return bool(self._close(keys=keys, args=[server, channel, user_id, _cutoff()]))

    def beat(
        self, server: str, sockets: dict[str, int], busy: set[str], *, full: bool = False
    ) -> tuple[list[int], list[int]]:
        """The server's heartbeat (`sockets`: its settled sockets, channel -> bunny; `busy`:
        channels opening or closing right now, left alone). One round trip, plus a resync of
        the server's sockets when Redis lost them (flushed, restarted, or the server was
        swept after a stall) or when `full` (a periodic check), and a sweep of servers that
        stopped beating. Returns the bunnies who came online and those who went offline."""
        now = time.time()
        cutoff = now - settings.PRESENCE_TTL
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(SERVERS_KEY, {server: now})
        pipe.hlen(_server_key(server))
        pipe.zrangebyscore(SERVERS_KEY, "-inf", cutoff)
        added, registered, dead = pipe.execute()
        came, went = [], []
        if added or full or registered != len(sockets) + len(busy):
            came, went = self._resync(server, sockets, busy)
        for dead_server in dead:
            dead_server = dead_server.decode()
            gone = self._sweep(
                keys=[SERVERS_KEY, _server_key(dead_server), ONLINE_KEY],
                args=[dead_server, cutoff, SOCKETS_PREFIX],
            )
            went.extend(int(user_id) for user_id in gone)
        return came, went

    def _resync(
        self, server: str, sockets: dict[str, int], busy: set[str]
    ) -> tuple[list[int], list[int]]:
        registered = {
            channel.decode(): int(user_id)
            for channel, user_id in self.client.hgetall(_server_key(server)).items()
        }
        missing = [(c, u) for c, u in sockets.items() if c not in registered]
        strays = [(c, u) for c, u in registered.items() if c not in sockets and c not in busy]
        if not missing and not strays:
            return [], []
        now, cutoff = time.time(), _cutoff()
        pipe = self.client.pipeline(transaction=False)
        for channel, user_id in missing:
            self._open(
                keys=self._open_keys(server, user_id),
                args=[server, channel, user_id, now],
                client=pipe,
            )
        for channel, user_id in strays:
            self._close(
                keys=self._open_keys(server, user_id),
                args=[server, channel, user_id, cutoff],
                client=pipe,
            )
        results = pipe.execute()
        came = [u for (_, u), done in zip(missing, results[: len(missing)], strict=True) if done]
        went = [u for (_, u), done in zip(strays, results[len(missing) :], strict=True) if done]
        return came, went

    def online_ids(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        flags = self.client.smismember(ONLINE_KEY, ids)
        return {user_id for user_id, flag in zip(ids, flags, strict=True) if flag}


class LocalPresenceStore:
    """The same rules in process memory, for the embedded single-process default."""

    def __init__(self):
        self._lock = threading.Lock()
        self._servers: dict[str, float] = {}
        self._sockets: dict[int, dict[str, str]] = {}  # bunny -> channel -> server
        self._online: set[int] = set()

    def _any_live(self, user_id: int, cutoff: float, skip: str = "") -> bool:
        return any(
            server != skip and self._servers.get(server, 0) > cutoff
            for server in self._sockets.get(user_id, {}).values()
        )

    def open(self, server: str, user_id: int, channel: str) -> bool:
        with self._lock:
            self._servers[server] = time.time()
            self._sockets.setdefault(user_id, {})[channel] = server
            came = user_id not in self._online
            self._online.add(user_id)
            return came

    def _close(self, user_id: int, channel: str, cutoff: float, skip: str = "") -> bool:
        sockets = self._sockets.get(user_id, {})
        sockets.pop(channel, None)
        if not sockets:
            self._sockets.pop(user_id, None)
        if self._any_live(user_id, cutoff, skip) or user_id not in self._online:
            return False
        self._online.discard(user_id)
        return True

    def close(self, server: str, user_id: int, channel: str) -> bool:
        with self._lock:
            return self._close(user_id, channel, _cutoff())

    def beat(
        self, server: str, sockets: dict[str, int], busy: set[str], *, full: bool = False
    ) -> tuple[list[int], list[int]]:
        now = time.time()
        cutoff = now - settings.PRESENCE_TTL
        with self._lock:
            self._servers[server] = now
            came = []
            for channel, user_id in sockets.items():
                self._sockets.setdefault(user_id, {})[channel] = server
                if user_id not in self._online:
                    self._online.add(user_id)
                    came.append(user_id)
            went = []
            for dead in [s for s, seen in self._servers.items() if seen <= cutoff]:
                del self._servers[dead]
                for user_id, channels in list(self._sockets.items()):
                    for channel in [c for c, s in channels.items() if s == dead]:
                        if self._close(user_id, channel, cutoff, skip=dead):
                            went.append(user_id)
            return came, went

    def online_ids(self, user_ids: Iterable[int]) -> set[int]:
        with self._lock:
            return {user_id for user_id in user_ids if user_id in self._online}


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
# unknown (reported offline) until the store answers again, and the next heartbeat after
# that re-registers this server's sockets.

_PROCESS_SERVER = f"{_socket.gethostname()}:{os.getpid()}:process"


def socket_alive(user_id: int, channel: str, server: str | None = None) -> bool:
    """Record an open socket on `server` (by default, a server id of this process that only
    a LocalServer's beats keep alive); True if the bunny just came online."""
    try:
        return get_store().open(server or _PROCESS_SERVER, user_id, channel)
    except Exception:
        logger.warning("presence store unavailable (open)", exc_info=True)
        return False


def socket_gone(user_id: int, channel: str, server: str | None = None) -> bool:
    """Forget a closed socket; True if it was the bunny's last live one."""
    try:
        return get_store().close(server or _PROCESS_SERVER, user_id, channel)
    except Exception:
        logger.warning("presence store unavailable (close)", exc_info=True)
        return False


def server_beat(server: str, sockets: dict[str, int], busy: set[str], full: bool = False):
    try:
        return get_store().beat(server, sockets, busy, full=full)
    except Exception:
        logger.warning("presence store unavailable (beat)", exc_info=True)
        return [], []


def online_ids(user_ids: Iterable[int]) -> set[int]:
    try:
        return get_store().online_ids(user_ids)
    except Exception:
        logger.warning("presence store unavailable (read)", exc_info=True)
        return set()


# --- This server: its sockets and its one heartbeat --------------------------------------

# Every this many beats a server compares its sockets with the store's list of them in full
# (the other beats compare their number only).
FULL_CHECK_EVERY = 15

# Called after every heartbeat with the sockets' `member` objects (see LocalServer.opened),
# e.g. to catch up events lost on the way; registered by chat.consumers.
AFTER_BEAT: list[Callable[[list], Awaitable[None]]] = []


async def _announce(came: list[int], went: list[int]) -> None:
    if not came and not went:
        return
    from channels.db import DatabaseSyncToAsync

    from bunnybook.events import deliver_after
    from chat import services  # services reads presence: imported late, not at import time

    announce = DatabaseSyncToAsync(services.announce_presence_changes, thread_sensitive=False)
    try:
        await deliver_after(lambda: announce(online=came, offline=went))
    except Exception:
        logger.warning("presence of %s bunnies not announced", len(came) + len(went), exc_info=True)


class LocalServer:
    """The sockets one event loop serves, and their shared heartbeat: a task that runs while
    the server has sockets and beats every PRESENCE_HEARTBEAT seconds (cost: one Redis round
    trip and one pass over the sockets, not a round trip per socket)."""

    def __init__(self):
        self.id = f"{_socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.sockets: dict[str, int] = {}  # channel -> bunny id
        self.members: dict[str, object] = {}  # channel -> whatever the socket registered
        self.busy: set[str] = set()  # channels being opened or closed in the store
        self.task: asyncio.Task | None = None
        self.beats = 0

    async def opened(self, user_id: int, channel: str, member=None) -> None:
        """A socket opened: register it, and tell her friends if she just came online."""
        self.sockets[channel] = user_id
        self.members[channel] = member
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._beat_forever())
        self.busy.add(channel)
        try:
            came = await sync_to_async(socket_alive, thread_sensitive=False)(
                user_id, channel, self.id
            )
        finally:
            self.busy.discard(channel)
        if came:
            await _announce([user_id], [])

    async def closed(self, user_id: int, channel: str) -> None:
        """A socket closed: forget it, and tell her friends if it was her last one."""
        if self.sockets.pop(channel, None) is None:
            return  # never opened here, or already closed
        self.members.pop(channel, None)
        self.busy.add(channel)
        try:
            went = await sync_to_async(socket_gone, thread_sensitive=False)(
                user_id, channel, self.id
            )
        finally:
            self.busy.discard(channel)
        if went:
            await _announce([], [user_id])

    async def beat(self) -> None:
        settled = {c: u for c, u in self.sockets.items() if c not in self.busy}
        self.beats += 1
        full = self.beats % FULL_CHECK_EVERY == 0
        came, went = await sync_to_async(server_beat, thread_sensitive=False)(
            self.id, settled, set(self.busy), full
        )
        await _announce(came, went)
        members = [member for member in self.members.values() if member is not None]
        for hook in AFTER_BEAT:
            await hook(members)

    async def _beat_forever(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("heartbeat of server %s failed", self.id, exc_info=True)


_servers: dict[asyncio.AbstractEventLoop, LocalServer] = {}


def local_server() -> LocalServer:
    """The LocalServer of the running event loop (one per loop: a server process has one)."""
    loop = asyncio.get_running_loop()
    server = _servers.get(loop)
    if server is None:
        for old in [old for old in _servers if old.is_closed()]:
            del _servers[old]  # loops of the past (tests run one per test)
        server = _servers[loop] = LocalServer()
    return server
