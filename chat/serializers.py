"""The JSON shapes of chat: the API answers with them and live events carry them, so every
surface says the same thing."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api import ProfileSerializer, nested_serializer, profile_of
from chat.models import Conversation, Message


class MessageSerializer(serializers.ModelSerializer):
    conversation_id = serializers.IntegerField(read_only=True)
    sender = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "conversation_id", "sender", "body", "created_at", "client_id"]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer)
    def get_sender(self, message) -> dict:
        return profile_of(self, message.sender)


class ConversationSerializer(serializers.ModelSerializer):
    """Needs a conversation from chat.selectors.conversations_for (participants prefetched,
    `unread_count` annotated) and `open_ids` in the context."""

    participants = serializers.SerializerMethodField()
    last_message = serializers.SerializerMethodField()
    unread_count = serializers.IntegerField(read_only=True)
    open = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "kind",
            "participants",
            "last_message",
            "unread_count",
            "last_activity_at",
            "open",
        ]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer(many=True))
    def get_participants(self, conversation) -> list:
        return [
            profile_of(self, participant.user) for participant in conversation.participants.all()
        ]

    @extend_schema_field(MessageSerializer(allow_null=True))
    def get_last_message(self, conversation) -> dict | None:
        if conversation.last_message is None:
            return None
        message_serializer = nested_serializer(self, MessageSerializer)
        return message_serializer.to_representation(conversation.last_message)

    def get_open(self, conversation) -> bool:
        """False once the bunnies are no longer friends: history stays, sending does not."""
        return conversation.pk in self.context.get("open_ids", ())
