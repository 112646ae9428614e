"""Admin for bunnies, their sessions and the moderation audit log.

Sanction fields are read-only here: suspending, banning and lifting go through the
actions, which call accounts.moderation (so sessions, tokens and sockets end with them and
an audit row is written)."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html

from accounts import moderation
from accounts.forms import AdminLoginForm, NoteForm, ReasonForm, SuspensionForm
from accounts.models import BunnySession, ModerationAction, User
from bunnybook.admin import ReadOnlyAdmin, change_url, changelist_url, excerpt, link, run_with_form

admin.site.login_form = AdminLoginForm


class SanctionFilter(admin.SimpleListFilter):
    title = "sanction"
    parameter_name = "sanction"

    def lookups(self, request, model_admin):
        return [("banned", "Banned"), ("suspended", "Suspended now"), ("none", "None")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "banned":
            return queryset.filter(banned_at__isnull=False)
        if self.value() == "suspended":
            return queryset.filter(suspended_until__gt=now)
        if self.value() == "none":
            return queryset.filter(banned_at__isnull=True).exclude(suspended_until__gt=now)
        return queryset


def sanction_label(user: User) -> str:
    if user.is_banned:
        return "banned"
    if user.is_suspended():
        return f"suspended until {user.suspended_until:%Y-%m-%d %H:%M}"
    return "—"


@admin.register(User)
class BunnyAdmin(UserAdmin):
    list_display = [
        "avatar_thumb",
        "username",
        "display_name",
        "email",
        "sanction",
        "is_active",
        "is_staff",
        "date_joined",
    ]
    list_display_links = ["avatar_thumb", "username"]
    list_filter = [SanctionFilter, "is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["username", "display_name", "email"]
    ordering = ["-date_joined"]
    show_full_result_count = False  # a COUNT(*) per page is slow at 100k bunnies
    readonly_fields = [
        "avatar_preview",
        "last_login",
        "date_joined",
        "sanction",
        "suspended_until",
        "suspension_reason",
        "banned_at",
        "ban_reason",
        "moderation_links",
    ]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["display_name", "bio", "avatar_seed", "avatar_preview"]}),
        ("Contact", {"fields": ["email"]}),
        (
            "Moderation",
            {
                "fields": [
                    "sanction",
                    "suspended_until",
                    "suspension_reason",
                    "banned_at",
                    "ban_reason",
                    "moderation_links",
                ]
            },
        ),
        (
            "Access",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    actions = ["suspend", "lift_suspension", "ban", "unban"]

    @admin.display(description="")
    def avatar_thumb(self, user):
        return format_html('<img src="{}" alt="" width="32" height="32">', user.avatar_url)

    @admin.display(description="Avatar")
    def avatar_preview(self, user):
        return format_html('<img src="{}" alt="" width="128" height="128">', user.avatar_url)

    @admin.display(description="Sanction")
    def sanction(self, user):
        return sanction_label(user)

    @admin.display(description="History")
    def moderation_links(self, user):
        if user.pk is None:
            return "—"
        return format_html(
            '<a href="{}">Audit log</a> · <a href="{}">Reports against</a> · '
            '<a href="{}">Reports made</a> · <a href="{}">Sessions</a>',
            changelist_url(ModerationAction, bunny__id__exact=user.pk),
            changelist_url(_report_model(), target_bunny__id__exact=user.pk),
            changelist_url(_report_model(), reporter__id__exact=user.pk),
            changelist_url(BunnySession, user_id=user.pk),
        )

    @admin.action(description="Suspend selected bunnies…")
    def suspend(self, request, queryset):
        def apply(bunny, data):
            until = timezone.now() + timedelta(days=data["days"])
            moderation.suspend_bunny(
                bunny=bunny, moderator=request.user, until=until, reason=data["reason"]
            )

        return run_with_form(
            self, request, queryset, form_class=SuspensionForm, title="Suspend", apply=apply
        )

    @admin.action(description="Lift the suspension of selected bunnies…")
    def lift_suspension(self, request, queryset):
        def apply(bunny, data):
            moderation.lift_suspension(bunny=bunny, moderator=request.user, reason=data["note"])

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Lift suspension", apply=apply
        )

    @admin.action(description="Ban selected bunnies…")
    def ban(self, request, queryset):
        def apply(bunny, data):
            moderation.ban_bunny(bunny=bunny, moderator=request.user, reason=data["reason"])

        return run_with_form(
            self, request, queryset, form_class=ReasonForm, title="Ban", apply=apply
        )

    @admin.action(description="Unban selected bunnies…")
    def unban(self, request, queryset):
        def apply(bunny, data):
            moderation.unban_bunny(bunny=bunny, moderator=request.user, reason=data["note"])

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Unban", apply=apply
        )


def _report_model():
    from reports.models import Report  # reports depends on accounts, not the other way

    return Report


@admin.register(BunnySession)
class BunnySessionAdmin(ReadOnlyAdmin):
    list_display = ["short_key", "bunny", "expire_date"]
    search_fields = ["=user_id"]
    list_filter = ["expire_date"]
    ordering = ["-expire_date"]
    fields = ["short_key", "bunny", "expire_date"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return True  # deleting a session logs that browser out; nothing else depends on it

    def get_queryset(self, request):
        # user_id is a plain column: fetch the names in the same query.
        username = User.objects.filter(pk=OuterRef("user_id")).values("username")[:1]
        return super().get_queryset(request).annotate(username=Subquery(username))

    @admin.display(description="Key")
    def short_key(self, session):
        return f"{session.session_key[:8]}…"

    @admin.display(description="Bunny", ordering="username")
    def bunny(self, session):
        if session.user_id is None:
            return "anonymous"
        url = change_url(User, session.user_id)
        return format_html('<a href="{}">{}</a>', url, session.username or session.user_id)


class ModeratorFilter(admin.SimpleListFilter):
    """Only staff bunnies: listing all 100k bunnies as filter choices would be useless."""

    title = "moderator"
    parameter_name = "moderator"

    def lookups(self, request, model_admin):
        return list(User.objects.filter(is_staff=True).values_list("pk", "username"))

    def queryset(self, request, queryset):
        return queryset.filter(moderator_id=self.value()) if self.value() else queryset


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdmin):
    """The audit log: who did what to whom, when and why. Nobody edits or deletes it."""

    list_display = ["created_at", "moderator_link", "action", "bunny_link", "target", "why"]
    list_filter = ["action", ModeratorFilter, "created_at"]
    list_select_related = ["moderator", "bunny", "target_type"]
    search_fields = ["bunny__username", "moderator__username", "target_repr", "reason"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    fields = [
        "created_at",
        "moderator_link",
        "action",
        "bunny_link",
        "target",
        "reason",
        "until",
    ]
    readonly_fields = fields

    @admin.display(description="Moderator", ordering="moderator__username")
    def moderator_link(self, entry):
        return link(entry.moderator)

    @admin.display(description="Bunny", ordering="bunny__username")
    def bunny_link(self, entry):
        return link(entry.bunny)

    @admin.display(description="Target")
    def target(self, entry):
        model = entry.target_type.model_class()
        url = change_url(model, entry.target_id) if model else None
        label = f"{entry.target_type.name} {entry.target_id}: {entry.target_repr}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description="Reason")
    def why(self, entry):
        return excerpt(entry.reason)
