"""The JSON API fuzzed from its own OpenAPI schema (schemathesis), in process through the
WSGI application, signed in as a bunny of a small seeded network: valid and invalid input
for every operation, and every answer must be no 5xx, a documented status code and content
type, and a body that matches the schema.

FUZZ_EXAMPLES sets the examples per operation and generation mode: small in `make test`,
large in `make fuzz` (at least 5,000 cases in all).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from bunnybook.tests.conftest import count_cases
from bunnybook.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # An operation that needs a token must refuse a request without one.
    ignored_auth,
]


@pytest.fixture
def olive_token(shared_world, db, unlimited):
    """Olive's token, in a network with posts, comments, a chat, requests and a block.
    Requests run inside the test's transaction: the WSGI handler must not close its
    connection around each one (Django's test client avoids this the same way)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield shared_world.tokens["owner"]
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Loaded at collection (schemathesis's lazy fixture loader does not work with pytest 9);
# serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_hostile_input_within_its_schema(case, olive_token):
    count_cases("API fuzz requests")
    case.call_and_validate(headers={"Authorization": f"Bearer {olive_token}"}, checks=CHECKS)
