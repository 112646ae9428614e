"""What the browser tests share: Chromium's launch options, browser contexts logged in as a
bunny, the wait for the live socket, screenshots of the last state, and the axe check."""

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from chat import presence
from chat.tests.servers import ROOT, Daphne

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# STACK-NOTES pitfall 10: Debian's Chromium, never a downloaded one.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
# Live things (sockets, pushes) land in well under a second; this is the ceiling.
WAIT_MS = 8000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
expect.set_options(timeout=WAIT_MS)


def session_id(user) -> str:
    """A real session row for `user`, made here; the child server reads it from the database."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@dataclass
class Browsers:
    """Browser contexts for one test, one per bunny; screenshotted and closed after it."""

    browser: Browser
    server: Daphne
    name: str
    contexts: list[tuple[str, BrowserContext]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def context(self, label: str, *, user=None, viewport=None) -> BrowserContext:
        context = self.browser.new_context(viewport=viewport or DESKTOP, locale="en-US")
        context.set_default_timeout(WAIT_MS)
        if user is not None:
            context.add_cookies(
                [{"name": "sessionid", "value": session_id(user), "url": self.server.url}]
            )
        self.contexts.append((label, context))
        return context

    def page(self, context: BrowserContext, path: str = "/", *, live: bool = True) -> Page:
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(self.server.url + path)
        if live:
            wait_live(page)
        return page

    def open_as(self, user, path: str = "/", *, viewport=None, live: bool = True) -> Page:
        """A new context logged in as `user`, on `path`, with its live socket open."""
        context = self.context(user.username, user=user, viewport=viewport)
        return self.page(context, path, live=live)

    def close(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, context in self.contexts:
            pages = [page for page in context.pages if not page.is_closed()]
            if pages:  # the last state each bunny saw, for people to look at (var/ is ignored)
                path = SCREENSHOTS / f"{self.name}-{label}.png"
                pages[-1].screenshot(path=path, full_page=True)
            context.close()
        wait_until_the_server_settles()


def wait_until_the_server_settles(timeout: float = WAIT_MS / 1000) -> None:
    """After the pages close, the server tells each bunny's friends she went offline (a
    statement over two tables). Run during the next test's flush, whose TRUNCATE locks
    them in another order, it deadlocked (PostgreSQL then kills the flush). So wait until
    the server has seen every socket go and runs no statement on the test database."""
    store = redis.Redis.from_url(settings.CACHE_URL)
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        quiet = quiet + 1 if not busy and not store.scard(presence.ONLINE_KEY) else 0


def screenshot_name(nodeid_name: str) -> str:
    return re.sub(r"[^\w-]+", "-", nodeid_name.removeprefix("test_"))[:80]


def wait_live(page: Page) -> None:
    """The page's one live socket is open (static/js/live.js sets data-state)."""
    expect(page.locator("#live-socket")).to_have_attribute("data-state", "open")


def no_script_errors(*pages: Page) -> None:
    for page in pages:
        assert page.errors == [], page.errors


def axe_violations(page: Page, *, impacts=("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the browser's devtools channel: a <script> tag with axe inline
        # would be refused by the page's CSP, as it should be.
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})))"
    )
    return [
        f"{violation['impact']} {violation['id']} ({violation['help']}): {node}"
        for violation in result
        if violation["impact"] in impacts
        for node in violation["nodes"]
    ]
