"""Security settings that hold on every page: CSP with no inline code, framing and referrer
headers, CSRF on every state-changing route, a new session key at log-in, and production
settings that take their secrets from the environment only."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)

# Inline code that a CSP without 'unsafe-inline' would block.
TEMPLATE_SYNTAX = re.compile(r"{% comment %}.*?{% endcomment %}|{#.*?#}|{%.*?%}", re.DOTALL)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def test_no_template_of_ours_needs_inline_script_or_style():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = TEMPLATE_SYNTAX.sub("", template.read_text())
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
            offenders += [
                f"{template.relative_to(ROOT)}: {m.group(0)!r}" for m in pattern.finditer(text)
            ]
    assert offenders == []


def test_pages_carry_a_strict_csp_and_the_other_security_headers(ann):
    client = Client()
    client.force_login(ann)
    for url in (reverse("home"), reverse("chat"), reverse("settings")):
        response = client.get(url)
        assert response.status_code == 200
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert "unsafe" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_only_the_third_party_api_docs_may_run_inline_code(ann):
    client = Client()
    client.force_login(ann)
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert "'unsafe-inline'" in docs["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get(reverse("home"))["Content-Security-Policy"]


# --- CSRF ---------------------------------------------------------------------------------


def _routes(resolver=None, prefix=""):
    """Every route of the URL configuration, its converters filled with plausible values."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern):
            path = re.sub(r"<int:\w+>", "1", route)
            path = re.sub(r"<(?:str|slug):\w+>|<\w+>", "bob", path)
            if "^" in path or "(?P" in path:  # the admin's regex routes
                continue
            yield "/" + path


# The token endpoints take no cookie, so there is no ambient credential to forge with.
NO_SESSION = {
    "/api/auth/signup/",
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/auth/logout/",
}


def test_every_route_refuses_a_post_without_the_csrf_token(ann, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    answers = {path: client.post(path, {"body": "forged"}).status_code for path in _routes()}
    refused = {path for path, code in answers.items() if code == 403}

    assert len(answers) > 60
    assert set(answers) - refused == NO_SESSION, {p: answers[p] for p in set(answers) - refused}


def test_htmx_and_forms_pass_with_the_token(ann):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    token = client.get(reverse("home")).context["csrf_token"]
    form = {"body": "Hop", "visibility": "friends"}
    assert client.post(reverse("post-create"), form, HTTP_X_CSRFTOKEN=str(token)).status_code == 302
    htmx = client.post(
        reverse("post-create"), form, HTTP_X_CSRFTOKEN=str(token), HTTP_HX_REQUEST="true"
    )
    assert htmx.status_code == 200


# --- Sessions -----------------------------------------------------------------------------


def test_logging_in_gives_a_new_session_key(ann):
    client = Client()
    session = client.session
    session["seen_landing"] = True
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key

    response = client.post(reverse("login"), {"username": "ann", "password": PASSWORD})

    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert client.session["seen_landing"] is True  # kept, under the new key
    assert not type(session)().exists(before)  # the old key is dead


# --- Production settings ------------------------------------------------------------------


def _production_settings(**extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY")}
    env |= {"DEBUG": "false", "ALLOWED_HOSTS": "bunnybook.example", **extra}
    script = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_HTTPONLY',"
        "'PASSWORD_HASHERS', 'X_FRAME_OPTIONS', 'SECURE_REFERRER_POLICY')}))"
    )
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os; os.environ['DJANGO_SETTINGS_MODULE']='bunnybook.settings'; {script}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_is_strict_and_hashes_with_djangos_default():
    result = _production_settings(SECRET_KEY="a-long-random-production-secret-" + "x" * 40)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)

    for strict in (
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    ):
        assert values[strict] is True, strict
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["PASSWORD_HASHERS"][0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"


def test_production_refuses_to_start_without_a_secret_key_from_the_environment():
    result = _production_settings()
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
