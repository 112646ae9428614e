"""What the fault suite (and bench/soak.py) needs to prove that nothing was lost: real
socket clients that remember every acknowledgement and every `seq` they saw, an HTTP helper
for a daphne in a child process, and the ledger check itself.

The ledger: every message acknowledged to its sender is stored once; each participant's
durable event log holds it exactly once; each bunny's `seq`s run 1..N with no gap; and
what each client received, across reconnects and resumes, is that log's tail with nothing
missing and nothing twice.
"""

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

import websockets
from rest_framework_simplejwt.tokens import AccessToken

ORIGIN = "http://127.0.0.1"


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def http(
    url: str, *, method="GET", token=None, cookie=None, data=None, timeout=10.0, headers=None
) -> Answer:
    """One request to a server on loopback, redirects not followed; never raises for an
    HTTP status (only when the server cannot be reached)."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    if data is not None:
        request.data = json.dumps(data).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def send_over_http(base: str, token: str, conversation_id: int, body: str, client_id: str):
    return http(
        f"{base}/api/conversations/{conversation_id}/messages/",
        method="POST",
        token=token,
        data={"body": body, "client_id": client_id},
    )


@dataclass
class LiveClient:
    """One bunny's API socket that survives its server: it reconnects, resumes after the
    last `seq` it saw, and re-sends whatever was never acknowledged (same client_id)."""

    user_id: int
    username: str
    token: str
    seqs: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> message id
    pending: dict[str, tuple[int, str]] = field(default_factory=dict)  # client_id -> frame
    errors: list[dict] = field(default_factory=list)
    start_seq: int | None = None
    latencies: list[float] = field(default_factory=list)
    reconnects: int = 0

    @classmethod
    def for_user(cls, user) -> "LiveClient":
        return cls(user_id=user.pk, username=user.username, token=str(AccessToken.for_user(user)))

    def __post_init__(self):
        self._socket = None
        self._reader = None
        self.failure: AssertionError | None = None
        self._sent_at: dict[str, float] = {}
        self._changed = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else (self.start_seq or 0)

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def connect(self, base: str, *, timeout: float = 20.0) -> None:
        """Connect (retrying while the server or its layer is down), authenticate, resume."""
        url = base.replace("http", "ws", 1) + "/ws/api/"
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket = await websockets.connect(url, origin=ORIGIN, open_timeout=3)
                await socket.send(json.dumps({"type": "auth", "token": self.token}))
                ready = json.loads(await asyncio.wait_for(socket.recv(), 5))
                if ready.get("type") != "ready":
                    raise ConnectionError(ready)
                break
            except (TimeoutError, OSError, websockets.WebSocketException, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        if self.start_seq is None:
            self.start_seq = ready["seq"]
        else:
            self.reconnects += 1
        self._socket = socket
        await socket.send(json.dumps({"type": "resume", "after": self.last_seq}))
        self._reader = asyncio.get_running_loop().create_task(self._read(socket))

    async def _read(self, socket) -> None:
        try:
            async for raw in socket:
                self._take(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        except AssertionError as failure:  # raised again by the next wait_for
            self.failure = failure
        finally:
            self._changed.set()

    def _take(self, event: dict) -> None:
        if event.get("type") == "resync":
            raise AssertionError(f"{self.username} was told to resync: events were lost")
        if event.get("type") == "error":
            self.errors.append(event)
        if "seq" in event:
            if self.seqs and event["seq"] <= self.seqs[-1]:
                raise AssertionError(f"{self.username} got seq {event['seq']} again")
            self.seqs.append(event["seq"])
        if event.get("type") == "chat.message":
            message = event["message"]
            if "seq" in event:
                self.message_ids.append(message["id"])
            if message["sender"]["username"] == self.username:
                client_id = message["client_id"]
                self.acked[client_id] = message["id"]
                self.pending.pop(client_id, None)
                sent = self._sent_at.pop(client_id, None)
                if sent is not None and "seq" in event:
                    self.latencies.append(time.monotonic() - sent)
        self._changed.set()

    async def send(self, conversation_id: int, body: str) -> str:
        client_id = str(uuid.uuid4())
        self.pending[client_id] = (conversation_id, body)
        await self._send_frame(client_id)
        return client_id

    async def _send_frame(self, client_id: str) -> None:
        conversation_id, body = self.pending[client_id]
        self._sent_at.setdefault(client_id, time.monotonic())
        frame = {"type": "chat.send", "conversation_id": conversation_id, "body": body}
        with contextlib.suppress(websockets.ConnectionClosed, AttributeError):
            await self._socket.send(json.dumps({**frame, "client_id": client_id}))

    async def resend_pending(self) -> None:
        for client_id in list(self.pending):
            await self._send_frame(client_id)

    async def wait_for(self, condition, *, timeout: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.failure is not None:
                raise self.failure
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.username}: timed out waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def wait_closed(self, timeout: float = 15.0) -> None:
        await self.wait_for(lambda: not self.connected, timeout=timeout, what="its socket to close")

    async def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)


@dataclass
class LedgerReport:
    messages: int
    acknowledged: int
    events_checked: int


def check_ledger(clients: list[LiveClient], *, http_acked: dict | None = None) -> LedgerReport:
    """Assert the ledger (module docstring) for these clients' bunnies; sync, needs the DB.
    `http_acked` maps (sender id, client_id) -> message id for sends acknowledged over HTTP."""
    from chat.models import Message, Participant, UserEvent, UserEventCounter

    acknowledged = {(c.user_id, cid): mid for c in clients for cid, mid in c.acked.items()}
    acknowledged |= http_acked or {}
    for (sender_id, client_id), message_id in acknowledged.items():
        stored = list(
            Message.objects.filter(sender_id=sender_id, client_id=client_id).values_list(
                "pk", flat=True
            )
        )
        assert stored == [message_id], f"ack {client_id} of {sender_id}: stored as {stored}"

    events_checked = 0
    conversation_ids = set()
    for client in clients:
        rows = list(
            UserEvent.objects.filter(user_id=client.user_id)
            .order_by("seq")
            .values_list("seq", "payload")
        )
        seqs = [seq for seq, _ in rows]
        assert seqs == list(range(1, len(seqs) + 1)), f"{client.username}: gap in {seqs}"
        counter = UserEventCounter.objects.filter(user_id=client.user_id).first()
        assert (counter.last_seq if counter else 0) == len(seqs)
        in_log = [p["message"]["id"] for _, p in rows if p.get("type") == "chat.message"]
        duplicated = [mid for mid, n in Counter(in_log).items() if n > 1]
        assert not duplicated, f"{client.username}: messages {duplicated} logged twice"
        mine = set(
            Participant.objects.filter(user_id=client.user_id).values_list(
                "conversation_id", flat=True
            )
        )
        conversation_ids |= mine
        should_log = set(
            Message.objects.filter(conversation_id__in=mine).values_list("pk", flat=True)
        )
        assert set(in_log) == should_log, f"{client.username}: log differs from messages"

        start = client.start_seq or 0
        expected = list(range(start + 1, len(seqs) + 1))
        assert client.seqs == expected, (
            f"{client.username} received seqs {_ranges(client.seqs)}, expected {_ranges(expected)}"
        )
        after_start = [
            p["message"]["id"] for s, p in rows if s > start and p.get("type") == "chat.message"
        ]
        assert client.message_ids == after_start
        events_checked += len(client.seqs)

    return LedgerReport(
        messages=Message.objects.filter(conversation_id__in=conversation_ids).count(),
        acknowledged=len(acknowledged),
        events_checked=events_checked,
    )


def _ranges(numbers: list[int]) -> str:
    """1..5, 7..9: a short picture of a seq list for assertion messages."""
    if not numbers:
        return "[]"
    parts, first, previous = [], numbers[0], numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(f"{first}..{previous}" if first != previous else str(first))
        if n is not None:
            first = previous = n
    return ", ".join(parts)
