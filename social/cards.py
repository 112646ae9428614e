"""Post cards of the feed and walls, rendered once and reused while nothing they show changes.

A card is ~150 template nodes (the post, its latest comments, their like, edit, delete and
report controls), most of a feed page's cost. What it shows depends on its rows, on a few
facts about the viewer (liked it? may edit, delete, report it and each comment?), on the
clock ("5 minutes ago") and on three per-request values: the CSRF token, the page a plain
form post returns to, and the current URL. The key below holds every row's field values,
those facts and the relative times; the per-request values are rendered as markers that
cannot occur in bunny text (NUL, which neither PostgreSQL text nor Django's form and DRF
fields accept) and filled in for each page. So a cached card is always exactly what the
template renders for this viewer now; viewers in the same position share it (most friends
of an author see the same card), and a change to any row is simply a new key.

Only the lists use it (`{% post_card %}` in post_page.html); a single card (post page, htmx
answers) renders straight from the template. Each process keeps its own LRU of at most
settings.POST_CARD_CACHE_SIZE cards (0: off).
"""

import functools
import re
import threading
from collections import OrderedDict

from django.conf import settings
from django.template import Context
from django.template.defaulttags import CsrfTokenNode
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.translation import get_language

from bunnybook import links

CSRF_MARK = "\x00csrf\x00"
NEXT_MARK = "\x00next\x00"
HERE_MARK = "\x00here\x00"
# Context key under which the markers stand in for next_path and here_quoted while a card
# is rendered for the cache.
MARKING = "_card_marking"

# Context variables that change a card without being in its key: pages that set them
# (the post page's comment list, likers, a comment form with errors) render uncached.
UNCACHED_WHEN = ("comment_page", "likers", "likers_others", "comment_form", "oob")


class _LRU:
    def __init__(self):
        self._items, self._lock = OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > settings.POST_CARD_CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cards = _LRU()


# Never shown on a card, and no business in a cache key.
_NEVER_SHOWN = frozenset({"password", "last_login"})


@functools.cache
def _shown_attnames(model) -> tuple[str, ...]:
    return tuple(
        field.attname for field in model._meta.concrete_fields if field.attname not in _NEVER_SHOWN
    )


def _row(obj) -> tuple:
    """The row's stored values, as loaded (never a query): whatever field a card may come to
    show is in the key without anyone having to remember to add it."""
    return tuple(map(obj.__dict__.get, _shown_attnames(type(obj))))


def card_key(post, viewer, liked_post_ids, liked_comment_ids, page: tuple, ago) -> tuple | None:
    """Everything post_card.html shows for `post` to `viewer`, or None when the card cannot
    be cached (comments not batch-loaded). The viewer enters only through what the template
    asks of her: liked, may edit (= wrote it: no Report button), may delete, signed in."""
    comments = getattr(post, "latest_comments", None)
    if comments is None or viewer is None:
        return None
    return (
        page,
        _row(post),
        _row(post.author),
        _row(post.wall),
        ago(post.created_at),
        post.pk in liked_post_ids,
        post.editable_by(viewer),
        post.deletable_by(viewer),
        bool(viewer.is_authenticated),
        tuple(
            (
                _row(comment),
                _row(comment.author),
                ago(comment.created_at),
                comment.pk in liked_comment_ids,
                comment.editable_by(viewer),
                comment.deletable_by(viewer, post=post),
            )
            for comment in comments
        ),
    )


def page_facts(context) -> tuple:
    """What all cards of one render share: language, time zone, URLconf and script prefix,
    autoescaping, and whether there is a request (the Report link carries `next` only then)."""
    current = links.current()
    return (
        get_language(),
        timezone.get_current_timezone_name(),
        current.urlconf,
        current.prefix,
        context.autoescape,
        context.get("request") is not None,
    )


@functools.cache
def _marked_csrf() -> str:
    """The CSRF marker as a card rendered for the cache shows it: inside its hidden input."""
    return CsrfTokenNode().render(Context({"csrf_token": CSRF_MARK}))


@functools.cache
def _markers() -> re.Pattern:
    return re.compile(f"({'|'.join(map(re.escape, (_marked_csrf(), NEXT_MARK, HERE_MARK)))})")


def cut(html: str) -> tuple[str, ...]:
    """A card rendered for the cache, cut at its markers: text, marker, text, … (every odd
    part a marker), so that filling it in is one join: replacing each marker throughout
    every card cost a feed page ~0.45 ms."""
    return tuple(_markers().split(html))


def fillings(context, next_path: str, here_quoted: str) -> dict[str, str]:
    """What each marker of a cached card stands for in this render."""
    return {
        _marked_csrf(): CsrfTokenNode().render(context),
        NEXT_MARK: conditional_escape(next_path),
        HERE_MARK: conditional_escape(here_quoted),
    }


def fill(parts: tuple[str, ...], fillings: dict[str, str]) -> str:
    filled = list(parts)
    filled[1::2] = [fillings[marker] for marker in parts[1::2]]
    return "".join(filled)


def enabled() -> bool:
    # With DEBUG the templates may change under a running server.
    return settings.POST_CARD_CACHE_SIZE > 0 and not settings.DEBUG
