"""Reads for reports: what a reporter may report, and what moderators see of a target."""

from dataclasses import dataclass

from django.db import models
from django.http import Http404

from accounts.models import User
from chat import selectors as chat_selectors
from chat.models import Message
from reports.models import TargetType
from social import selectors as social_selectors
from social.models import Comment, Post


@dataclass(frozen=True)
class ReportTarget:
    type: str
    obj: models.Model
    bunny: User  # the reported bunny, or the content's author

    @property
    def snapshot(self) -> str:
        return snapshot_of(self.type, self.obj)


def snapshot_of(target_type: str, obj: models.Model) -> str:
    """The reported text, as moderators will read it later."""
    if target_type == TargetType.USER:
        lines = [f"@{obj.username}", obj.display_name, obj.bio]
        return "\n".join(line for line in lines if line)
    return obj.body


def author_of(target_type: str, obj: models.Model) -> User:
    if target_type == TargetType.USER:
        return obj
    if target_type == TargetType.MESSAGE:
        return obj.sender
    return obj.author


def get_report_target_for(viewer: User, target_type: str, target_id: int) -> ReportTarget:
    """The target, if the viewer may see it (a 404 otherwise, as everywhere)."""
    obj: models.Model | None
    if target_type == TargetType.POST:
        obj = social_selectors.get_post_for(viewer, target_id)
    elif target_type == TargetType.COMMENT:
        obj = social_selectors.get_comment_for(viewer, target_id)
    elif target_type == TargetType.MESSAGE:
        obj = chat_selectors.get_message_for(viewer, target_id)
    elif target_type == TargetType.USER:
        obj = social_selectors.bunnies_visible_to(viewer).filter(pk=target_id).first()
    else:
        raise Http404
    if obj is None:
        raise Http404
    return ReportTarget(type=target_type, obj=obj, bunny=author_of(target_type, obj))


TARGET_MODELS: dict[str, type[models.Model]] = {
    TargetType.POST: Post,
    TargetType.COMMENT: Comment,
    TargetType.MESSAGE: Message,
    TargetType.USER: User,
}


def find_target(target_type: str, target_id: int) -> models.Model | None:
    """The target as it is now, whoever may see it (for moderators); None once deleted."""
    return TARGET_MODELS[target_type].objects.filter(pk=target_id).first()
