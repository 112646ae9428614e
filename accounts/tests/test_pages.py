"""Account pages: sign-up, log-in, log-out, password change and reset."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import BunnySession, User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "meadow-hopping-2026"


def signup(client, **overrides):
    data = {
        "username": "hazel",
        "display_name": "Hazel",
        "email": "hazel@bunnies.test",
        "password": PASSWORD,
    } | overrides
    return client.post(reverse("signup"), data)


def test_signup_logs_the_new_bunny_in_with_a_drawn_avatar(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signup(client)

    assert response.status_code == 302
    hazel = User.objects.get(username="hazel")
    assert int(client.session["_auth_user_id"]) == hazel.pk
    avatar = client.get(hazel.avatar_url)
    assert avatar.status_code == 200
    assert avatar["Content-Type"] == "image/png"
    assert b"".join(avatar.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ANN"}, "username"),
        ({"username": "ha zel"}, "username"),
        ({"username": "hz"}, "username"),
        ({"username": "h" * 31}, "username"),
        ({"username": ""}, "username"),
        ({"email": "ANN@bunnies.test"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"display_name": "x" * 51}, "display_name"),
    ],
)
def test_signup_rejects_bad_input_with_a_field_error_and_creates_nothing(
    client, ann, overrides, field
):
    response = signup(client, **overrides)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert User.objects.count() == 1


def test_login_accepts_username_or_email_in_any_case(client, ann):
    for login in ["ann", "ANN", "Ann@Bunnies.test"]:
        response = client.post(reverse("login"), {"username": login, "password": PASSWORD})
        assert response.status_code == 302, login
        assert int(client.session["_auth_user_id"]) == ann.pk
        client.logout()


def test_login_with_a_wrong_password_shows_an_error(client, ann):
    response = client.post(reverse("login"), {"username": "ann", "password": "wrong"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post_and_ends_the_session(client, ann):
    client.force_login(ann)

    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_pages_need_a_csrf_token(ann):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": "ann", "password": PASSWORD})

    assert response.status_code == 403


def test_password_change_keeps_the_bunny_logged_in(client, ann):
    client.force_login(ann)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)
    assert client.get(reverse("settings")).status_code == 200


def test_password_reset_link_works_once(client, ann):
    client.post(reverse("password_reset"), {"email": "ANN@bunnies.test"})

    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    set_password = form_page.redirect_chain[-1][0]
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(set_password, data).status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)

    again = client.get(link, follow=True)
    assert not again.context["validlink"]


def test_password_reset_for_an_unknown_email_reveals_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@bunnies.test"})

    assert response.status_code == 302
    assert mail.outbox == []


def test_settings_page_saves_the_profile(client, ann):
    client.force_login(ann)
    response = client.post(reverse("settings"), {"display_name": " Annie ", "bio": "Hops a lot."})

    assert response.status_code == 302
    ann.refresh_from_db()
    assert (ann.display_name, ann.bio) == ("Annie", "Hops a lot.")


def test_settings_page_rejects_an_overlong_bio(client, ann):
    client.force_login(ann)
    response = client.post(reverse("settings"), {"display_name": "Ann", "bio": "x" * 501})

    assert response.status_code == 200
    assert "bio" in response.context["form"].errors


def test_rerolling_the_avatar_over_htmx_returns_the_new_editor(client, ann):
    client.force_login(ann)
    old_seed = ann.avatar_seed

    response = client.post(reverse("reroll-avatar"), headers={"HX-Request": "true"})

    ann.refresh_from_db()
    assert ann.avatar_seed != old_seed
    assert response.status_code == 200
    html = response.content.decode()
    assert ann.avatar_url in html
    # A screen reader hears which bunny she drew this time.
    assert f'alt="Your bunny avatar: {ann.avatar_description}"' in html


def test_rerolling_the_avatar_without_htmx_redirects(client, ann):
    client.force_login(ann)

    response = client.post(reverse("reroll-avatar"))

    assert response.status_code == 302


def test_avatars_of_unworn_seeds_are_not_drawn(client, ann):
    assert client.get(reverse("avatar", args=[ann.avatar_seed + 1])).status_code == 404


def test_settings_need_a_login(client, db):
    response = client.get(reverse("settings"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_session_logs_in_its_bunny_until_it_expires(client, ann):
    client.force_login(ann)
    assert client.get(reverse("settings")).status_code == 200

    BunnySession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    assert client.get(reverse("settings")).status_code == 302  # to the log-in page


def test_fetching_a_bunny_by_id_gives_every_field_or_none(ann):
    fetched = User.objects.fetch(ann.pk)

    fields = [field.attname for field in User._meta.concrete_fields]
    assert [getattr(fetched, name) for name in fields] == [getattr(ann, name) for name in fields]
    assert fetched._state.adding is False
    assert User.objects.fetch(ann.pk + 1000) is None
    assert User.objects.fetch(2**63) is None  # beyond bigint: no database error
