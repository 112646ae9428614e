"""Reports: what may be reported, the snapshot, and the moderators' actions with their
audit rows."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from accounts.models import ModerationAction, User
from chat import services as chat_services
from chat.models import Conversation, Message
from conftest import make_bunny
from reports import services
from reports.models import Report, ReportStatus
from social import services as social_services
from social.models import Comment, Post
from social.tests.factories import make_friends


@pytest.fixture
def mod(db):
    return make_bunny("mod", is_staff=True)


@pytest.fixture
def bobs_post(ann, bob):
    make_friends(ann, bob)
    return social_services.create_post(author=bob, body="Carrots are overrated")


def report(reporter, target_type, target_id, reason="Rude") -> Report:
    return services.report_content(
        reporter=reporter, target_type=target_type, target_id=target_id, reason=reason
    )


# --- filing ------------------------------------------------------------------------------


def test_a_report_keeps_a_snapshot_of_the_text_as_it_was(ann, bob, bobs_post):
    filed = report(ann, "post", bobs_post.pk, reason="  Heresy  ")
    social_services.edit_post(post=bobs_post, by=bob, body="Carrots are fine")

    filed.refresh_from_db()
    assert filed.snapshot == "Carrots are overrated"
    assert filed.reason == "Heresy"
    assert filed.target_bunny == bob
    assert filed.reporter == ann
    assert filed.status == ReportStatus.OPEN


def test_comments_bunnies_and_messages_can_be_reported(ann, bob, bobs_post):
    comment = social_services.add_comment(post=bobs_post, author=bob, body="Fight me")
    bob.bio = "I bite"
    bob.save()
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    message, _ = chat_services.send_message(
        sender=bob, conversation_id=conversation.pk, body="Boo!", client_id=uuid.uuid4()
    )

    assert report(ann, "comment", comment.pk).snapshot == "Fight me"
    assert report(ann, "user", bob.pk).snapshot == "@bob\nBob\nI bite"
    assert report(ann, "message", message.pk).snapshot == "Boo!"
    assert set(Report.objects.values_list("target_bunny__username", flat=True)) == {"bob"}


def test_only_what_the_reporter_can_see_can_be_reported(ann, bob, cid, bobs_post):
    # Cid is not Bob's friend: the friends-only post does not exist for him.
    with pytest.raises(Http404):
        report(cid, "post", bobs_post.pk)
    social_services.block_bunny(blocker=bob, blocked=cid)
    with pytest.raises(Http404):
        report(cid, "user", bob.pk)
    with pytest.raises(Http404):
        report(ann, "post", 10**9)
    assert not Report.objects.exists()


def test_nobody_reports_themselves(bob, bobs_post):
    with pytest.raises(ValidationError):
        report(bob, "post", bobs_post.pk)


def test_a_second_open_report_of_the_same_thing_is_a_conflict(ann, bobs_post, mod):
    first = report(ann, "post", bobs_post.pk)
    with pytest.raises(services.AlreadyReported):
        report(ann, "post", bobs_post.pk)
    services.dismiss_report(report=first, moderator=mod)
    report(ann, "post", bobs_post.pk)  # once dismissed, it may be reported again
    assert Report.objects.count() == 2


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_a_reason_is_1_to_1000_characters(ann, bobs_post, reason):
    with pytest.raises(ValidationError):
        report(ann, "post", bobs_post.pk, reason=reason)


# --- the moderators' actions --------------------------------------------------------------


def test_dismissing_closes_the_report_and_is_audited(ann, bobs_post, mod):
    filed = report(ann, "post", bobs_post.pk)

    services.dismiss_report(report=filed, moderator=mod, note="Just an opinion")

    filed.refresh_from_db()
    assert filed.status == ReportStatus.DISMISSED
    assert filed.resolved_by == mod
    assert filed.resolved_at is not None
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.moderator, entry.target, entry.reason) == (
        "dismiss_report",
        mod,
        filed,
        "Just an opinion",
    )
    assert Post.objects.filter(pk=bobs_post.pk).exists()


def test_deleting_a_reported_post_closes_every_open_report_of_it(ann, bob, cid, bobs_post, mod):
    make_friends(bob, cid)
    first, second = report(ann, "post", bobs_post.pk), report(cid, "post", bobs_post.pk)

    services.delete_reported_content(report=first, moderator=mod, note="Hurtful")

    assert not Post.objects.filter(pk=bobs_post.pk).exists()
    for filed in (first, second):
        filed.refresh_from_db()
        assert filed.status == ReportStatus.CONTENT_DELETED
        assert filed.snapshot == "Carrots are overrated"  # still readable after deletion
    entry = ModerationAction.objects.get()
    assert entry.action == "delete_content"
    assert entry.bunny == bob
    assert entry.target_id == bobs_post.pk
    assert entry.target_repr.startswith("Post ")


def test_deleting_a_reported_comment_keeps_the_comment_count_right(ann, bob, bobs_post, mod):
    social_services.add_comment(post=bobs_post, author=ann, body="Agreed")
    comment = social_services.add_comment(post=bobs_post, author=bob, body="Rude words")
    filed = report(ann, "comment", comment.pk)

    services.delete_reported_content(report=filed, moderator=mod)

    assert not Comment.objects.filter(pk=comment.pk).exists()
    assert Post.objects.get(pk=bobs_post.pk).comment_count == 1


def test_deleting_a_reported_message_keeps_the_conversation_listing_right(ann, bob, mod):
    make_friends(ann, bob)
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    sent = [
        chat_services.send_message(
            sender=bob, conversation_id=conversation.pk, body=body, client_id=uuid.uuid4()
        )[0]
        for body in ("Hello", "Rude words")
    ]
    filed = report(ann, "message", sent[1].pk)

    services.delete_reported_content(report=filed, moderator=mod)

    assert not Message.objects.filter(pk=sent[1].pk).exists()
    assert Conversation.objects.get(pk=conversation.pk).last_message_id == sent[0].pk


def test_deleting_a_reported_bunny_clears_her_profile_text(ann, bob, mod):
    bob.bio = "Buy my carrots at scam.example"
    bob.save()
    filed = report(ann, "user", bob.pk)

    services.delete_reported_content(report=filed, moderator=mod)

    bob.refresh_from_db()
    assert (bob.display_name, bob.bio) == ("", "")
    assert User.objects.filter(pk=bob.pk).exists()


def test_suspending_from_a_report_sanctions_the_author_and_closes_it(ann, bob, bobs_post, mod):
    filed = report(ann, "post", bobs_post.pk)
    until = timezone.now() + timedelta(days=3)

    services.suspend_reported_bunny(report=filed, moderator=mod, until=until, reason="Cool off")

    bob.refresh_from_db()
    assert bob.is_suspended()
    filed.refresh_from_db()
    assert filed.status == ReportStatus.BUNNY_SUSPENDED
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.bunny, entry.until) == ("suspend", bob, until)


def test_banning_from_a_report_closes_every_open_report_against_her(ann, bob, cid, bobs_post, mod):
    make_friends(bob, cid)
    about_post = report(ann, "post", bobs_post.pk)
    about_bob = report(cid, "user", bob.pk)

    services.ban_reported_bunny(report=about_post, moderator=mod, reason="Troll")

    bob.refresh_from_db()
    assert bob.is_banned
    for filed in (about_post, about_bob):
        filed.refresh_from_db()
        assert filed.status == ReportStatus.BUNNY_BANNED
    assert list(ModerationAction.objects.values_list("action", flat=True)) == ["ban"]


def test_a_closed_report_cannot_be_acted_on_again(ann, bobs_post, mod):
    filed = report(ann, "post", bobs_post.pk)
    services.dismiss_report(report=filed, moderator=mod)
    with pytest.raises(ValidationError):
        services.delete_reported_content(report=filed, moderator=mod)
    assert Post.objects.filter(pk=bobs_post.pk).exists()
    assert ModerationAction.objects.count() == 1


def test_only_staff_work_the_queue(ann, bob, bobs_post):
    filed = report(ann, "post", bobs_post.pk)
    with pytest.raises(PermissionDenied):
        services.dismiss_report(report=filed, moderator=bob)
    with pytest.raises(PermissionDenied):
        services.remove_content(target_type="post", target=bobs_post, moderator=ann)
    assert not ModerationAction.objects.exists()


def test_removing_unreported_content_is_audited_too(bob, bobs_post, mod):
    services.remove_content(target_type="post", target=bobs_post, moderator=mod, reason="Spam")
    assert not Post.objects.filter(pk=bobs_post.pk).exists()
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.bunny, entry.reason) == ("delete_content", bob, "Spam")
