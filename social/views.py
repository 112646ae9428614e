"""Social pages: the feed and profiles."""

from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from accounts.models import User


@require_GET
def home(request):
    if not request.user.is_authenticated:
        return TemplateResponse(request, "social/landing.html")
    return TemplateResponse(request, "social/feed.html")


@require_GET
def profile(request, username: str):
    owner = get_object_or_404(User, username__iexact=username, is_active=True)
    return TemplateResponse(request, "social/profile.html", {"owner": owner})
