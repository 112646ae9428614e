"""Chat in the admin: read-only views of conversations and messages for moderation."""

from django.contrib import admin

from chat.models import Conversation, Message, Participant


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["joined_at", "last_read_message_id"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "pair_key", "last_activity_at"]
    list_filter = ["kind"]
    search_fields = ["participants__user__username"]
    readonly_fields = ["created_at", "last_activity_at", "last_message"]
    inlines = [ParticipantInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "conversation", "sender", "created_at"]
    search_fields = ["sender__username", "body"]
    raw_id_fields = ["conversation", "sender"]
    readonly_fields = ["client_id", "created_at"]
    date_hierarchy = "created_at"
