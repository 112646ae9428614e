"""Every report write: a bunny reports something; a moderator works the queue.

Each moderator action is one transaction that closes the report and adds an audit row
(accounts.moderation.record_moderation); sanctions go through accounts.moderation.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import moderation
from accounts.models import ModerationAction, User
from bunnybook.errors import Conflict
from chat.models import Conversation, Message
from notifications import services as notifications
from reports.models import REASON_MAX_LENGTH, Report, ReportStatus, TargetType
from reports.selectors import author_of, find_target, get_report_target_for
from social.models import Comment, Post

Action = ModerationAction.Action


class AlreadyReported(Conflict):
    pass


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Tell the moderators what is wrong."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [f"Keep it to {REASON_MAX_LENGTH} characters."]})
    return reason


@transaction.atomic
def report_content(*, reporter: User, target_type: str, target_id: int, reason: str) -> Report:
    """File a report about something the reporter can see (404 otherwise), keeping a copy
    of its text. A second open report of the same thing by the same bunny is a conflict."""
    if target_type not in TargetType.values:
        raise ValidationError({"target_type": ["Choose post, comment, message or user."]})
    reason = _clean_reason(reason)
    target = get_report_target_for(reporter, target_type, target_id)
    if target.bunny.pk == reporter.pk:
        raise ValidationError({"target_id": ["You cannot report yourself or your own words."]})
    try:
        with transaction.atomic():
            return Report.objects.create(
                reporter=reporter,
                target_type=target_type,
                target_id=target.obj.pk,
                target_bunny=target.bunny,
                snapshot=target.snapshot,
                reason=reason,
            )
    except IntegrityError as exc:
        raise AlreadyReported(
            "You have reported this already; moderators will look at it."
        ) from exc


# --- Moderators -------------------------------------------------------------------------


def _locked_open(report: Report, moderator: User) -> Report:
    if not moderator.is_staff:
        raise PermissionDenied("Only moderators can do that.")
    current = Report.objects.select_for_update().get(pk=report.pk)
    if not current.is_open:
        raise ValidationError(f"Report {current.pk} is already {current.get_status_display()}.")
    return current


def _close(reports, *, moderator: User, status: str, note: str) -> int:
    return reports.update(
        status=status, resolved_by=moderator, resolved_at=timezone.now(), resolution_note=note
    )


def _close_one(report: Report, *, moderator: User, status: str, note: str) -> Report:
    _close(Report.objects.filter(pk=report.pk), moderator=moderator, status=status, note=note)
    report.refresh_from_db()
    return report


@transaction.atomic
def dismiss_report(*, report: Report, moderator: User, note: str = "") -> Report:
    current = _locked_open(report, moderator)
    note = (note or "").strip()
    moderation.record_moderation(
        moderator=moderator,
        action=Action.DISMISS_REPORT,
        target=current,
        bunny=current.target_bunny,
        reason=note,
    )
    return _close_one(current, moderator=moderator, status=ReportStatus.DISMISSED, note=note)


def _delete_comment(comment: Comment) -> None:
    notifications.withdraw_comment(comment=comment)
    comment.delete()
    Post.objects.filter(pk=comment.post_id).update(comment_count=F("comment_count") - 1)


def _delete_message(message: Message) -> None:
    conversation_id = message.conversation_id
    message.delete()
    # The conversation list shows the last message: point it at the one now last.
    latest = Message.objects.filter(conversation_id=conversation_id).order_by("-id").first()
    Conversation.objects.filter(pk=conversation_id).update(last_message=latest)


def _clear_profile(bunny: User) -> None:
    bunny.display_name = ""
    bunny.bio = ""
    bunny.save(update_fields=["display_name", "bio"])


@transaction.atomic
def remove_content(
    *, target_type: str, target, moderator: User, reason: str = ""
) -> ModerationAction:
    """Delete a post, comment or message as a moderator (for a bunny: clear her profile's
    name and bio), whether reported or not. Every open report of it closes."""
    if not moderator.is_staff:
        raise PermissionDenied("Only moderators can do that.")
    entry = moderation.record_moderation(
        moderator=moderator,
        action=Action.DELETE_CONTENT,
        target=target,
        bunny=author_of(target_type, target),
        reason=(reason or "").strip(),
    )
    if target_type == TargetType.POST:
        target.delete()
    elif target_type == TargetType.COMMENT:
        _delete_comment(target)
    elif target_type == TargetType.MESSAGE:
        _delete_message(target)
    else:
        _clear_profile(target)
    _close(
        Report.objects.open().about(target_type, entry.target_id),
        moderator=moderator,
        status=ReportStatus.CONTENT_DELETED,
        note=entry.reason,
    )
    return entry


@transaction.atomic
def delete_reported_content(*, report: Report, moderator: User, note: str = "") -> Report:
    """Delete what the report is about; it closes with every other open report of it."""
    current = _locked_open(report, moderator)
    target = find_target(current.target_type, current.target_id)
    if target is None:
        raise ValidationError("The content is gone already; dismiss the report instead.")
    remove_content(
        target_type=current.target_type,
        target=target,
        moderator=moderator,
        reason=(note or "").strip() or current.reason,
    )
    current.refresh_from_db()
    return current


def _reported_bunny(report: Report) -> User:
    if report.target_bunny is None:
        raise ValidationError("The reported bunny's account is gone.")
    return report.target_bunny


@transaction.atomic
def suspend_reported_bunny(
    *, report: Report, moderator: User, until: datetime, reason: str
) -> Report:
    """Suspend the reported bunny (or the author) until `until`, closing the report."""
    current = _locked_open(report, moderator)
    moderation.suspend_bunny(
        bunny=_reported_bunny(current), moderator=moderator, until=until, reason=reason
    )
    return _close_one(
        current, moderator=moderator, status=ReportStatus.BUNNY_SUSPENDED, note=reason
    )


@transaction.atomic
def ban_reported_bunny(*, report: Report, moderator: User, reason: str) -> Report:
    """Ban the reported bunny (or the author); every open report against her closes."""
    current = _locked_open(report, moderator)
    bunny = _reported_bunny(current)
    moderation.ban_bunny(bunny=bunny, moderator=moderator, reason=reason)
    _close(
        Report.objects.open().filter(target_bunny=bunny),
        moderator=moderator,
        status=ReportStatus.BUNNY_BANNED,
        note=reason,
    )
    current.refresh_from_db()
    return current
