"""Writes of the suggestions feature: "not now" on a suggestion."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from social.graph.models import SuggestionDismissal
from social.graph.suggestions import forget_suggestions_on_commit


@transaction.atomic
def dismiss_suggestion(*, user: User, dismissed: User) -> SuggestionDismissal:
    """Stop suggesting `dismissed` to `user` for 90 days (again from now if repeated)."""
    if user.pk == dismissed.pk:
        raise ValidationError({"username": ["You are never suggested to yourself."]})
    dismissal, _ = SuggestionDismissal.objects.update_or_create(
        user=user, dismissed=dismissed, defaults={"dismissed_at": timezone.now()}
    )
    forget_suggestions_on_commit([user.pk])
    return dismissal
