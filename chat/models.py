"""Conversations, messages, and the durable per-bunny event log that sockets resume from."""

from django.conf import settings
from django.db import models

User = settings.AUTH_USER_MODEL


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
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="user_event_seq_unique")]

    def __str__(self):
        return f"{self.user_id}#{self.seq} {self.payload.get('type')}"
