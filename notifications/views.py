"""Notification pages: the list, the navigation dropdown, opening one, mark all read, and
the per-type settings. Items render from the API's JSON shape, the same one live events
carry, so a pushed item and a listed one are the same markup."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.forms import NotificationSettingsForm
from notifications.serializers import notification_target, serialize_notifications


def _list_context(request, *, cursor: str | None = None) -> dict:
    try:
        page = selectors.notifications_for(request.user, cursor=cursor)
    except ValidationError as exc:
        raise BadRequest("Invalid cursor.") from exc
    return {
        "notifications": serialize_notifications(request.user, page.items),
        "cursor": cursor,
        "next_cursor": page.next_cursor,
    }


def _menu_context(request) -> dict:
    latest = selectors.latest_notifications_for(request.user)
    return {
        "notifications": serialize_notifications(request.user, latest),
        "unread_count": selectors.unread_count_for(request.user),
    }


@login_required
@require_GET
def notification_list(request):
    cursor = request.GET.get("cursor") or None
    context = _list_context(request, cursor=cursor)
    if request.htmx and cursor:
        return TemplateResponse(request, "notifications/list.html#items", context)
    return TemplateResponse(request, "notifications/list.html", context)


@login_required
@require_GET
def notification_menu(request):
    """The dropdown under the navigation badge, loaded when it opens."""
    if not request.htmx:
        return redirect("notifications")
    return TemplateResponse(request, "notifications/partials/menu.html", _menu_context(request))


@login_required
@require_GET
def open_notification(request, notification_id: int):
    """Follow a notification: it is read from now on."""
    notification = selectors.get_notification_for(request.user, notification_id)
    services.mark_read(notification=notification, by=request.user)
    return redirect(notification_target(notification)["url"])


@login_required
@require_POST
def read_all(request):
    services.mark_all_read(user=request.user)
    if not request.htmx:
        return redirect("notifications")
    if request.POST.get("view") == "menu":
        return TemplateResponse(request, "notifications/partials/menu.html", _menu_context(request))
    context = {**_list_context(request), "unread_count": 0}
    return TemplateResponse(request, "notifications/partials/read_all.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    muted = selectors.muted_types_for(request.user)
    form = NotificationSettingsForm.for_muted(muted, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.set_muted_types(user=request.user, muted=form.muted_types())
        if request.htmx:
            form = NotificationSettingsForm.for_muted(form.muted_types())
            return TemplateResponse(
                request, "notifications/settings.html#form", {"form": form, "saved": True}
            )
        messages.success(request, "Notification settings saved.")
        return redirect("notification-settings")
    return TemplateResponse(request, "notifications/settings.html", {"form": form})
