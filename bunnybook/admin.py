"""What every app's admin shares: links between objects, excerpts, read-only admins, and the
intermediate form page of moderation actions that need a reason or a period."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator


def change_url(model_or_obj, pk=None) -> str | None:
    meta = model_or_obj._meta
    try:
        return reverse(
            f"admin:{meta.app_label}_{meta.model_name}_change",
            args=[pk if pk is not None else model_or_obj.pk],
        )
    except NoReverseMatch:
        return None


def changelist_url(model, **filters) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    return url


def link(obj: models.Model | None, label=None):
    """A link to the object's admin page; the caller must have fetched `obj` already
    (select_related), so a changelist column never costs a query per row."""
    if obj is None:
        return "—"
    url = change_url(obj)
    text = label if label is not None else str(obj)
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def excerpt(text: str, length: int = 80) -> str:
    return Truncator(" ".join((text or "").split())).chars(length)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that only services may write (friendships feed the graph outbox, chat
    writes feed the live event log): moderators look, and act through actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def run_with_form(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    form_class: type[forms.Form],
    title: str,
    apply: Callable[[models.Model, dict], object],
):
    """An admin action with an intermediate page: show `form_class` for the selected rows,
    then call `apply(row, cleaned_data)` for each one (each its own transaction), telling
    the moderator what worked and what did not."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        done = 0
        for row in queryset:
            try:
                apply(row, form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                detail = " ".join(getattr(exc, "messages", None) or [str(exc)])
                modeladmin.message_user(request, f"{row}: {detail}", messages.WARNING)
            else:
                done += 1
        if done:
            modeladmin.message_user(request, f"{title}: done for {done}.", messages.SUCCESS)
        return None  # back to the changelist
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "rows": list(queryset),
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/moderation_action.html", context)
