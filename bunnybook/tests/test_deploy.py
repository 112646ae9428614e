"""Deployment artefacts agree with the settings: docker-compose, `check --deploy`,
and the embedded default that `make run` serves."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from django.conf import settings

from social.demo import BUNNIES, DEMO_PASSWORD

ROOT = Path(settings.BASE_DIR)
SERVICE_VARIABLES = ["DATABASE_URL", "REDIS_URL", "CACHE_URL", "NEO4J_URI"]
PRODUCTION_VARIABLES = [
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "NEO4J_URI",
    "NEO4J_USER",
    "NEO4J_PASSWORD",
]


def embedded_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["VAR_DIR"] = str(tmp_path)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def test_compose_gives_every_app_service_every_variable_the_settings_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    settings_source = (ROOT / "bunnybook" / "settings.py").read_text()
    read_by_settings = set(re.findall(r'env_\w+\("([A-Z0-9_]+)"', settings_source))

    assert set(PRODUCTION_VARIABLES) <= read_by_settings
    for name in ["pages", "sockets-1", "sockets-2", "worker"]:
        environment = compose["services"][name]["environment"]
        missing = [var for var in PRODUCTION_VARIABLES if var not in environment]
        assert not missing, f"{name} lacks {missing}"
        assert environment["DEBUG"] == "false"
    app_env = compose["services"]["pages"]["environment"]
    for url_var, service in [
        ("DATABASE_URL", "postgres"),
        ("REDIS_URL", "redis-layer"),
        ("CACHE_URL", "redis-cache"),
        ("NEO4J_URI", "neo4j"),
    ]:
        assert f"@{service}:" in app_env[url_var] or f"//{service}:" in app_env[url_var]
        assert service in compose["services"]


def test_the_router_sends_sockets_to_every_daphne_in_compose():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    daphnes = [
        name
        for name, service in compose["services"].items()
        if str(service.get("command", "")).startswith("daphne")
    ]
    [upstreams] = re.findall(r"reverse_proxy @sockets ([^{\n]+)", caddyfile)

    assert len(daphnes) == 2
    assert sorted(upstreams.split()) == sorted(f"{name}:8001" for name in daphnes)
    assert all(name in compose["services"]["router"]["depends_on"] for name in daphnes)


def test_check_deploy_passes_with_production_variables(tmp_path):
    env = embedded_env(tmp_path) | {
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "bunnybook.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign_in(site: str, username: str, password: str) -> urllib.request.OpenerDirector:
    """An opener holding a session cookie, signed in through the login form."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    with opener.open(f"{site}/login/", timeout=10) as login:
        assert login.status == 200
    token = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    with opener.open(f"{site}/login/", data=form, timeout=10) as answer:
        assert answer.url == f"{site}/", answer.url  # redirected to the feed
    return opener


# Written-out reads on SQLite, whose datetimes come back naive unless converted as the ORM
# converts them (bunnybook.rows): a suspended bunny's session once raised a TypeError.
SQLITE_WRITTEN_OUT_READS = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from social import selectors
from social.models import Comment, Post

later = timezone.now() + timedelta(hours=1)
ann = User.objects.create_user("ann", "ann@bunnies.test", "x", suspended_until=later)
post = Post.objects.create(author=ann, wall=ann, body="hi")
Comment.objects.create(post=post, author=ann, body="hello")
fetched = User.objects.fetch(ann.pk)
assert fetched.is_suspended() and fetched.date_joined.tzinfo is not None
[shown] = selectors.feed_for(ann).items
assert shown.created_at.tzinfo is not None and shown.author.date_joined.tzinfo is not None
[comment] = selectors.latest_comments_on(ann, [shown])[post.pk]
assert comment.created_at.tzinfo is not None and comment.author.is_suspended()
print("aware")
"""


def test_written_out_reads_give_aware_datetimes_on_sqlite(tmp_path):
    env = embedded_env(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=300)
    result = subprocess.run(
        [*manage, "shell", "-c", SQLITE_WRITTEN_OUT_READS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("aware")


def test_the_embedded_default_serves_the_home_page_with_no_services(tmp_path):
    env = embedded_env(tmp_path)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [*manage, *command], cwd=ROOT, env=env, check=True, timeout=300, capture_output=True
        )
    port = free_port()
    log = (tmp_path / "daphne.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "bunnybook.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert "Bunnybook" in body, (tmp_path / "daphne.log").read_text()
        signed_in = sign_in(f"http://127.0.0.1:{port}", BUNNIES[0][0], DEMO_PASSWORD)
        # Pages whose reads are partly written out in SQL, which must run on SQLite too.
        for path in ["/", f"/u/{BUNNIES[1][0]}/", "/chat/", "/api/suggestions/"]:
            with signed_in.open(f"http://127.0.0.1:{port}{path}", timeout=10) as page:
                assert page.status == 200, path
        with signed_in.open(f"http://127.0.0.1:{port}/", timeout=10) as feed:
            assert 'class="comment' in feed.read().decode()
        assert (tmp_path / "bunnybook.sqlite3").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
