"""Sanctions on bunnies (suspend, lift, ban, unban) and the moderation audit log.

Every action is one transaction that writes the sanction, ends the bunny's access and adds
an audit row. Ending access is immediate on every channel: her page sessions are deleted,
every outstanding refresh token is blacklisted, access tokens are refused from the next
request on (accounts.authentication checks the sanction on each one), and her open sockets
are told to close once the transaction commits. An unban restores the right to log in, not
the old sessions or tokens.
"""

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import BunnySession, ModerationAction, User
from accounts.services import revoke_refresh_tokens
from chat.services import close_live_sockets

REASON_MAX_LENGTH = 1000
Action = ModerationAction.Action


def _clean_reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError({"reason": ["Say why: the bunny is shown this reason."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [f"Keep it to {REASON_MAX_LENGTH} characters."]})
    return reason


def _check_moderator(moderator: User, bunny: User) -> None:
    if not moderator.is_staff:
        raise PermissionDenied("Only moderators can do that.")
    if moderator.pk == bunny.pk:
        raise ValidationError("Moderators cannot sanction themselves.")
    if bunny.is_superuser and not moderator.is_superuser:
        raise PermissionDenied("Only a superuser can sanction a superuser.")


def _locked(bunny: User) -> User:
    """The bunny's current row, locked until the transaction ends."""
    return User.objects.select_for_update().get(pk=bunny.pk)


def record_moderation(
    *,
    moderator: User | None,
    action: str,
    target: models.Model,
    bunny: User | None = None,
    reason: str = "",
    until: datetime | None = None,
) -> ModerationAction:
    """Add an audit row, in the caller's transaction."""
    return ModerationAction.objects.create(
        moderator=moderator,
        action=action,
        bunny=bunny,
        target_type=ContentType.objects.get_for_model(target),
        target_id=target.pk,
        target_repr=str(target)[:200],
        reason=reason,
        until=until,
    )


@transaction.atomic
def end_access(*, user_id: int) -> dict:
    """End every way the bunny is signed in: page sessions, refresh tokens, sockets.
    Access tokens need nothing here; they are checked against the sanction on each use."""
    sessions, _ = BunnySession.objects.filter(user_id=user_id).delete()
    tokens = revoke_refresh_tokens(user_id=user_id)
    close_live_sockets(user_id=user_id)
    return {"sessions": sessions, "refresh_tokens": tokens}


@transaction.atomic
def suspend_bunny(
    *, bunny: User, moderator: User, until: datetime, reason: str
) -> ModerationAction:
    """Lock the bunny out until `until`; she sees the reason when she tries to log in.
    A later suspension replaces an earlier one."""
    _check_moderator(moderator, bunny)
    reason = _clean_reason(reason, required=True)
    if until <= timezone.now():
        raise ValidationError({"until": ["A suspension must end in the future."]})
    current = _locked(bunny)
    current.suspended_until = until
    current.suspension_reason = reason
    current.save(update_fields=["suspended_until", "suspension_reason"])
    end_access(user_id=current.pk)
    bunny.suspended_until, bunny.suspension_reason = until, reason
    return record_moderation(
        moderator=moderator,
        action=Action.SUSPEND,
        target=current,
        bunny=current,
        reason=reason,
        until=until,
    )


@transaction.atomic
def lift_suspension(*, bunny: User, moderator: User, reason: str = "") -> ModerationAction:
    _check_moderator(moderator, bunny)
    reason = _clean_reason(reason, required=False)
    current = _locked(bunny)
    if not current.is_suspended():
        raise ValidationError(f"{current.username} is not suspended.")
    current.suspended_until = None
    current.suspension_reason = ""
    current.save(update_fields=["suspended_until", "suspension_reason"])
    bunny.suspended_until, bunny.suspension_reason = None, ""
    return record_moderation(
        moderator=moderator,
        action=Action.LIFT_SUSPENSION,
        target=current,
        bunny=current,
        reason=reason,
    )


@transaction.atomic
def ban_bunny(*, bunny: User, moderator: User, reason: str) -> ModerationAction:
    """Ban until unbanned; she sees the reason when she tries to log in."""
    _check_moderator(moderator, bunny)
    reason = _clean_reason(reason, required=True)
    current = _locked(bunny)
    if current.is_banned:
        raise ValidationError(f"{current.username} is already banned.")
    current.banned_at = timezone.now()
    current.ban_reason = reason
    current.save(update_fields=["banned_at", "ban_reason"])
    end_access(user_id=current.pk)
    bunny.banned_at, bunny.ban_reason = current.banned_at, reason
    return record_moderation(
        moderator=moderator, action=Action.BAN, target=current, bunny=current, reason=reason
    )


@transaction.atomic
def unban_bunny(*, bunny: User, moderator: User, reason: str = "") -> ModerationAction:
    """Let the bunny log in again. Her old sessions and tokens stay dead."""
    _check_moderator(moderator, bunny)
    reason = _clean_reason(reason, required=False)
    current = _locked(bunny)
    if not current.is_banned:
        raise ValidationError(f"{current.username} is not banned.")
    current.banned_at = None
    current.ban_reason = ""
    current.save(update_fields=["banned_at", "ban_reason"])
    bunny.banned_at, bunny.ban_reason = None, ""
    return record_moderation(
        moderator=moderator, action=Action.UNBAN, target=current, bunny=current, reason=reason
    )
