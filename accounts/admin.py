from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.html import format_html

from accounts.models import User


@admin.register(User)
class BunnyAdmin(UserAdmin):
    list_display = [
        "avatar_thumb",
        "username",
        "display_name",
        "email",
        "is_active",
        "is_staff",
        "date_joined",
    ]
    list_display_links = ["avatar_thumb", "username"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["username", "display_name", "email"]
    ordering = ["-date_joined"]
    readonly_fields = ["avatar_preview", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["display_name", "bio", "avatar_seed", "avatar_preview"]}),
        ("Contact", {"fields": ["email"]}),
        (
            "Access",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]

    @admin.display(description="")
    def avatar_thumb(self, user):
        return format_html('<img src="{}" alt="" width="32" height="32">', user.avatar_url)

    @admin.display(description="Avatar")
    def avatar_preview(self, user):
        return format_html('<img src="{}" alt="" width="128" height="128">', user.avatar_url)
