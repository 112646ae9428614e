"""Template helpers for the live socket and chat: the page's starting `seq`, unread totals."""

from django import template
from django.template.loader import render_to_string

from chat import selectors

register = template.Library()


def live_seq_for(request) -> int:
    """The bunny's last event `seq` as this page saw it, read once per request and before
    anything else the page shows, so resuming from it can only repeat, never skip."""
    if not hasattr(request, "live_seq"):
        request.live_seq = selectors.current_seq(request.user.pk)
    return request.live_seq


@register.simple_tag(takes_context=True)
def live_seq(context) -> int:
    return live_seq_for(context["request"])


@register.simple_tag(takes_context=True)
def chat_unread_total(context) -> int:
    request = context["request"]
    live_seq_for(request)
    return selectors.total_unread(request.user)


@register.inclusion_tag("chat/partials/unread_badge.html", takes_context=True)
def chat_badge(context) -> dict:
    """The navigation's unread-messages badge."""
    return {"unread_total": chat_unread_total(context)}


@register.simple_tag(takes_context=True)
def presence_dot_for(context, bunny) -> str:
    """`bunny`'s online dot for the viewer: shown for her friends and herself, nothing for
    strangers (who never learn a bunny's presence). Uses the page's `state` (the viewer's
    friendship with `bunny`, as on a profile). Kept live by the page's socket."""
    request = context["request"]
    state = context.get("state")
    if state not in ("self", "friends"):
        return ""
    online = selectors.presence_for(request.user, [bunny], {bunny.pk: state}).get(bunny.pk)
    return render_to_string(
        "chat/partials/presence_dot.html", {"bunny_id": bunny.pk, "online": online}
    )
