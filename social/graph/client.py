"""One Neo4j driver per process, built lazily, with timeouts short enough for a web request,
and a circuit breaker so a dead Neo4j costs one short wait, not one per request.

The driver's defaults (30 s to connect, 60 s to get a pooled connection, 30 s of retries)
would hang a page for about 30 s when Neo4j is down.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from neo4j import READ_ACCESS, WRITE_ACCESS, Driver, GraphDatabase, Session

logger = logging.getLogger(__name__)

_driver: Driver | None = None
_lock = threading.Lock()


def _setting(name: str, default):
    return getattr(settings, name, default)


def connect_timeout() -> float:
    """Seconds to open a connection (TCP + Bolt handshake); also the pool wait is twice it."""
    return float(_setting("NEO4J_CONNECT_TIMEOUT", 1.0))


def query_timeout() -> float:
    """Server-side limit of one transaction, in seconds."""
    return float(_setting("NEO4J_QUERY_TIMEOUT", 2.0))


def database() -> str:
    # Naming the database saves the round trip that resolves the home database.
    return str(_setting("NEO4J_DATABASE", "neo4j"))


class GraphUnavailable(Exception):
    """Neo4j is switched off, down, or skipped by the open circuit breaker."""


class CircuitBreaker:
    """After a failure, refuse calls for `cooldown` seconds; then let one call probe.

    One probe at a time: the first caller after the cooldown re-arms the breaker before
    trying, so a still-dead Neo4j costs one short wait per cooldown, not one per request.
    """

    def __init__(self, cooldown: float):
        self.cooldown = cooldown
        self._open_until = 0.0
        self._tripped = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._tripped and time.monotonic() < self._open_until

    def allow(self) -> bool:
        with self._lock:
            if not self._tripped:
                return True
            now = time.monotonic()
            if now < self._open_until:
                return False
            self._open_until = now + self.cooldown  # this caller is the probe
            return True

    def record_success(self) -> None:
        with self._lock:
            self._tripped = False
            self._open_until = 0.0

    def record_failure(self) -> None:
        with self._lock:
            self._tripped = True
            self._open_until = time.monotonic() + self.cooldown

    def reset(self) -> None:
        self.record_success()


breaker = CircuitBreaker(cooldown=float(_setting("NEO4J_BREAKER_SECONDS", 15.0)))


def graph_enabled() -> bool:
    return bool(settings.NEO4J_URI)


def get_driver() -> Driver:
    global _driver
    if _driver is None:
        with _lock:
            if _driver is None:
                _driver = GraphDatabase.driver(
                    settings.NEO4J_URI,
                    auth=(settings.NEO4J_USER, settings.NEO4J_PASSWORD),
                    connection_timeout=connect_timeout(),
                    connection_acquisition_timeout=2 * connect_timeout(),
                    connection_write_timeout=connect_timeout(),
                    max_transaction_retry_time=0.0,
                    # Pooled connections idle this long are pinged before reuse, so a
                    # restarted Neo4j is noticed without a failed query.
                    liveness_check_timeout=30.0,
                    keep_alive=True,
                    notifications_min_severity="WARNING",
                )
    return _driver


def close_driver() -> None:
    global _driver
    with _lock:
        if _driver is not None:
            driver, _driver = _driver, None
            try:
                driver.close()
            except Exception:  # a dead pool may fail to close; it is dropped anyway
                logger.debug("closing the Neo4j driver failed", exc_info=True)


@contextmanager
def graph_session(*, write: bool = False, use_breaker: bool = True) -> Iterator[Session]:
    """A session on the projection's database. Any failure inside trips the breaker,
    drops the pool (its connections may point at a dead server) and surfaces as
    GraphUnavailable, which callers answer by falling back to SQL or retrying later."""
    if not graph_enabled():
        raise GraphUnavailable("NEO4J_URI is not set")
    if use_breaker and not breaker.allow():
        raise GraphUnavailable("circuit open: Neo4j failed recently")
    try:
        with get_driver().session(
            database=database(),
            default_access_mode=WRITE_ACCESS if write else READ_ACCESS,
            bookmark_manager=None,
        ) as session:
            yield session
    except GraphUnavailable:
        raise
    except Exception as exc:
        breaker.record_failure()
        close_driver()
        logger.warning("Neo4j call failed (%s); using the fallback", type(exc).__name__)
        raise GraphUnavailable(f"{type(exc).__name__}: {exc}") from exc
    breaker.record_success()
