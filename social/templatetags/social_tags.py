"""Template helpers for social pages: bunny text rendered safely, times, relation labels."""

from datetime import datetime, timedelta

from django import template
from django.template.defaultfilters import date as format_date
from django.template.defaultfilters import linebreaksbr, urlize
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from social.forms import CommentForm

register = template.Library()

STATE_LABELS = {
    "self": "You",
    "friends": "Friend",
    "request_sent": "Request sent",
    "request_received": "Wants to be friends",
}


@register.filter
def rich_text(value) -> SafeString:
    """Bunny text as HTML: everything escaped, URLs made into links, line breaks kept.

    Escaping happens here whatever the template's autoescape says: this is user input."""
    linked = urlize(str(value), autoescape=True)  # escaped, links marked rel="nofollow"
    return linebreaksbr(linked, autoescape=True)


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now', '5 minutes ago' within a week; a date after that."""
    if moment is None:
        return ""
    age = timezone.now() - moment
    if age < timedelta(minutes=1):
        return "just now"
    if age < timedelta(days=7):
        return f"{timesince(moment, depth=1)} ago"
    return format_date(timezone.localtime(moment), "j M Y")


@register.filter
def state_label(state: str) -> str:
    """A short label for the viewer's relation to a bunny ('' for strangers)."""
    return STATE_LABELS.get(state, "")


@register.simple_tag(takes_context=True)
def comment_form_for(context, post) -> CommentForm:
    """The comment box under `post`: the bound one with errors if this request made it."""
    form = context.get("comment_form")
    if isinstance(form, CommentForm) and form.html_id == f"comment-form-{post.pk}":
        return form
    return CommentForm.for_post(post.pk)


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
