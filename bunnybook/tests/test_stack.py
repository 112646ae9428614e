"""The suite runs on the real stack: PostgreSQL, Redis (layer and cache) and Neo4j."""

import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from accounts.models import User
from bunnybook.health import service_report
from social.graph.client import get_driver


@pytest.mark.django_db
def test_the_database_is_postgresql_with_trigram_support():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT similarity('bunny', 'buny')")
        assert cursor.fetchone()[0] > 0.3


@pytest.mark.django_db
def test_the_orm_binds_parameters_on_the_client_so_a_statement_may_carry_any_number():
    # Server-side binding stops at 65,535 parameters a statement: a cascade deleting more
    # rows than that failed when every cursor bound on the server (bunnybook/rows.py).
    assert User.objects.filter(pk__in=range(1, 70_001)).count() == 0


def test_the_channel_layer_is_redis_and_round_trips_a_message():
    assert settings.REDIS_URL, "make test runs with services/env"
    layer = get_channel_layer()
    assert any(cls.__module__.startswith("channels_redis") for cls in type(layer).__mro__)

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "probe", "nonce": nonce})
        return await layer.receive(channel)

    nonce = uuid.uuid4().hex
    assert async_to_sync(round_trip)()["nonce"] == nonce


def test_the_cache_is_a_separate_redis_server():
    assert settings.CACHE_URL
    assert settings.CACHE_URL != settings.REDIS_URL
    key, value = f"probe:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, 30)
    assert cache.get(key) == value
    server = redis.Redis.from_url(settings.CACHE_URL)
    assert any(key in k.decode() for k in server.keys("*probe*"))


def test_neo4j_answers_a_write_and_a_read_over_bolt():
    assert settings.NEO4J_URI.startswith("bolt://")
    nonce = uuid.uuid4().hex
    driver = get_driver()
    driver.execute_query("MERGE (p:Probe {nonce: $nonce})", nonce=nonce, database_="neo4j")
    records, _, _ = driver.execute_query(
        "MATCH (p:Probe {nonce: $nonce}) DETACH DELETE p RETURN count(p) AS n",
        nonce=nonce,
        database_="neo4j",
    )
    assert records[0]["n"] == 1


@pytest.mark.django_db
def test_the_health_report_sees_every_service_up():
    report = service_report()

    assert all(check["ok"] for check in report.values()), report
    assert report["graph"]["detail"] == "neo4j"
    assert report["cache"]["detail"] == "redis"


@pytest.mark.django_db
def test_the_health_endpoint_answers_ok(client):
    assert client.get("/healthz/").json() == {"ok": True}
