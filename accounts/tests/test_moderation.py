"""Suspensions and bans take effect at once on every channel, expire by themselves, show
the bunny why, and leave an audit row."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import moderation
from accounts.models import BunnySession, ModerationAction, User
from bunnybook import events
from conftest import PASSWORD, bearer_client, make_bunny


@pytest.fixture
def mod(db):
    return make_bunny("mod", is_staff=True)


def page_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def token_pair(user) -> dict:
    answer = APIClient().post(
        reverse("api-token"), {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def refresh(token: str):
    return APIClient().post(reverse("api-token-refresh"), {"refresh": token}, format="json")


def later(days: float = 1):
    return timezone.now() + timedelta(days=days)


# --- the session index -------------------------------------------------------------------


def test_every_session_row_knows_its_bunny_also_after_the_key_changes(ann):
    client = page_client(ann)
    assert list(BunnySession.objects.values_list("user_id", flat=True)) == [ann.pk]
    answer = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-carrot-patch-9",
            "new_password2": "a-new-carrot-patch-9",
        },
    )
    assert answer.status_code == 302
    # The key was cycled; the one row left is the new key, still stamped with Ann's id.
    rows = list(BunnySession.objects.values_list("session_key", "user_id"))
    assert rows == [(client.session.session_key, ann.pk)]


def test_an_anonymous_session_has_no_bunny(db):
    client = Client()
    session = client.session
    session["hello"] = "world"
    session.save()
    assert BunnySession.objects.get(session_key=session.session_key).user_id is None


# --- a ban ends access on every channel ----------------------------------------------------


def test_a_ban_ends_the_page_sessions_at_once(ann, bob, mod):
    first, second, bobs = page_client(ann), page_client(ann), page_client(bob)
    assert first.get(reverse("settings")).status_code == 200

    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam")

    assert not BunnySession.objects.filter(user_id=ann.pk).exists()
    for client in (first, second):
        answer = client.get(reverse("settings"))
        assert answer.status_code == 302
        assert answer.url.startswith(reverse("login"))
    assert bobs.get(reverse("settings")).status_code == 200  # nobody else is touched


def test_a_session_made_after_the_ban_check_still_cannot_be_used(ann, mod):
    """A log-in racing the ban may leave a session row; every request refuses it anyway."""
    client = page_client(ann)
    User.objects.filter(pk=ann.pk).update(banned_at=timezone.now(), ban_reason="Spam")
    assert BunnySession.objects.filter(user_id=ann.pk).exists()
    assert client.get(reverse("settings")).status_code == 302


def test_a_ban_refuses_unexpired_access_tokens_on_the_next_request(ann, mod):
    api = bearer_client(ann)
    assert api.get(reverse("api-me")).status_code == 200

    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam")

    answer = api.get(reverse("api-me"))
    assert answer.status_code == 401
    assert "banned" in answer.json()["detail"]
    assert "Spam" in answer.json()["detail"]


def test_a_ban_blacklists_every_outstanding_refresh_token(ann, mod):
    pairs = [token_pair(ann), token_pair(ann)]

    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam")

    assert not OutstandingToken.objects.filter(user=ann, blacklistedtoken__isnull=True).exists()
    for pair in pairs:
        assert refresh(pair["refresh"]).status_code == 401


def test_a_ban_tells_the_sockets_to_close_only_after_commit(
    ann, mod, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(events, "publish", lambda ids, event: sent.append((list(ids), event)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam")
    assert sent == []  # a rolled-back ban would never have closed anything
    for callback in callbacks:
        callback()
    assert sent == [([ann.pk], {"type": "live.close"})]


def test_a_banned_bunny_cannot_log_in_and_is_told_why(ann, mod):
    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Selling carrots that are not carrots")

    answer = Client().post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert answer.status_code == 200
    assert b"This account is banned" in answer.content
    assert b"Selling carrots that are not carrots" in answer.content
    assert SESSION_KEY not in answer.wsgi_request.session

    api = APIClient().post(
        reverse("api-token"), {"username": "ann", "password": PASSWORD}, format="json"
    )
    assert api.status_code == 401
    assert "Selling carrots" in api.json()["detail"]


def test_the_reason_is_shown_only_to_someone_who_knows_the_password(ann, mod):
    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Secret moderator words")

    answer = Client().post(reverse("login"), {"username": "ann", "password": "wrong-guess-1"})
    assert b"Secret moderator words" not in answer.content
    api = APIClient().post(
        reverse("api-token"), {"username": "ann", "password": "wrong-guess-1"}, format="json"
    )
    assert api.status_code == 401
    assert "Secret" not in api.json()["detail"]


def test_a_banned_staff_bunny_cannot_log_in_to_the_admin(mod, db):
    boss = make_bunny("boss", is_staff=True, is_superuser=True)
    moderation.ban_bunny(bunny=mod, moderator=boss, reason="Abuse of power")
    client = Client()
    assert not client.login(username="mod", password=PASSWORD)
    answer = client.post(reverse("admin:login"), {"username": "mod", "password": PASSWORD})
    assert SESSION_KEY not in answer.wsgi_request.session


def test_unban_restores_access_but_not_the_old_sessions_or_tokens(ann, mod):
    old_client, old_pair = page_client(ann), token_pair(ann)
    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam")

    moderation.unban_bunny(bunny=ann, moderator=mod, reason="Appeal accepted")

    assert old_client.get(reverse("settings")).status_code == 302
    assert refresh(old_pair["refresh"]).status_code == 401
    assert page_client(ann).get(reverse("settings")).status_code == 200
    fresh = token_pair(ann)
    assert refresh(fresh["refresh"]).status_code == 200


# --- suspensions ---------------------------------------------------------------------------


def test_a_suspension_ends_access_like_a_ban_while_it_lasts(ann, mod):
    client, api, pair = page_client(ann), bearer_client(ann), token_pair(ann)

    moderation.suspend_bunny(bunny=ann, moderator=mod, until=later(3), reason="Cool off")

    assert client.get(reverse("settings")).status_code == 302
    assert api.get(reverse("api-me")).status_code == 401
    assert "suspended until" in api.get(reverse("api-me")).json()["detail"]
    assert refresh(pair["refresh"]).status_code == 401
    answer = Client().post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert b"This account is suspended until" in answer.content
    assert b"Cool off" in answer.content


def test_a_suspension_expires_by_itself(ann, mod):
    moderation.suspend_bunny(bunny=ann, moderator=mod, until=later(1), reason="Cool off")
    api = bearer_client(ann)
    assert api.get(reverse("api-me")).status_code == 401

    # A day passes: the stored end is now in the past. No job ran.
    User.objects.filter(pk=ann.pk).update(suspended_until=timezone.now() - timedelta(seconds=1))

    assert api.get(reverse("api-me")).status_code == 200
    assert page_client(ann).get(reverse("settings")).status_code == 200
    assert refresh(token_pair(ann)["refresh"]).status_code == 200


def test_lifting_a_suspension_restores_access(ann, mod):
    moderation.suspend_bunny(bunny=ann, moderator=mod, until=later(7), reason="Cool off")
    moderation.lift_suspension(bunny=ann, moderator=mod, reason="Apologised")
    assert page_client(ann).get(reverse("settings")).status_code == 200


def test_a_suspension_must_end_in_the_future_and_have_a_reason(ann, mod):
    with pytest.raises(ValidationError):
        moderation.suspend_bunny(bunny=ann, moderator=mod, until=later(-1), reason="Late")
    with pytest.raises(ValidationError):
        moderation.suspend_bunny(bunny=ann, moderator=mod, until=later(1), reason="  ")
    assert not ModerationAction.objects.exists()


# --- who may, and the audit log -------------------------------------------------------------


def test_only_staff_may_sanction_and_never_themselves(ann, bob, mod):
    with pytest.raises(PermissionDenied):
        moderation.ban_bunny(bunny=bob, moderator=ann, reason="I don't like him")
    with pytest.raises(ValidationError):
        moderation.ban_bunny(bunny=mod, moderator=mod, reason="Oops")
    boss = make_bunny("boss", is_staff=True, is_superuser=True)
    with pytest.raises(PermissionDenied):
        moderation.ban_bunny(bunny=boss, moderator=mod, reason="Coup")
    assert not User.objects.filter(banned_at__isnull=False).exists()


def test_every_sanction_writes_one_audit_row(ann, mod):
    until = later(2)
    moderation.suspend_bunny(bunny=ann, moderator=mod, until=until, reason="Cool off")
    moderation.lift_suspension(bunny=ann, moderator=mod, reason="Early release")
    moderation.ban_bunny(bunny=ann, moderator=mod, reason="Spam again")
    moderation.unban_bunny(bunny=ann, moderator=mod, reason="Appeal")

    log = list(ModerationAction.objects.order_by("id"))
    assert [entry.action for entry in log] == ["suspend", "lift_suspension", "ban", "unban"]
    assert [entry.reason for entry in log] == ["Cool off", "Early release", "Spam again", "Appeal"]
    assert all(entry.moderator == mod and entry.bunny == ann for entry in log)
    assert all(entry.target == ann and entry.target_repr == "ann" for entry in log)
    assert log[0].until == until


def test_a_failed_sanction_writes_nothing(ann, mod):
    with pytest.raises(ValidationError):
        moderation.unban_bunny(bunny=ann, moderator=mod)  # she is not banned
    assert not ModerationAction.objects.exists()
