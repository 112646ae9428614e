"""What the hardening tests share: one seeded network per test module (the authorization
matrix's world), limits lifted, and counts of the hostile inputs and authorization cases a
run tried, printed at its end (the README's Reliability table quotes them)."""

import contextlib
from collections import Counter

import pytest
from django.db import transaction
from django.test import override_settings

CASES: Counter = Counter()


def count_cases(kind: str, number: int = 1) -> None:
    CASES[kind] += number


def pytest_terminal_summary(terminalreporter):
    if CASES:
        terminalreporter.section("cases tried")
        for kind, number in sorted(CASES.items()):
            terminalreporter.write_line(f"{kind}: {number:,}")


class _Undo(Exception):
    pass


@contextlib.contextmanager
def undone():
    """Whatever the block writes is rolled back."""
    with contextlib.suppress(_Undo), transaction.atomic():
        yield
        raise _Undo


@pytest.fixture
def unlimited(settings):
    """Lift the limits that would answer 429 to many calls: rate limits have their own
    tests. Suggestions come from SQL: the graph has its own tests too."""
    settings.NEO4J_URI = ""
    settings.RATE_LIMITS = dict.fromkeys(getattr(settings, "RATE_LIMITS", {}), (10**6, 60))
    settings.CHAT_MESSAGE_RATE = 10**6
    settings.CHAT_TYPING_RATE = 10**6


@pytest.fixture(scope="module")
def shared_world(django_db_setup, django_db_blocker):
    """The matrix's world (bunnybook.tests.authz.world), built once per test module inside
    a transaction rolled back at its end; each test runs in a savepoint of its own."""
    from bunnybook.tests.authz.world import build_world

    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], NEO4J_URI=""
    )
    with django_db_blocker.unblock(), fast, undone():
        yield build_world()
