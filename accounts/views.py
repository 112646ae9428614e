"""Account pages: sign-up, settings, avatar re-roll, and avatar images."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.forms import ProfileForm, SignupForm
from accounts.models import User
from bunnybook.ratelimit import limit


@require_http_methods(["GET", "POST"])
@limit("signup")
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except ValidationError:
            pass  # the form now carries the errors
        else:
            login(request, user, backend="accounts.backends.UsernameOrEmailBackend")
            messages.success(request, "Welcome to Bunnybook! Here is your bunny.")
            return redirect("settings")
    return TemplateResponse(request, "accounts/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    user = request.user
    initial = {"display_name": user.display_name, "bio": user.bio}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("settings")
    return TemplateResponse(request, "accounts/settings.html", {"form": form})


@login_required
@require_POST
def reroll_avatar(request):
    user = services.reroll_avatar(user=request.user)
    if request.htmx:
        return TemplateResponse(request, "accounts/partials/avatar_editor.html", {"user": user})
    return redirect("settings")


@require_GET
@cache_control(public=True, max_age=60 * 60 * 24 * 365, immutable=True)
def avatar(request, seed: int):
    """An avatar is a pure function of its seed: drawn once on first view, then stored.
    Only seeds some bunny wears are drawn, so nobody can fill the disk with strangers."""
    if not User.objects.filter(avatar_seed=seed).exists():
        raise Http404
    path = services.ensure_avatar_file(seed)
    return FileResponse(default_storage.open(path), content_type="image/png")
