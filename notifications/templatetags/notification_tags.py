"""The navigation badge and a filter for the ISO times notifications carry as JSON."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince

from notifications import selectors

register = template.Library()


@register.inclusion_tag("notifications/partials/badge.html", takes_context=True)
def notification_badge(context) -> dict:
    user = context.get("user")
    # Every page shows the badge and it is usually empty: answer that case cheaply.
    if not (user and user.is_authenticated and selectors.has_unread(user)):
        return {"unread_count": 0}
    return {"unread_count": selectors.unread_count_for(user)}


@register.filter
def iso_ago(value: str | datetime) -> str:
    """'just now', '5 minutes ago': for an ISO 8601 string or a datetime."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
