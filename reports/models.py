"""Reports: a bunny flags a post, comment, message or bunny for the moderators' queue.

Reports live in their own app because their targets span apps (social's posts, comments
and bunnies; chat's messages) and chat already depends on social: here they can point at
both without an import cycle. The target is a (type, id) pair, not a foreign key, and the
reported text is copied into `snapshot`, so a report outlives an edited or deleted target.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

User = settings.AUTH_USER_MODEL
REASON_MAX_LENGTH = 1000


class TargetType(models.TextChoices):
    POST = "post", "Post"
    COMMENT = "comment", "Comment"
    MESSAGE = "message", "Message"
    USER = "user", "Bunny"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    CONTENT_DELETED = "content_deleted", "Content deleted"
    BUNNY_SUSPENDED = "bunny_suspended", "Bunny suspended"
    BUNNY_BANNED = "bunny_banned", "Bunny banned"


class ReportQuerySet(models.QuerySet):
    def open(self) -> "ReportQuerySet":
        return self.filter(status=ReportStatus.OPEN)

    def about(self, target_type: str, target_id: int) -> "ReportQuerySet":
        return self.filter(target_type=target_type, target_id=target_id)


class Report(models.Model):
    reporter = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="reports_made"
    )
    target_type = models.CharField(max_length=10, choices=TargetType.choices)
    target_id = models.BigIntegerField()
    # The reported bunny, or the author of the reported content.
    target_bunny = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports_against"
    )
    snapshot = models.TextField(help_text="The reported text as it was when reported.")
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    status = models.CharField(
        max_length=20, choices=ReportStatus.choices, default=ReportStatus.OPEN
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        constraints = [
            # One open report per reporter and target: a second click is a 409, not a row.
            models.UniqueConstraint(
                fields=["reporter", "target_type", "target_id"],
                condition=Q(status="open"),
                name="report_open_once_per_reporter",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="report_queue"),
            models.Index(fields=["target_type", "target_id"], name="report_by_target"),
        ]

    def __str__(self):
        return f"Report {self.pk}: {self.target_type} {self.target_id}"

    @property
    def is_open(self) -> bool:
        return self.status == ReportStatus.OPEN
