"""A real daphne in a child process, serving the test database, for tests that need real
sockets from outside (a browser, a server that dies). pytest-django's live server is WSGI
and cannot serve websockets."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_database_url() -> str:
    """The database this test run uses (pytest-django renamed it), as a URL for the child."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = f"{quote(db['USER'])}:{quote(db['PASSWORD'])}@" if db["USER"] else ""
    return f"postgres://{auth}{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Daphne:
    def __init__(self, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": child_database_url(),
            "DJANGO_SETTINGS_MODULE": "bunnybook.settings",
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None

    def start(self) -> "Daphne":
        daphne = Path(sys.executable).with_name("daphne")
        # A file, not a pipe: nobody reads a pipe while the server runs, and a full one
        # would block the server mid-request once it logs enough (e.g. a dead cache).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "bunnybook.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.output()) from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("daphne did not answer within 20 s")

    def output(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self):
        """Die like a crashed server: no socket is closed cleanly."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
