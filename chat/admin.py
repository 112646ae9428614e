"""Admin for conversations, messages and the live event log.

Read-only: chat writes go through chat.services (they feed the live event log). A message
can be removed with a moderation action (reports.services.remove_content, audited)."""

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.html import format_html, format_html_join

from accounts.forms import NoteForm
from bunnybook.admin import ReadOnlyAdmin, changelist_url, excerpt, link, run_with_form
from chat.models import Conversation, Message, Participant, UserEvent, UserEventCounter
from reports import services as report_services
from reports.models import TargetType


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["user", "joined_at", "last_read_message_id"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "title", "members", "last_text", "last_activity_at"]
    list_select_related = ["last_message"]
    list_filter = ["kind", "last_activity_at"]
    search_fields = ["=participants__user__username", "title"]
    ordering = ["-last_activity_at", "-id"]
    show_full_result_count = False
    fields = ["kind", "title", "pair_key", "created_at", "last_activity_at", "messages_link"]
    readonly_fields = fields
    inlines = [ParticipantInline]

    def get_queryset(self, request):
        # One extra query for every listed conversation's participants, not one per row.
        participants = Participant.objects.select_related("user").order_by("user__username")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("participants", queryset=participants))
        )

    @admin.display(description="Participants")
    def members(self, conversation):
        return format_html_join(
            ", ", "{}", ((link(p.user),) for p in conversation.participants.all())
        )

    @admin.display(description="Last message")
    def last_text(self, conversation):
        message = conversation.last_message
        return excerpt(message.body, 60) if message else "—"

    @admin.display(description="Messages")
    def messages_link(self, conversation):
        url = changelist_url(Message, conversation__id__exact=conversation.pk)
        return format_html('<a href="{}">All messages</a>', url)


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation_link", "bunny", "joined_at", "last_read_message_id"]
    list_select_related = ["conversation", "user"]
    search_fields = ["=user__username"]
    fields = list_display[1:]
    readonly_fields = fields

    @admin.display(description="Conversation", ordering="conversation_id")
    def conversation_link(self, participant):
        return link(participant.conversation)

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, participant):
        return link(participant.user)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation_link", "sender_link", "text", "created_at"]
    list_select_related = ["conversation", "sender"]
    list_filter = ["created_at"]
    search_fields = ["=sender__username", "body"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["conversation_link", "sender_link", "body", "client_id", "created_at", "reports"]
    readonly_fields = fields
    actions = ["remove"]

    @admin.display(description="Conversation", ordering="conversation_id")
    def conversation_link(self, message):
        return link(message.conversation)

    @admin.display(description="Sender", ordering="sender__username")
    def sender_link(self, message):
        return link(message.sender)

    @admin.display(description="Text")
    def text(self, message):
        return excerpt(message.body)

    @admin.display(description="Reports")
    def reports(self, message):
        from reports.models import Report

        url = changelist_url(Report, target_type=TargetType.MESSAGE, target_id=message.pk)
        return format_html('<a href="{}">Reports of this message</a>', url)

    @admin.action(description="Remove selected (moderation)…")
    def remove(self, request, queryset):
        def apply(message, data):
            report_services.remove_content(
                target_type=TargetType.MESSAGE,
                target=message,
                moderator=request.user,
                reason=data["note"],
            )

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Remove", apply=apply
        )


@admin.register(UserEvent)
class UserEventAdmin(ReadOnlyAdmin):
    """The durable per-bunny events sockets resume from (pruned by prune_live_events)."""

    list_display = ["id", "bunny", "seq", "event_type", "created_at"]
    list_select_related = ["user"]
    list_filter = ["created_at"]
    search_fields = ["=user__username"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["bunny", "seq", "payload", "created_at"]
    readonly_fields = fields

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, event):
        return link(event.user)

    @admin.display(description="Type")
    def event_type(self, event):
        return (event.payload or {}).get("type", "?")


@admin.register(UserEventCounter)
class UserEventCounterAdmin(ReadOnlyAdmin):
    list_display = ["bunny", "last_seq"]
    list_select_related = ["user"]
    search_fields = ["=user__username"]
    fields = list_display
    readonly_fields = fields

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, counter):
        return link(counter.user)
