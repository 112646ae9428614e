"""Template helpers for social pages: bunny text rendered safely, times, relation labels,
and the cheap links and form parts that pages with hundreds of them need."""

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django import template
from django.forms import BoundField
from django.template.defaultfilters import date as format_date
from django.template.defaultfilters import linebreaksbr, urlencode, urlize
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import get_language

from bunnybook import links
from social import cards
from social.forms import BlankField, CommentForm

register = template.Library()

STATE_LABELS = {
    "self": "You",
    "friends": "Friend",
    "request_sent": "Request sent",
    "request_received": "Wants to be friends",
}


@register.simple_tag(takes_context=True)
def link(context, name: str, *args) -> str:
    """`{% link 'post-edit' post.pk %}`: what `{% url %}` answers (also with `as var`), at a
    tenth of the cost, for pages with hundreds of links (see bunnybook.links)."""
    # Looked up once per render: the URLconf and script prefix cannot change during one.
    cache = context.render_context.dicts[0]
    builder = cache.get(links.Links)
    if builder is None:
        builder = cache[links.Links] = links.current()
    return builder.url(name, *args)


def _per_render(context, key, make):
    """A value computed once per template render (the includes of a page share it)."""
    cache = context.render_context.dicts[0]
    try:
        return cache[key]
    except KeyError:
        value = cache[key] = make()
        return value


@register.simple_tag(takes_context=True)
def next_path(context) -> str:
    """Where a plain (no-JavaScript) form post returns to: the page the form is on (for an
    htmx fragment, the page it is shown in)."""

    if context.get(cards.MARKING):
        return cards.NEXT_MARK

    def make() -> str:
        request = context.get("request")
        if request is None:
            return ""
        htmx = getattr(request, "htmx", None)
        return (htmx.current_url_abs_path if htmx else None) or request.get_full_path()

    return _per_render(context, next_path, make)


@register.simple_tag(takes_context=True)
def here_quoted(context) -> str:
    """`{{ request.get_full_path|urlencode }}`, worked out once per render."""

    if context.get(cards.MARKING):
        return cards.HERE_MARK

    def make() -> str:
        request = context.get("request")
        return urlencode(request.get_full_path()) if request is not None else ""

    return _per_render(context, here_quoted, make)


@register.simple_tag(takes_context=True)
def post_card(context, post) -> SafeString:
    """`{% include "social/partials/post_card.html" %}` for the cards of a list, each
    rendered once while nothing it shows changes (see social.cards)."""
    template = _per_render(
        context,
        post_card,
        lambda: context.template.engine.get_template("social/partials/post_card.html"),
    )
    key = None
    if cards.enabled() and not any(context.get(name) for name in cards.UNCACHED_WHEN):
        key = cards.card_key(
            post,
            context.get("user"),
            context.get("liked_post_ids") or (),
            context.get("liked_comment_ids") or (),
            _per_render(context, cards.page_facts, lambda: cards.page_facts(context)),
            ago,
        )
    if key is None:
        with context.push(post=post):
            return template.render(context)
    parts = cards.cards.get(key)
    if parts is None:
        with context.push({"post": post, "csrf_token": cards.CSRF_MARK, cards.MARKING: True}):
            parts = cards.cut(template.render(context))
        cards.cards.put(key, parts)
    fillings = _per_render(
        context,
        cards.fillings,
        lambda: cards.fillings(context, next_path(context), here_quoted(context)),
    )
    return mark_safe(cards.fill(parts, fillings))  # noqa: S308 - rendered by the template


@register.filter(expects_localtime=True)
def iso_time(moment: datetime | None) -> str:
    """`|date:'c'` (ISO 8601 in the current time zone), without the date filter's parsing."""
    return moment.isoformat() if isinstance(moment, datetime) else ""


# Date format characters that depend on nothing finer than the minute.
_MINUTE_FORMAT = re.compile(r"[^A-Za-z]*(?:[jdDmMnNbEFyYHGhgiaAl][^A-Za-z]*)*")


@lru_cache(maxsize=4096)
def _stamp(minute: tuple[int, int, int, int, int], fmt: str, language: str | None) -> str:
    # `language` keys the cache only: month and day names are translated.
    return format_date(datetime(*minute), fmt)  # noqa: DTZ001 - a local time, as the filter sees


@register.filter(expects_localtime=True)
def stamp(moment: datetime | None, fmt: str = "j M Y, H:i") -> str:
    """`|date:fmt` for formats no finer than the minute ("29 Nov 2026, 14:05"): a page shows
    the same few minutes over and over, and formatting one costs more than its whole line."""
    if not isinstance(moment, datetime):
        return ""
    if not _MINUTE_FORMAT.fullmatch(fmt):
        return format_date(moment, fmt)
    minute = (moment.year, moment.month, moment.day, moment.hour, moment.minute)
    return _stamp(minute, fmt, get_language())


# Bunny texts are rendered far more often than they change, and the rendering is a pure
# function of the text; the longest ones are not kept.
RICH_TEXT_CACHED_LENGTH = 2000


@lru_cache(maxsize=2048)
def _rich_text(text: str) -> SafeString:
    linked = urlize(text, autoescape=True)  # escaped, links marked rel="nofollow"
    return linebreaksbr(linked, autoescape=True)


@register.filter
def rich_text(value) -> SafeString:
    """Bunny text as HTML: everything escaped, URLs made into links, line breaks kept.

    Escaping happens here whatever the template's autoescape says: this is user input."""
    text = str(value)
    # Only plain strings are cached: urlize trusts a SafeString, which equals its plain twin.
    if type(text) is str and len(text) <= RICH_TEXT_CACHED_LENGTH:
        return _rich_text(text)
    return _rich_text.__wrapped__(text)


_AGO_REFERENCE = datetime(2001, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _ago_text(minutes: int, language: str | None) -> str:
    # Within a week timesince(depth=1) depends only on the whole minutes elapsed (and, as a
    # cache key only, on the language its words are translated into).
    later = _AGO_REFERENCE + timedelta(minutes=minutes)
    return f"{timesince(_AGO_REFERENCE, later, depth=1)} ago"


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now', '5 minutes ago' within a week; a date after that."""
    if moment is None:
        return ""
    age = timezone.now() - moment
    if age < timedelta(minutes=1):
        return "just now"
    if age < timedelta(days=7):
        return _ago_text(int(age.total_seconds() // 60), get_language())
    return stamp(timezone.localtime(moment), "j M Y")


@register.filter
def state_label(state: str) -> str:
    """A short label for the viewer's relation to a bunny ('' for strangers)."""
    return STATE_LABELS.get(state, "")


class _BlankCommentForm:
    """An empty comment box, cut from one CommentForm that Django rendered: a feed page
    shows twenty, and a form per post (~0.2 ms each) was a tenth of the page."""

    STAND_IN = 860421937

    def __init__(self, post_id: int):
        self.html_id = f"comment-form-{post_id}"
        head, tail, prototype = self._prototype(get_language())
        widget = mark_safe(f"{head}{post_id}{tail}")  # noqa: S308 - Django's own markup
        self.body = BlankField(prototype, widget, auto_id=f"{self.html_id}-body")

    @staticmethod
    @lru_cache(maxsize=8)
    def _prototype(language: str | None) -> tuple[str, str, BoundField]:
        """The body widget's markup before and after the post id, and the field."""
        field = CommentForm.for_post(_BlankCommentForm.STAND_IN)["body"]
        html = str(field)
        stand_in = str(_BlankCommentForm.STAND_IN)
        head, found, tail = html.partition(f"comment-form-{stand_in}-")
        if not found or stand_in in tail:
            raise ValueError("The comment box's markup changed shape.")
        return f"{head}comment-form-", f"-{tail}", field


@register.simple_tag(takes_context=True)
def comment_form_for(context, post):
    """The comment box under `post`: the bound one with errors if this request made it."""
    form = context.get("comment_form")
    if isinstance(form, CommentForm) and form.html_id == f"comment-form-{post.pk}":
        return form
    return _BlankCommentForm(post.pk)


@register.filter
def editable_by(item, user) -> bool:
    """`{% if post|editable_by:user %}`: the models' own rule, never a copy in a template."""
    return item.editable_by(user)


@register.filter
def deletable_by(post, user) -> bool:
    return post.deletable_by(user)


@register.simple_tag
def comment_deletable(comment, post, user) -> bool:
    return comment.deletable_by(user, post=post)
