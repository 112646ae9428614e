"""The suggestions side panel and its two actions (htmx, with a plain-form fallback)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from bunnybook.errors import Conflict
from bunnybook.ratelimit import limit
from social import selectors, services
from social.graph import services as graph_services
from social.graph.suggestions import suggestions_for

PANEL_SIZE = 5


def panel_context(viewer) -> dict:
    """What templates/social/partials/suggestions.html needs; pages that include the panel
    add this to their context."""
    return {"suggestions": suggestions_for(viewer, limit=PANEL_SIZE)}


@login_required
@require_GET
def suggestions_panel(request):
    return TemplateResponse(
        request, "social/partials/suggestions.html", panel_context(request.user)
    )


def _card_gone(request):
    """htmx swaps the card for this empty 200; a plain form goes back to the feed."""
    if request.htmx:
        return HttpResponse("")
    return redirect("home")


@login_required
@require_POST
@limit("friend_request")
def add_suggested_friend(request, username: str):
    bunny = selectors.get_bunny_for(request.user, username)
    try:
        services.send_friend_request(sender=request.user, to=bunny)
    except ValidationError:
        return HttpResponseBadRequest("You cannot befriend yourself.")
    except Conflict:
        pass  # already friends or already asked: the suggestion goes either way
    else:
        if not request.htmx:
            messages.success(request, f"Friend request sent to {bunny.name}.")
    return _card_gone(request)


@login_required
@require_POST
def dismiss_suggestion(request, username: str):
    bunny = selectors.get_bunny_for(request.user, username)
    try:
        graph_services.dismiss_suggestion(user=request.user, dismissed=bunny)
    except ValidationError:
        return HttpResponseBadRequest("You are never suggested to yourself.")
    return _card_gone(request)
