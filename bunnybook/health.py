"""Round trips to each backing service, for the health endpoint and the test suite."""

import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from social.graph.client import get_driver, graph_enabled


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", with its reason
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2), "detail": detail}


def check_database() -> dict:
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor

    return _timed(run)


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def check_channel_layer() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "detail": "in-memory"}
    return _timed(lambda: _ping_redis(settings.REDIS_URL) or "redis")


def check_cache() -> dict:
    if settings.CACHE_URL:
        # django-redis swallows errors by design, so ask the server itself.
        return _timed(lambda: _ping_redis(settings.CACHE_URL) or "redis")

    def run():
        cache.set("health:probe", "ok", 5)
        return "local-memory" if cache.get("health:probe") == "ok" else "unreadable"

    return _timed(run)


def check_graph() -> dict:
    if not graph_enabled():
        return {"ok": True, "detail": "disabled (SQL suggestions)"}

    def run():
        records, _, _ = get_driver().execute_query("RETURN 1 AS one", database_="neo4j")
        return "neo4j" if records[0]["one"] == 1 else "unexpected answer"

    return _timed(run)


def service_report() -> dict:
    return {
        "database": check_database(),
        "channel_layer": check_channel_layer(),
        "cache": check_cache(),
        "graph": check_graph(),
    }
