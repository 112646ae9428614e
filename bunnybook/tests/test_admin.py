"""The admin: every model is there, no changelist runs a query per row, the moderation
actions work through their intermediate pages, the audit log is read-only, and the staff
health page shows every service."""

import itertools
import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import moderation
from accounts.models import BunnySession, ModerationAction, User
from chat.models import Conversation, Message, Participant, UserEvent, UserEventCounter
from conftest import make_bunny
from notifications.models import MutedNotificationType, Notification, NotificationActor
from reports.models import Report, ReportStatus
from social.models import (
    Block,
    Comment,
    CommentLike,
    FriendRequest,
    Friendship,
    GraphOutbox,
    Post,
    PostLike,
    SuggestionDismissal,
)

_names = itertools.count()


def bunny(**extra) -> User:
    return make_bunny(f"b{next(_names)}", **extra)


def pair() -> tuple[User, User]:
    first, second = bunny(), bunny()
    return (first, second) if first.pk < second.pk else (second, first)


def post() -> Post:
    author = bunny()
    return Post.objects.create(author=author, wall=author, body="A post about clover")


def comment() -> Comment:
    parent = post()
    return Comment.objects.create(post=parent, author=parent.author, body="A comment")


def conversation() -> Conversation:
    first, second = pair()
    talk = Conversation.objects.create(pair_key=Conversation.pair_key_for(first.pk, second.pk))
    Participant.objects.create(conversation=talk, user=first)
    Participant.objects.create(conversation=talk, user=second)
    talk.last_message = Message.objects.create(
        conversation=talk, sender=first, body="Hi", client_id=uuid.uuid4()
    )
    talk.save()
    return talk


def notification() -> Notification:
    parent = post()
    made = Notification.objects.create(
        recipient=parent.author, type="post_liked", group_key=f"post:{parent.pk}", post=parent
    )
    NotificationActor.objects.create(notification=made, actor=bunny())
    return made


def moderation_action() -> ModerationAction:
    return moderation.record_moderation(
        moderator=bunny(is_staff=True), action="ban", target=bunny(), reason="Spam"
    )


def report() -> Report:
    reported = post()
    return Report.objects.create(
        reporter=bunny(),
        target_type="post",
        target_id=reported.pk,
        target_bunny=reported.author,
        snapshot=reported.body,
        reason="Rude",
    )


def _session():
    owner = bunny()
    return BunnySession.objects.create(
        session_key=uuid.uuid4().hex,
        session_data="",
        expire_date=timezone.now() + timedelta(days=1),
        user_id=owner.pk,
    )


def _outstanding() -> OutstandingToken:
    return OutstandingToken.objects.get(jti=RefreshToken.for_user(bunny())["jti"])


# One way to make a row of each admin's model: a registered model without one fails below.
BUILDERS = {
    "accounts.User": bunny,
    "accounts.BunnySession": _session,
    "accounts.ModerationAction": moderation_action,
    "auth.Group": lambda: Group.objects.create(name=f"group {next(_names)}"),
    "token_blacklist.OutstandingToken": lambda: _outstanding(),
    "token_blacklist.BlacklistedToken": lambda: BlacklistedToken.objects.create(
        token=_outstanding()
    ),
    "social.Friendship": lambda: Friendship.objects.create(
        **dict(zip(["user_a", "user_b"], pair(), strict=True))
    ),
    "social.FriendRequest": lambda: FriendRequest.objects.create(
        from_user=bunny(), to_user=bunny()
    ),
    "social.Block": lambda: Block.objects.create(blocker=bunny(), blocked=bunny()),
    "social.Post": post,
    "social.Comment": comment,
    "social.PostLike": lambda: PostLike.objects.create(post=post(), user=bunny()),
    "social.CommentLike": lambda: CommentLike.objects.create(comment=comment(), user=bunny()),
    "social.GraphOutbox": lambda: GraphOutbox.objects.create(
        **dict(zip(["user_a_id", "user_b_id"], [u.pk for u in pair()], strict=True)), op="link"
    ),
    "social.SuggestionDismissal": lambda: SuggestionDismissal.objects.create(
        user=bunny(), dismissed=bunny()
    ),
    "chat.Conversation": conversation,
    "chat.Participant": lambda: conversation().participants.first(),
    "chat.Message": lambda: conversation().last_message,
    "chat.UserEvent": lambda: UserEvent.objects.create(
        user=bunny(), seq=1, payload={"type": "chat.message"}
    ),
    "chat.UserEventCounter": lambda: UserEventCounter.objects.create(user=bunny(), last_seq=3),
    "notifications.Notification": notification,
    "notifications.NotificationActor": lambda: notification().actor_links.first(),
    "notifications.MutedNotificationType": lambda: MutedNotificationType.objects.create(
        user=bunny(), type="post_liked"
    ),
    "reports.Report": report,
}

REGISTERED = sorted(model._meta.label for model in admin.site._registry)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _model(label: str):
    return next(model for model in admin.site._registry if model._meta.label == label)


@pytest.fixture
def boss(db):
    return make_bunny("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def boss_client(boss):
    client = Client()
    client.force_login(boss)
    return client


def test_every_model_of_the_project_has_an_admin():
    from django.apps import apps

    ours = {"accounts", "social", "chat", "notifications", "reports"}
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in ours and model not in admin.site._registry
    ]
    assert missing == []


def test_every_admin_has_a_row_builder_for_the_query_count_test():
    assert sorted(set(REGISTERED) - set(BUILDERS)) == []


def _changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(_url(model, "changelist"))
    assert answer.status_code == 200, answer.content[:500]
    return len(queries)


@pytest.mark.parametrize("label", REGISTERED)
def test_a_changelist_costs_the_same_queries_for_1_row_and_for_20(boss_client, label):
    model = _model(label)
    build = BUILDERS[label]
    build()
    one = _changelist_queries(boss_client, model)
    for _ in range(19):
        build()
    assert model.objects.count() >= 20
    twenty = _changelist_queries(boss_client, model)
    assert twenty == one, f"{label}: {one} queries for 1 row, {twenty} for 20"


@pytest.mark.parametrize("label", REGISTERED)
def test_every_change_page_renders(boss_client, label):
    model = _model(label)
    row = BUILDERS[label]()
    row = model.objects.get(pk=row.pk)
    answer = boss_client.get(_url(model, "change", row.pk))
    assert answer.status_code == 200, answer.content[:500]


# --- the reports queue --------------------------------------------------------------------


def _act(client, model, action: str, rows, **form):
    data = {"action": action, ACTION_CHECKBOX_NAME: [row.pk for row in rows], **form}
    return client.post(_url(model, "changelist"), data)


def test_the_queue_opens_on_open_reports_oldest_first(boss_client, boss):
    older, newer, done = report(), report(), report()
    Report.objects.filter(pk=done.pk).update(status=ReportStatus.DISMISSED)
    answer = boss_client.get(_url(Report, "changelist"))
    listed = [row.pk for row in answer.context["cl"].result_list]
    assert listed == [older.pk, newer.pk]


def test_dismiss_asks_for_a_note_then_closes_the_reports(boss_client, boss):
    rows = [report(), report()]
    page = _act(boss_client, Report, "dismiss", rows)
    assert page.status_code == 200
    assert b'name="note"' in page.content

    done = _act(boss_client, Report, "dismiss", rows, apply="1", note="Fine")
    assert done.status_code == 302
    assert set(Report.objects.values_list("status", flat=True)) == {"dismissed"}
    assert ModerationAction.objects.filter(action="dismiss_report", moderator=boss).count() == 2


def test_delete_content_from_the_queue(boss_client):
    filed = report()
    _act(boss_client, Report, "delete_content", [filed], apply="1", note="")
    assert not Post.objects.filter(pk=filed.target_id).exists()
    assert Report.objects.get(pk=filed.pk).status == "content_deleted"


def test_suspend_from_the_queue_asks_for_a_period_and_a_reason(boss_client):
    filed = report()
    page = _act(boss_client, Report, "suspend", [filed])
    assert b'name="days"' in page.content
    assert b'name="reason"' in page.content

    invalid = _act(boss_client, Report, "suspend", [filed], apply="1", days="3", reason="")
    assert invalid.status_code == 200  # the form again, with its error
    assert not User.objects.filter(suspended_until__isnull=False).exists()

    _act(boss_client, Report, "suspend", [filed], apply="1", days="3", reason="Cool off")
    author = User.objects.get(pk=filed.target_bunny_id)
    assert author.is_suspended()
    assert author.suspended_until > timezone.now() + timedelta(days=2, hours=23)
    assert Report.objects.get(pk=filed.pk).status == "bunny_suspended"


def test_ban_from_the_queue(boss_client):
    filed = report()
    _act(boss_client, Report, "ban", [filed], apply="1", reason="Troll")
    assert User.objects.get(pk=filed.target_bunny_id).is_banned
    assert Report.objects.get(pk=filed.pk).status == "bunny_banned"


def test_a_failing_row_is_reported_and_the_others_still_done(boss_client):
    first, second = report(), report()
    Report.objects.filter(pk=first.pk).update(status=ReportStatus.DISMISSED)
    answer = _act(boss_client, Report, "dismiss", [first, second], apply="1", note="")
    messages = [str(message) for message in answer.wsgi_request._messages]
    assert any("already" in message for message in messages)
    assert Report.objects.get(pk=second.pk).status == "dismissed"


def test_bunnies_can_be_banned_and_unbanned_from_their_admin(boss_client):
    target = bunny()
    _act(boss_client, User, "ban", [target], apply="1", reason="Spam")
    assert User.objects.get(pk=target.pk).is_banned
    _act(boss_client, User, "unban", [target], apply="1", note="Appeal")
    assert not User.objects.get(pk=target.pk).is_banned
    actions = ModerationAction.objects.filter(bunny=target).values_list("action", flat=True)
    assert sorted(actions) == ["ban", "unban"]


def test_content_can_be_removed_from_its_admin_with_an_audit_row(boss_client):
    rows = [post(), post()]
    _act(boss_client, Post, "remove", rows, apply="1", note="Spam wave")
    assert not Post.objects.filter(pk__in=[row.pk for row in rows]).exists()
    assert ModerationAction.objects.filter(action="delete_content").count() == 2


def test_the_audit_log_is_read_only(boss_client):
    entry = moderation_action()
    assert boss_client.get(_url(ModerationAction, "add")).status_code == 403
    assert boss_client.post(_url(ModerationAction, "change", entry.pk), {}).status_code == 403
    assert boss_client.post(_url(ModerationAction, "delete", entry.pk), {}).status_code == 403
    assert ModerationAction.objects.filter(pk=entry.pk).exists()


def test_sanction_fields_cannot_be_edited_by_hand_in_the_bunny_admin(boss_client):
    form = boss_client.get(_url(User, "change", bunny().pk)).context["adminform"].form
    for field in ("banned_at", "ban_reason", "suspended_until", "suspension_reason"):
        assert field not in form.fields


# --- the health page ----------------------------------------------------------------------


def test_the_health_page_shows_every_service_and_the_backlogs(boss_client):
    GraphOutbox.objects.create(user_a_id=1, user_b_id=2, op="link")
    UserEvent.objects.create(user=bunny(), seq=1, payload={"type": "x"})
    answer = boss_client.get(reverse("admin-health"))
    assert answer.status_code == 200
    for label in (b"PostgreSQL", b"Redis (channel layer)", b"Redis (cache)", b"Neo4j"):
        assert label in answer.content
    assert answer.context["outbox_backlog"] == 1
    assert answer.context["event_log_size"] == 1


def test_the_health_page_is_for_staff_only(ann):
    client = Client()
    client.force_login(ann)
    answer = client.get(reverse("admin-health"))
    assert answer.status_code == 302
    assert "/admin/login/" in answer.url
