"""One event, two renderers: how a live event becomes what a socket sends.

Services publish small JSON dicts to the group `user.<id>` of each bunny who should hear
them (bunnybook.events; durable ones carry a per-bunny `seq`). Every socket of that bunny
receives the dict and renders it for its client:

- `/ws/api/` (JSON): the event as-is, less keys starting with `_` (server-only details,
  e.g. `_origin`). Nothing to register: a new event type reaches API clients unchanged.
- `/ws/` (pages, htmx ws extension): the HTML fragments registered for the event's type,
  each a template rendered with `{"event": event, "user": <the bunny>}` plus whatever the
  fragment's `context` hook adds, concatenated. Each fragment's top-level elements carry
  `hx-swap-oob` (or an `id` to replace). An event type with no fragment sends the page
  nothing but its `seq` marker; a registered template that does not exist is skipped.

To add an event type to the pages, register a template (in your app's `AppConfig.ready()`
or below), e.g.:

    register_page_fragment("notification", "notifications/partials/live_notification.html")

A `context(user, event) -> dict | None` hook runs in a database thread (it may query);
returning None skips the fragment for that bunny. A fragment registered `shared=True` is the
same for every bunny (rendered with `{"event": event}` alone, no hook): an ephemeral event
whose fragments are all shared (typing, presence) is rendered once per server process, not
once per socket in the database thread. The `notification`,
`notification.removed` and `notification.read` types are registered below with the
templates `notifications/partials/live_notification.html`,
`.../live_notification_removed.html` and `.../live_notification_read.html`: create them
and they go live.

Types starting with `live.` are controls for the consumer itself (`live.close` closes
the bunny's sockets), never forwarded.
"""

import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.http import Http404
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from accounts.models import User
from chat import selectors
from chat.forms import MessageForm

logger = logging.getLogger(__name__)

ContextHook = Callable[[User, dict], dict | None]


@dataclass(frozen=True)
class PageFragment:
    template: str
    context: ContextHook | None = None
    shared: bool = False


PAGE_FRAGMENTS: dict[str, list[PageFragment]] = {}


def register_page_fragment(
    event_type: str, template: str, context: ContextHook | None = None, *, shared: bool = False
):
    if shared and context is not None:
        raise ValueError("a shared fragment is the same for every bunny: it takes no context")
    fragments = PAGE_FRAGMENTS.setdefault(event_type, [])
    if all(fragment.template != template for fragment in fragments):
        fragments.append(PageFragment(template, context, shared))


def render_api_event(event: dict) -> dict:
    return {key: value for key, value in event.items() if not key.startswith("_")}


def _render_fragment(fragment: PageFragment, context: dict) -> str:
    try:
        return render_to_string(fragment.template, context)
    except TemplateDoesNotExist:
        logger.debug("no template %s for live %s", fragment.template, context["event"]["type"])
        return ""


def render_page_event(user: User, event: dict) -> str:
    """The HTML a page socket sends for `event` (sync: may query the database)."""
    parts = []
    for fragment in PAGE_FRAGMENTS.get(event.get("type"), ()):
        context = {"event": event, "user": user}
        if fragment.context is not None:
            extra = fragment.context(user, event)
            if extra is None:
                continue
            context.update(extra)
        parts.append(_render_fragment(fragment, context))
    if "seq" in event:
        # The page remembers the last seq it saw, to resume from it after a reconnect.
        parts.append(render_to_string("chat/live/seq.html", {"seq": event["seq"]}))
    return "".join(parts)


def shared_page_html(event: dict) -> str | None:
    """The HTML of an ephemeral event whose fragments are all shared, the same for every
    bunny: rendered once per process and event (no database, so in the event loop) instead
    of once per socket in the database thread, which cost a typing event to 500 page sockets
    ~40% of its CPU. None for any other event: render_page_event renders it per bunny."""
    fragments = PAGE_FRAGMENTS.get(event.get("type"))
    if not fragments or "seq" in event or not all(fragment.shared for fragment in fragments):
        return None
    return _render_shared(json.dumps(event, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _render_shared(event_json: str) -> str:
    event = json.loads(event_json)
    return "".join(
        _render_fragment(fragment, {"event": event}) for fragment in PAGE_FRAGMENTS[event["type"]]
    )


def render_friends_presence(user: User) -> str:
    """Every friend's presence dot as it is now (sync: queries), for a page socket that
    (re)connected: changes announced before its socket joined were never sent to it."""
    context = {"presence": selectors.friends_presence(user)}
    return render_to_string("chat/live/friends_presence.html", context).strip()


# --- Chat's fragments -------------------------------------------------------------------


def _conversation_state(user: User, conversation_id: int) -> dict | None:
    try:
        conversation = selectors.get_conversation_for(user, conversation_id)
    except Http404:
        return None
    [conversation] = selectors.decorate(user, [conversation])
    return {"conversation": conversation, "unread_total": selectors.total_unread(user)}


def message_context(user: User, event: dict) -> dict | None:
    message = selectors.get_message_for(user, event["message"]["id"])
    if message is None:
        return None
    state = _conversation_state(user, message.conversation_id)
    if state is None:
        return None
    return {**state, "message": message, "mine": message.sender_id == user.pk}


def read_context(user: User, event: dict) -> dict | None:
    return _conversation_state(user, event["conversation_id"])


def friendship_context(user: User, event: dict) -> dict | None:
    """A friendship ended or began: open or close the composer of their conversation."""
    other = User.objects.filter(username=event.get("user")).first()
    if other is None:
        return None
    conversation = selectors.direct_conversation_between(user, other)
    if conversation is None:
        return None
    [conversation] = selectors.decorate(user, [conversation])
    return {"current": conversation, "form": MessageForm(initial={"client_id": uuid.uuid4()})}


register_page_fragment("chat.message", "chat/live/message.html", message_context)
register_page_fragment("chat.read", "chat/live/read.html", read_context)
register_page_fragment("chat.typing", "chat/live/typing.html", shared=True)
register_page_fragment("presence", "chat/live/presence.html", shared=True)
register_page_fragment("friendship", "chat/live/friendship.html", friendship_context)
register_page_fragment("error", "chat/live/error.html")
register_page_fragment("resync", "chat/live/resync.html")
register_page_fragment("notification", "notifications/partials/live_notification.html")
register_page_fragment(
    "notification.removed", "notifications/partials/live_notification_removed.html"
)
register_page_fragment("notification.read", "notifications/partials/live_notification_read.html")
