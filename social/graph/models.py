"""The outbox that feeds the Neo4j projection, and "not now" dismissals of suggestions.

Registered under the `social` app (social/models.py imports this module).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class GraphOutboxQuerySet(models.QuerySet):
    def pending(self) -> "GraphOutboxQuerySet":
        return self.filter(done_at__isnull=True)


class GraphOutbox(models.Model):
    """One friendship edge change, written in the transaction that made it and applied to
    Neo4j after commit. Each row states the pair's relation after the change, so applying
    a pair's rows in id order (or only its last one) is idempotent."""

    class Op(models.TextChoices):
        LINK = "link", "Link"
        UNLINK = "unlink", "Unlink"

    # Plain ids, not foreign keys: the change must outlive a deleted bunny's row.
    user_a_id = models.BigIntegerField()
    user_b_id = models.BigIntegerField()
    op = models.CharField(max_length=6, choices=Op.choices)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = GraphOutboxQuerySet.as_manager()

    class Meta:
        app_label = "social"
        indexes = [
            models.Index(
                fields=["id"], condition=Q(done_at__isnull=True), name="graph_outbox_pending"
            ),
            models.Index(fields=["user_a_id", "user_b_id", "id"], name="graph_outbox_by_pair"),
            models.Index(fields=["done_at"], name="graph_outbox_done"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user_a_id__lt=models.F("user_b_id")), name="graph_outbox_pair_ordered"
            ),
        ]

    def __str__(self):
        return f"{self.op} {self.user_a_id}-{self.user_b_id}"

    @property
    def pair(self) -> tuple[int, int]:
        return (self.user_a_id, self.user_b_id)


class SuggestionDismissal(models.Model):
    """ "Not now" on a suggestion: the bunny is not suggested again for DISMISS_DAYS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    dismissed = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "social"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dismissed"], name="suggestion_dismissal_unique"
            ),
        ]

    def __str__(self):
        return f"{self.user_id} not now {self.dismissed_id}"
