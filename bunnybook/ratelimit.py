"""Rate limits: one fixed-window counter per scope and bunny (or address, before log-in),
kept in the cache so every server process shares it (Redis in the real stack).

Limits live in settings.RATE_LIMITS as (count, seconds); chat passes its CHAT_* rates.
Pages, the API and sockets all count through `hit`: a page answers the friendly 429 page
(bunnybook.middleware), the API 429 JSON with `Retry-After` (bunnybook.api), a socket an
`error` event `rate_limited` (chat.consumers).

Failed log-ins are counted per account and address, per address, and per account: an
attacker is slowed within a few tries, while the owner, from her own address, is locked
out only if someone hammers her account from many addresses, and then for one short window.

A dead cache must not take the site down: every counter then lets the action through
(and the cache client logs the failure).
"""

import functools
import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RateLimited(Exception):
    """Too many actions of one kind; nothing was done. `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int, detail: str = "Slow down a little."):
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail


def _window(scope: str, rate: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """(limit, window seconds, index of the current window) of a scope."""
    limit, seconds = rate or settings.RATE_LIMITS[scope]
    return limit, seconds, int(time.time() // seconds)


def _retry_after(seconds: int, index: int) -> int:
    return max(1, math.ceil((index + 1) * seconds - time.time()))


def _key(scope: str, ident: str, index: int) -> str:
    return f"rl:{scope}:{ident}:{index}"


def _count(key: str, seconds: int) -> int | None:
    """Add one to a window's counter (created on first use). None when the cache is down."""
    try:
        if hasattr(cache, "client") and hasattr(cache.client, "get_client"):
            return _count_in_redis(cache.client, key, seconds)
        cache.add(key, 0, seconds + 1)
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr: a new window begins
        return None
    except Exception:  # a dead cache lets actions through, never fails them
        logger.warning("rate limit counter %s unavailable", key, exc_info=True)
        return None


def _count_in_redis(client, key: str, seconds: int) -> int:
    """django-redis: INCR and EXPIRE NX in one round trip instead of the two (and a Lua
    script) of add then incr; chat counts every message. Same key and value as theirs."""
    key = client.make_key(key)
    with client.get_client(write=True).pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, seconds + 1, nx=True)
        count, _ = pipe.execute()
    return count


def hit(scope: str, ident: str | int, *, rate: tuple[int, int] | None = None) -> None:
    """Count one action of `scope` by `ident`; raise RateLimited past the limit, which is
    settings.RATE_LIMITS[scope] unless `rate` (count, seconds) is given."""
    limit, seconds, index = _window(scope, rate)
    count = _count(_key(scope, str(ident), index), seconds)
    if count is not None and count > limit:
        raise RateLimited(_retry_after(seconds, index))


def client_address(request) -> str:
    """The caller's address as the server saw it (daphne's --proxy-headers sets it from a
    trusted proxy's X-Forwarded-For)."""
    meta = getattr(request, "META", None) or {}
    return meta.get("REMOTE_ADDR") or "unknown"


def actor(request) -> str:
    """Whom to count a request against: the bunny when there is one, else the address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"u{user.pk}"
    return f"a{client_address(request)}"


def limit(scope: str):
    """Count every state-changing request of a view (function view or DRF method) against
    `scope`; safe methods are never counted."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            request = args[0] if hasattr(args[0], "META") else args[1]
            if request.method in UNSAFE_METHODS:
                hit(scope, actor(request))
            return view(*args, **kwargs)

        return wrapped

    return decorate


# --- Log-ins ------------------------------------------------------------------------------

LOGIN_SCOPES = ("login_account_address", "login_address", "login_account")
LOGIN_DETAIL = "Too many failed log-ins. Wait a little and try again."


def _account(username: str | None) -> str:
    # Hashed: a key never carries what was typed, and any length or character fits.
    return hashlib.sha256((username or "").strip().casefold().encode()).hexdigest()[:24]


def _login_keys(username: str | None, address: str) -> dict[str, tuple[str, int, int, int]]:
    account = _account(username)
    idents = {
        "login_account_address": f"{account}:{address}",
        "login_address": address,
        "login_account": account,
    }
    keys = {}
    for scope, ident in idents.items():
        limit_, seconds, index = _window(scope)
        keys[scope] = (_key(scope, ident, index), limit_, seconds, index)
    return keys


def check_login(username: str | None, address: str) -> None:
    """Refuse a log-in attempt while any of its failure counters is full."""
    keys = _login_keys(username, address)
    try:
        counts = cache.get_many([key for key, *_ in keys.values()])
    except Exception:  # fail open, as in _count
        logger.warning("log-in failure counters unavailable", exc_info=True)
        return
    waits = [
        _retry_after(seconds, index)
        for key, limit_, seconds, index in keys.values()
        if (counts.get(key) or 0) >= limit_
    ]
    if waits:
        raise RateLimited(max(waits), LOGIN_DETAIL)


def login_failed(username: str | None, address: str) -> None:
    for key, _, seconds, _ in _login_keys(username, address).values():
        _count(key, seconds)


def login_succeeded(username: str | None, address: str) -> None:
    """The owner got in from here: her own earlier typos no longer count against her."""
    key, *_ = _login_keys(username, address)["login_account_address"]
    try:
        cache.delete(key)
    except Exception:
        logger.warning("log-in failure counter not reset", exc_info=True)
