"""Socket adapters: `/ws/` for pages (HTML fragments for the htmx ws extension) and
`/ws/api/` for API clients (JSON), speaking the frames of shared/API.md.

Every socket of a bunny joins her group `user.<id>` and renders whatever is published there
(chat.live explains the two renderers). Frames are decoded here, never by Channels' JSON
consumer, so a bad frame gets an `error` event and the socket stays open. Durable events
carry `seq`: a socket sends them in order, once each, filling any gap from the database; a
`resume` replays what a reconnecting client missed while live events wait their turn. Presence
is not durable: a page socket's `resume` ends with every friend's dot as it is now.
"""

import asyncio
import functools
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from accounts.authentication import BunnyJWTAuthentication
from bunnybook.errors import Conflict
from bunnybook.events import deliver_after, session_group, user_group
from chat import live, presence, selectors, services
from chat.models import UserEvent

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4001
CLOSE_ENDED = 4003


# How long a pool thread's connection is trusted without a health check after it served a
# frame: the check is a `SELECT 1` round trip, as dear as a frame's own statements.
TRUST_CONNECTION_SECONDS = 1.0


def _on_trusted_connection(function):
    """`function`, skipping the connection's health check if it served a frame within
    TRUST_CONNECTION_SECONDS. Should PostgreSQL restart within that time, one frame fails
    with `unavailable` (the client sends it again) and the error closes the connection."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        used_at = getattr(connection, "frame_served_at", None)
        if used_at is not None and time.monotonic() - used_at < TRUST_CONNECTION_SECONDS:
            connection.health_check_done = True
        result = function(*args, **kwargs)
        connection.frame_served_at = time.monotonic()
        return result

    return run


def in_db_pool(function):
    """Database work of one frame, run in the thread pool rather than Channels' single
    database thread, so sockets' writes overlap instead of queueing behind each other
    (measured in bench/bench_chat.py). Each pool thread keeps its own connection, closed
    when stale like database_sync_to_async's. What the work publishes goes to the channel
    layer from this loop once it returns, in one batch (bunnybook.events.deliver_after)."""
    run = DatabaseSyncToAsync(_on_trusted_connection(function), thread_sensitive=False)

    async def call(*args, collected: list | None = None, **kwargs):
        return await deliver_after(lambda: run(*args, **kwargs), collected)

    return call


class FrameError(Exception):
    def __init__(self, code: str, detail: str, **extra):
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra


# --- Frame fields -----------------------------------------------------------------------


def _int_field(frame: dict, name: str) -> int:
    value = frame.get(name)
    if isinstance(value, str) and value.isdigit():  # form-encoded values arrive as strings
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise FrameError("invalid", f'"{name}" must be a non-negative integer.', field=name)
    return value


def _str_field(frame: dict, name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise FrameError("invalid", f'"{name}" must be a string.', field=name)
    return value


# --- Database work (one thread) ---------------------------------------------------------


def _events(user_id: int, after: int, upto: int | None = None, limit: int | None = None):
    events = UserEvent.objects.filter(user_id=user_id, seq__gt=after).order_by("seq")
    if upto is not None:
        events = events.filter(seq__lte=upto)
    rows = events.values_list("seq", "payload")
    if limit is not None:
        rows = rows[:limit]
    return [{**payload, "seq": seq} for seq, payload in rows]


@database_sync_to_async
def _events_to_resume(user_id: int, after: int) -> list[dict] | None:
    """Every event after `after` in order, or None when the client must resync: it is
    ahead of the log, or further behind than the log still reaches or we replay."""
    current = selectors.current_seq(user_id)
    if after > current:
        return None
    if after == current:
        return []
    if current - after > settings.WS_RESUME_LIMIT:
        return None
    events = _events(user_id, after, limit=settings.WS_RESUME_LIMIT)
    if not events or events[0]["seq"] != after + 1:
        return None  # pruned
    return events


@database_sync_to_async
def _missed_events(user_id: int, after: int, upto: int | None = None) -> list[dict]:
    return _events(user_id, after, upto, limit=settings.WS_RESUME_LIMIT)


@database_sync_to_async
def _user_for_token(token: str):
    auth = BunnyJWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(token))
    except (InvalidToken, AuthenticationFailed, TokenError):
        return None


@database_sync_to_async
def _duplicate_answer(message, user) -> dict:
    event = services.message_event(
        message, recipient_id=user.pk, states={message.sender_id: "self"}, online={}
    )
    return {**event, "duplicate": True}


# --- The consumers ----------------------------------------------------------------------


class LiveConsumer(AsyncWebsocketConsumer):
    """What both sockets share: auth, group, presence, frames, ordering and resume."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None
        self.group = None
        # The page session that authenticated this socket, if one did: its logout closes it.
        self.session_group = None
        self.last_seq = 0
        # Durable events that arrive before the client's first frame wait here, so that a
        # `resume` can replay older ones first.
        self.held: list[dict] | None = None
        # Durable events that overtook earlier ones, by seq, waiting for them (see
        # _send_sequenced), and the task that fills the gap from the database if they are late.
        self._early: dict[int, dict] = {}
        self._gap_fill: asyncio.Task | None = None
        self._order = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        # The bunny's latest seq as the previous heartbeat saw it (see catch_up).
        self._seen_at_last_beat = 0

    # Subclasses: how to treat a socket without a session, and how to send an event.
    async def unauthenticated(self):
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def emit(self, event: dict):
        raise NotImplementedError

    async def resumed(self):
        """Called after a `resume` replayed what the client missed."""

    async def ready(self):
        """Called once the socket is authenticated and live."""

    # --- lifecycle

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:  # crashed or cancelled too: no task outlives the socket, nor its presence
            for task in list(self._tasks):
                task.cancel()
            if self.user is not None:
                await self._forget_presence()

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            session = self.scope.get("session")
            session_key = session.session_key if session is not None else None
            self.session_group = session_group(session_key) if session_key else None
            await self.start(user)
        else:
            await self.unauthenticated()

    async def start(self, user):
        self.user = user
        self.group = user_group(user.pk)
        self.last_seq = await database_sync_to_async(selectors.current_seq)(user.pk)
        self.held = []
        await self._join_groups()
        self._spawn(self._release_after_grace())
        # This server's heartbeat keeps her presence alive from now on (chat.presence).
        await presence.local_server().opened(user.pk, self.channel_name, member=self)
        await self.ready()

    async def websocket_disconnect(self, message):
        for task in self._tasks:
            task.cancel()
        if self.user is not None:
            # Presence first: her friends wait on it, and nothing waits on the groups.
            await self._forget_presence()
            try:
                for group in filter(None, (self.group, self.session_group)):
                    await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001 - a dead layer forgets the group by itself
                logger.warning("group_discard failed for %s", self.channel_name)
        raise StopConsumer

    async def _forget_presence(self):
        try:
            await presence.local_server().closed(self.user.pk, self.channel_name)
        except Exception:  # the heartbeat heals what this missed
            logger.warning("presence of %s not updated", self.user.pk, exc_info=True)

    async def _join_groups(self):
        for group in filter(None, (self.group, self.session_group)):
            await self.channel_layer.group_add(group, self.channel_name)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _release_after_grace(self):
        await asyncio.sleep(settings.WS_RESUME_GRACE)
        async with self._order:
            await self._release_held()

    async def catch_up(self, latest_seq: int):
        """Called on every heartbeat with the bunny's latest stored seq: events that were
        stored before the previous beat and still have not reached this socket were lost on
        the way (layer down or flushed, channel over capacity); replay them from the
        database."""
        if self.held is not None:
            return
        lost_upto, self._seen_at_last_beat = self._seen_at_last_beat, latest_seq
        if self.last_seq >= lost_upto:
            return
        async with self._order:
            for event in await _missed_events(self.user.pk, self.last_seq, lost_upto):
                await self._send_sequenced(event)

    # --- events from the channel layer

    async def dispatch(self, message):
        # Never Channels' aclose_old_connections() first (a hop to the database thread for
        # every frame and event): every database call of ours (database_sync_to_async,
        # in_db_pool) closes stale connections itself, in the thread that owns them.
        kind = message.get("type", "")
        if kind.startswith("websocket."):
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                return await super().dispatch(message)
            return await handler(message)
        if kind == "live.close":
            await self.close(code=CLOSE_ENDED)
            return None
        if self.user is None:
            return None
        if "seq" not in message:
            await self.emit(message)
            return None
        async with self._order:
            if self.held is not None:
                self.held.append(message)
            else:
                await self._send_sequenced(message)
        return None

    async def _send_sequenced(self, event: dict):
        """Send a durable event once, in seq order (caller holds `_order`).

        An event that overtook earlier ones waits for them. Usually they are a few
        milliseconds behind in the layer: a frame's own events reach its socket straight
        from the frame's work, ahead of the other side's message that committed first.
        Asking the database at once cost a query per overtaking, a fifth of the server's
        time under load (bench_chat). The database fills the gap after WS_GAP_WAIT, or
        before a frame gets an answer without a seq (`_answer`)."""
        seq = event["seq"]
        if seq <= self.last_seq:
            return
        if seq > self.last_seq + 1:
            self._early[seq] = event
            if self._gap_fill is None or self._gap_fill.done():
                self._gap_fill = self._spawn(self._fill_gap_after_wait())
            return
        while event is not None:  # this one, then the early ones it lets through
            self.last_seq = event["seq"]
            await self.emit(event)
            event = self._early.pop(self.last_seq + 1, None)

    async def _fill_gap(self):
        """Send the early events now, with what they wait for from the database; what the
        log no longer has is skipped (caller holds `_order`)."""
        # A resume may have replayed some of them meanwhile.
        early = {seq: event for seq, event in self._early.items() if seq > self.last_seq}
        self._early = {}
        if not early:
            return
        newest = max(early)
        if len(early) < newest - self.last_seq:  # some between are still missing
            for missed in await _missed_events(self.user.pk, self.last_seq, newest - 1):
                early.setdefault(missed["seq"], missed)
        for seq in sorted(early):
            self.last_seq = seq
            await self.emit(early[seq])

    async def _fill_gap_after_wait(self):
        await asyncio.sleep(settings.WS_GAP_WAIT)
        async with self._order:
            await self._fill_gap()

    async def _answer(self, event: dict):
        """Answer a frame with an event without a seq (pong, error, duplicate): after every
        durable event before it, so the socket that asked hears the outcome of its earlier
        frames first."""
        if self._early:
            async with self._order:
                await self._fill_gap()
        await self.emit(event)

    async def _release_held(self):
        held, self.held = self.held, None
        for event in sorted(held or (), key=lambda event: event["seq"]):
            await self._send_sequenced(event)

    # --- frames from the client

    async def receive(self, text_data=None, bytes_data=None):
        raw = text_data if text_data is not None else bytes_data
        frame = None
        try:
            size = len(raw.encode()) if isinstance(raw, str) else len(raw or b"")
            if size > settings.WS_MAX_FRAME_BYTES:
                raise FrameError(
                    "frame_too_large", f"Frames are limited to {settings.WS_MAX_FRAME_BYTES} bytes."
                )
            try:
                frame = json.loads(raw)
            except (TypeError, ValueError) as exc:
                raise FrameError("invalid_json", "That frame is not valid JSON.") from exc
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("invalid_frame", 'A frame is a JSON object with a "type".')
            if self.user is None:
                await self.authenticate(frame)
                return
            await self.handle_frame(frame)
        except FrameError as error:
            if self.user is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await self._answer(self._error_event(error, frame))

    @staticmethod
    def _error_event(error: FrameError, frame) -> dict:
        event = {"type": "error", "code": error.code, "detail": error.detail, **error.extra}
        if isinstance(frame, dict):
            event["frame_type"] = frame.get("type")
            for key in ("conversation_id", "client_id"):
                if isinstance(frame.get(key), (str, int)):
                    event.setdefault(key, frame[key])
        return event

    async def authenticate(self, frame: dict):
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def handle_frame(self, frame: dict):
        kind = frame["type"]
        handler = FRAME_HANDLERS.get(kind)
        if handler is None:
            raise FrameError("unknown_type", f'Unknown frame type "{kind[:40]}".')
        if self.held is not None and kind != "resume":
            async with self._order:  # a client that does not resume goes live at once
                await self._release_held()
        try:
            await handler(self, frame)
        except Http404 as exc:
            raise FrameError("not_found", "No such conversation.") from exc
        except PermissionDenied as exc:
            raise FrameError("forbidden", str(exc) or "You may not do that.") from exc
        except ValidationError as exc:
            fields = getattr(exc, "message_dict", {})
            detail = " ".join(msg for msgs in fields.values() for msg in msgs) or " ".join(
                exc.messages
            )
            raise FrameError("invalid", detail, fields=fields) from exc
        except services.RateLimited as exc:
            raise FrameError("rate_limited", str(exc), retry_after=exc.retry_after) from exc
        except Conflict as exc:
            raise FrameError("conflict", str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            # The database is down or restarting: nothing was stored; the client may send
            # the same client_id again later and it is stored once.
            logger.warning("frame %s failed: database unavailable", kind)
            raise FrameError("unavailable", "Briefly unavailable; send it again soon.") from exc

    async def frame_ping(self, frame):
        # Presence needs nothing from a ping: this server's heartbeat keeps the socket alive.
        await self._answer({"type": "pong"})

    async def frame_resume(self, frame):
        after = _int_field(frame, "after")
        async with self._order:
            events = await _events_to_resume(self.user.pk, after)
            if events is None:
                self.last_seq = await database_sync_to_async(selectors.current_seq)(self.user.pk)
                await self.emit({"type": "resync"})
            else:
                self.last_seq = after
                for event in events:
                    self.last_seq = event["seq"]
                    await self.emit(event)
            await self._release_held()
            await self._fill_gap()
            await self.resumed()

    async def _frame_work(self, function, **kwargs):
        """A frame's database work (in_db_pool). What it publishes to this bunny also goes
        to this socket at once, in seq order (or as soon as the events before it are in):
        the socket that asked hears the outcome before its next frame's answer; the copy
        coming back through the layer is then a duplicate and dropped by seq."""
        collected = []
        try:
            return await in_db_pool(function)(collected=collected, **kwargs)
        finally:
            own = [event for group, event in collected if group == self.group and "seq" in event]
            if own:
                async with self._order:
                    if self.held is None:
                        for event in sorted(own, key=lambda event: event["seq"]):
                            await self._send_sequenced(event)

    async def frame_chat_send(self, frame):
        message, created = await self._frame_work(
            services.send_message,
            sender=self.user,
            conversation_id=_int_field(frame, "conversation_id"),
            body=_str_field(frame, "body"),
            client_id=_str_field(frame, "client_id"),
            sender_online=True,  # this socket keeps her online
        )
        if not created:  # a retry: answer with the first copy, store nothing
            await self._answer(await _duplicate_answer(message, self.user))

    async def frame_chat_typing(self, frame):
        await self._frame_work(
            services.relay_typing,
            user_id=self.user.pk,
            conversation_id=_int_field(frame, "conversation_id"),
        )

    async def frame_chat_read(self, frame):
        await self._frame_work(
            services.mark_read,
            user=self.user,
            conversation_id=_int_field(frame, "conversation_id"),
            origin=self.channel_name,
        )


FRAME_HANDLERS = {
    "ping": LiveConsumer.frame_ping,
    "resume": LiveConsumer.frame_resume,
    "chat.send": LiveConsumer.frame_chat_send,
    "chat.typing": LiveConsumer.frame_chat_typing,
    "chat.read": LiveConsumer.frame_chat_read,
}


async def _after_beat(members: list[LiveConsumer]) -> None:
    """Once per heartbeat for all of this server's sockets: re-join groups where a flushed
    or restarted layer may have lost them, and replay events lost on the way."""
    live_sockets = [member for member in members if member.user is not None]
    if not live_sockets:
        return
    layer = live_sockets[0].channel_layer
    if isinstance(layer, RedisChannelLayer):
        # Its groups are Redis keys, gone with a flush; re-joining is idempotent. (The pub/sub
        # layer's subscriptions live on its connection, which re-subscribes by itself.)
        for member in live_sockets:
            try:
                await member._join_groups()
            except Exception:  # noqa: BLE001
                logger.warning("channel layer unavailable for %s", member.channel_name)
                break
    latest = await in_db_pool(selectors.latest_seqs)(sorted({m.user.pk for m in live_sockets}))
    for member in live_sockets:
        try:
            await member.catch_up(latest.get(member.user.pk, 0))
        except Exception:  # one socket's trouble must not stop the others
            logger.warning("catch-up of %s failed", member.channel_name, exc_info=True)


presence.AFTER_BEAT.append(_after_beat)


class ApiConsumer(LiveConsumer):
    """`/ws/api/`: JSON events. Authenticated by the session cookie, or by a first frame
    `{"type": "auth", "token": "<access>"}` within WS_AUTH_TIMEOUT (else close 4001)."""

    async def unauthenticated(self):
        self._spawn(self._auth_deadline())

    async def _auth_deadline(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT)
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def authenticate(self, frame: dict):
        token = frame.get("token")
        user = None
        if frame["type"] == "auth" and isinstance(token, str) and len(token) < 4096:
            user = await _user_for_token(token)
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.start(user)

    async def ready(self):
        await self.emit({"type": "ready", "user": self.user.username, "seq": self.last_seq})

    async def emit(self, event: dict):
        if event.get("_origin") == self.channel_name:
            return  # e.g. chat.read goes to the reader's *other* sockets
        await self.send(text_data=json.dumps(live.render_api_event(event)))


class PageConsumer(LiveConsumer):
    """`/ws/`: the same events as HTML fragments for the htmx ws extension. Session only."""

    async def emit(self, event: dict):
        html = live.shared_page_html(event)
        if html is None:
            html = await database_sync_to_async(live.render_page_event)(self.user, event)
        if html:
            await self.send(text_data=html)

    async def resumed(self):
        # Presence is not replayed: the page gets its friends' dots as they are now.
        html = await database_sync_to_async(live.render_friends_presence)(self.user)
        if html:
            await self.send(text_data=html)
