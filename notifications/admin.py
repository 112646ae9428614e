"""Admin for notifications, their actors and muted types. Notifications are written by
notifications.services only, so they are read-only here."""

from django.contrib import admin

from bunnybook.admin import ReadOnlyAdmin, link
from notifications.models import MutedNotificationType, Notification, NotificationActor


class NotificationActorInline(admin.TabularInline):
    model = NotificationActor
    extra = 0
    fields = ["actor", "acted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "recipient_link", "type", "target", "created_at", "read_at"]
    list_select_related = ["recipient", "post", "comment", "friend_request"]
    list_filter = ["type", "created_at", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["=recipient__username"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = ["recipient_link", "type", "group_key", "target", "created_at", "read_at"]
    readonly_fields = fields
    inlines = [NotificationActorInline]

    @admin.display(description="Recipient", ordering="recipient__username")
    def recipient_link(self, notification):
        return link(notification.recipient)

    @admin.display(description="About")
    def target(self, notification):
        for obj in (notification.comment, notification.post, notification.friend_request):
            if obj is not None:
                return link(obj)
        return "—"


@admin.register(NotificationActor)
class NotificationActorAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification_link", "actor_link", "acted_at"]
    list_select_related = ["notification", "actor"]
    search_fields = ["=actor__username"]
    ordering = ["-acted_at", "-id"]
    show_full_result_count = False
    fields = ["notification_link", "actor_link", "acted_at"]
    readonly_fields = fields

    @admin.display(description="Notification", ordering="notification_id")
    def notification_link(self, row):
        return link(row.notification)

    @admin.display(description="Actor", ordering="actor__username")
    def actor_link(self, row):
        return link(row.actor)


@admin.register(MutedNotificationType)
class MutedNotificationTypeAdmin(ReadOnlyAdmin):
    list_display = ["bunny", "type"]
    list_select_related = ["user"]
    list_filter = ["type"]
    search_fields = ["=user__username"]
    fields = ["bunny", "type"]
    readonly_fields = fields

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, row):
        return link(row.user)
