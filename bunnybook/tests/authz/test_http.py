"""Every page and API endpoint, asked by every actor, answers as the table says, and never
shows anyone private text they may not read. Each call runs in a savepoint that is rolled
back, so every actor meets the same world."""

import json
import re
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import resolve_url
from django.urls import reverse

from accounts.models import User
from bunnybook.tests.authz.routes import http_routes
from bunnybook.tests.authz.table import ADMIN_LOGIN, API, LOGIN, PAGES, REDIRECT, Call, Row
from bunnybook.tests.authz.world import ACTORS, MARKERS, World
from bunnybook.tests.conftest import count_cases, undone

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NO_GET = Call(dict.fromkeys(ACTORS))
ROUTES = {route.key: route for route in http_routes()}
TABLE = {**PAGES, **API}


def _is_admin_site(key: str) -> bool:
    return key.startswith("admin:") or ROUTES[key].pattern.startswith("admin/")


def answer_of(response) -> object:
    if "HX-Redirect" in response:  # htmx is sent to log in as a whole tab
        if urlsplit(response["HX-Redirect"]).path == resolve_url(settings.LOGIN_URL):
            return LOGIN
        return REDIRECT
    if response.status_code in (301, 302, 303, 307, 308):
        path = urlsplit(response["Location"]).path
        if path == resolve_url(settings.LOGIN_URL):
            return LOGIN
        if path == reverse("admin:login"):
            return ADMIN_LOGIN
        return REDIRECT
    return response.status_code


def leaks(response, actor: str) -> list[str]:
    """Names of the private texts in the response that the actor may not read."""
    if getattr(response, "streaming", False):
        return []
    content = response.content.decode(errors="replace")
    return [
        name
        for name, (text, readers) in MARKERS.items()
        if actor not in readers and text in content
    ]


def call(world: World, actor: str, method: str, url: str, spec: Call | None, **headers):
    data = spec.body(world) if spec else None
    query = spec.query if spec else {}
    if url.startswith("/api/"):
        client = world.api_client(actor)
        return client.generic(
            method,
            url,
            data=json.dumps(data) if data is not None else "",
            content_type="application/json",
            QUERY_STRING=urlencode(query),
        )
    client = world.page_client(actor)
    if method == "GET":
        return client.get(url, query, **headers)
    if method == "POST":
        return client.post(url, data or {}, **headers)
    return client.generic(method, url, **headers)


def _check(world, url, method, spec, failures):
    count_cases("authorization cases (HTTP)", len(ACTORS))
    for actor in ACTORS:
        with undone():
            response = call(world, actor, method, url, spec)
            got = answer_of(response)
            expected = spec.expect[actor]
            if got != expected:
                failures.append(f"{method} {url} as {actor}: {got}, expected {expected}")
            for name in leaks(response, actor):
                failures.append(f"{method} {url} as {actor}: shows the {name}")


@pytest.mark.parametrize("key", sorted(TABLE))
def test_route_answers_every_actor_as_the_table_says(key, world):
    row: Row = TABLE[key]
    url = reverse(key, kwargs=row.kwargs(world))
    failures: list[str] = []
    for method, spec in row.calls.items():
        _check(world, url, method, spec, failures)
    # Any other method is refused, asked by someone who may use the route.
    actor = next((a for a in ACTORS if row.calls.get("GET", NO_GET).expect[a] == 200), "owner")
    for method in sorted(set(METHODS) - set(row.calls)):
        count_cases("authorization cases (HTTP)")
        with undone():
            got = answer_of(call(world, actor, method, url, None))
        if got != 405:
            failures.append(f"{method} {url} as {actor}: {got}, expected 405 (not in the table)")
    assert not failures, "\n".join(failures)


# The same pages asked by htmx (a button, a live search, infinite scroll). An htmx view may
# answer with a fragment where the page redirects, or a 400 where the page re-renders a form,
# but who may act is the same: the refused are refused alike and see nothing private.
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/"}
ALLOWED = {200, 201, 204, 400, 409, REDIRECT}


def _same_access(got, expected) -> bool:
    if expected in ALLOWED:
        return got in ALLOWED
    return got == expected


@pytest.mark.parametrize("key", sorted(PAGES))
def test_htmx_requests_meet_the_same_rules(key, world):
    row: Row = PAGES[key]
    url = reverse(key, kwargs=row.kwargs(world))
    failures: list[str] = []
    for method, spec in row.calls.items():
        count_cases("authorization cases (HTTP)", len(ACTORS))
        for actor in ACTORS:
            with undone():
                response = call(world, actor, method, url, spec, **HTMX)
                got = answer_of(response)
                if not _same_access(got, spec.expect[actor]):
                    failures.append(
                        f"htmx {method} {url} as {actor}: {got}, expected {spec.expect[actor]}"
                    )
                for name in leaks(response, actor):
                    failures.append(f"htmx {method} {url} as {actor}: shows the {name}")
    assert not failures, "\n".join(failures)


def test_an_htmx_request_without_a_session_sends_the_tab_to_log_in(world):
    response = world.page_client("anonymous").post(
        reverse("post-like", kwargs={"post_id": world.post.pk}),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/u/olive/",
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=%2Fu%2Folive%2F"


def test_every_route_has_an_entry_in_the_table():
    """A new page or endpoint fails here until its answers are written into the table."""
    missing = sorted(key for key in ROUTES if key not in TABLE and not _is_admin_site(key))
    assert not missing, f"routes with no row in bunnybook/tests/authz/table.py: {missing}"
    stale = sorted(set(TABLE) - set(ROUTES))
    assert not stale, f"rows for routes that no longer exist: {stale}"


# --- the Django admin site: one rule for all of its routes --------------------------------


def admin_url(pattern: str) -> str:
    """A concrete URL for an admin pattern, pointing at a real row where it takes one."""
    path = pattern.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<app_label>([^|)]+)[^)]*\)", r"\1", path)
    path = path.replace("(?P<url>.*)", "no-such-page/")
    parts = path.split("/")
    try:
        model = apps.get_model(parts[1], parts[2])
    except (LookupError, ValueError, IndexError):
        model = User
    row = model.objects.order_by("pk").first()
    object_id = str(row.pk if row else 1)
    path = path.replace("<path:content_type_id>", str(ContentType.objects.get_for_model(User).pk))
    path = re.sub(r"<(?:path:)?(?:object_id|id)>", object_id, path)
    return "/" + path


ADMIN_ROUTES = sorted(key for key in ROUTES if key not in TABLE and _is_admin_site(key))
# Open to all: the admin's own log-in page (log-out sends a non-moderator to the index).
ADMIN_OPEN = {"admin:login": 200, "admin:logout": REDIRECT}


@pytest.mark.parametrize("key", ADMIN_ROUTES)
def test_admin_routes_are_for_staff_only(key, world):
    url = admin_url(ROUTES[key].pattern)
    failures = []
    count_cases("authorization cases (HTTP)", len(ACTORS))
    for actor in ACTORS:
        with undone():
            response = call(world, actor, "GET", url, None)
            got = answer_of(response)
        if actor == "staff":
            ok = got not in (LOGIN, ADMIN_LOGIN) and (got == REDIRECT or got < 500)
        else:
            ok = got == ADMIN_OPEN.get(key, ADMIN_LOGIN)
            failures += [
                f"GET {url} as {actor}: shows the {name}" for name in leaks(response, actor)
            ]
        if not ok:
            failures.append(f"GET {url} as {actor}: {got}")
    assert not failures, "\n".join(failures)
