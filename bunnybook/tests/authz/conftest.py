"""The matrix runs every call against one shared world (bunnybook/tests/conftest.py)."""

import pytest


@pytest.fixture
def world(shared_world, db, unlimited):
    return shared_world
