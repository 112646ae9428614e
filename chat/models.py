"""Conversations, messages, and the durable per-bunny event log that sockets resume from."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from bunnybook import links

User = settings.AUTH_USER_MODEL
MESSAGE_MAX_LENGTH = 4000


class UserEventCounter(models.Model):
    """The last sequence number handed out to a bunny's events."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.user_id}: {self.last_seq}"


class UserEvent(models.Model):
    """An event that matters after a reconnect (messages, read state, notifications,
    friendship changes), kept for some days so a client can resume from its last `seq`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "seq"], name="user_event_seq_unique")
        ]

    def __str__(self):
        return f"{self.user_id}#{self.seq} {self.payload.get('type')}"


class ConversationKind(models.TextChoices):
    DIRECT = "direct", "1-to-1"
    GROUP = "group", "Group"


class Conversation(models.Model):
    """A conversation between participants. A 1-to-1 has a `pair_key` ("<low id>:<high id>"),
    so the database holds one per pair; a group has none and any number of participants."""

    kind = models.CharField(
        max_length=10, choices=ConversationKind.choices, default=ConversationKind.DIRECT
    )
    pair_key = models.CharField(max_length=41, unique=True, null=True, blank=True)
    title = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every message: the conversation list sorts on it.
    last_activity_at = models.DateTimeField(default=timezone.now)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["-last_activity_at", "-id"], name="conversation_activity")]

    def __str__(self):
        return f"Conversation {self.pk} ({self.kind})"

    def get_absolute_url(self) -> str:
        return links.url("chat-conversation", self.pk)

    @staticmethod
    def pair_key_for(first_id: int, second_id: int) -> str:
        low, high = sorted((first_id, second_id))
        return f"{low}:{high}"


class Participant(models.Model):
    """A bunny in a conversation, with her read cursor: messages with a larger id than
    `last_read_message_id` (and not her own) are unread."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="chat_participations")
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_message_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="participant_once_per_conversation"
            )
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="participant_by_user")]

    def __str__(self):
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    """A chat message. `client_id` is made once per message by the client, so a retry of
    the same send finds the first copy instead of storing a second one."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    client_id = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="message_client_id_unique_per_sender"
            ),
            models.CheckConstraint(condition=~models.Q(body=""), name="message_body_not_empty"),
        ]
        indexes = [models.Index(fields=["conversation", "-id"], name="message_by_conversation")]

    def __str__(self):
        return f"Message {self.pk} in {self.conversation_id}"
