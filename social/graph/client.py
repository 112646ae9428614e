"""One Neo4j driver per process, built lazily, with timeouts short enough for a web request.

The driver's defaults (30 s to connect, 60 s to get a pooled connection, 30 s of retries)
would hang a page for about 30 s when Neo4j is down.
"""

import threading

from django.conf import settings
from neo4j import Driver, GraphDatabase

_driver: Driver | None = None
_lock = threading.Lock()


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
                    connection_timeout=2.0,
                    connection_acquisition_timeout=2.0,
                    max_transaction_retry_time=1.0,
                )
    return _driver


def close_driver() -> None:
    global _driver
    with _lock:
        if _driver is not None:
            _driver.close()
            _driver = None
