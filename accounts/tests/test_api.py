"""The accounts JSON API: sign-up, tokens with safe rotation, logout, /api/me/."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def obtain_tokens(api, login="ann", password=PASSWORD):
    response = api.post(
        reverse("api-token"), {"username": login, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(api, token):
    return api.post(reverse("api-token-refresh"), {"refresh": token}, format="json")


def test_signup_returns_the_new_profile(api):
    response = api.post(
        reverse("api-signup"),
        {"username": "hazel", "email": "hazel@bunnies.test", "password": PASSWORD},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "hazel"
    assert body["friendship"] == "self"
    assert body["avatar_url"].endswith(".png")
    assert set(body) >= {
        "id",
        "username",
        "display_name",
        "bio",
        "avatar_url",
        "friendship",
        "online",
    }
    assert "email" not in body


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "Ann"}, "username"),
        ({"username": "a-b"}, "username"),
        ({"username": "ab"}, "username"),
        ({"username": "a" * 31}, "username"),
        ({"email": "ann@BUNNIES.test"}, "email"),
        ({"email": "nope"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"display_name": "d" * 51}, "display_name"),
        ({"username": None}, "username"),
    ],
)
def test_signup_rejects_bad_input_with_field_messages(api, ann, payload, field):
    data = {"username": "hazel", "email": "hazel@bunnies.test", "password": PASSWORD} | payload
    data = {key: value for key, value in data.items() if value is not None}

    response = api.post(reverse("api-signup"), data, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert User.objects.count() == 1


def test_malformed_json_is_a_400_not_a_500(api, db):
    response = api.generic(
        "POST", reverse("api-signup"), "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.json()


def test_token_accepts_username_or_email(api, ann):
    for login in ["ann", "ANN", "ann@bunnies.test"]:
        tokens = obtain_tokens(api, login)
        assert set(tokens) == {"access", "refresh"}


def test_token_with_a_wrong_password_is_401(api, ann):
    response = api.post(reverse("api-token"), {"username": "ann", "password": "x"}, format="json")

    assert response.status_code == 401


def test_access_token_reaches_me(api, ann):
    tokens = obtain_tokens(api)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    response = api.get(reverse("api-me"))

    assert response.status_code == 200
    assert response.json()["username"] == "ann"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Token abc"])
def test_me_without_a_good_token_is_401(api, db, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    assert api.get(reverse("api-me")).status_code == 401


def test_refresh_rotates_and_the_old_refresh_is_dead(api, ann):
    first = obtain_tokens(api)["refresh"]

    rotated = refresh(api, first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh"]
    assert second != first

    assert refresh(api, second).status_code == 200


def test_reusing_a_rotated_refresh_revokes_every_refresh_of_the_bunny(api, ann):
    other_device = obtain_tokens(api)["refresh"]
    first = obtain_tokens(api)["refresh"]
    second = refresh(api, first).json()["refresh"]

    replay = refresh(api, first)

    assert replay.status_code == 401
    assert refresh(api, second).status_code == 401
    assert refresh(api, other_device).status_code == 401


def test_an_access_token_stops_working_once_the_bunny_is_deactivated(ann_api, ann):
    assert ann_api.get(reverse("api-me")).status_code == 200
    User.objects.filter(pk=ann.pk).update(is_active=False)

    assert ann_api.get(reverse("api-me")).status_code == 401


def test_an_inactive_bunny_cannot_refresh(api, ann):
    token = obtain_tokens(api)["refresh"]
    User.objects.filter(pk=ann.pk).update(is_active=False)

    assert refresh(api, token).status_code == 401


def test_an_access_token_is_not_a_refresh_token(api, ann):
    access = obtain_tokens(api)["access"]

    assert refresh(api, access).status_code == 401


def test_logout_kills_that_refresh(api, ann):
    token = obtain_tokens(api)["refresh"]

    response = api.post(reverse("api-logout"), {"refresh": token}, format="json")

    assert response.status_code == 204
    assert refresh(api, token).status_code == 401


def test_logout_with_a_forged_token_is_401(api, db):
    response = api.post(reverse("api-logout"), {"refresh": "forged.token.value"}, format="json")

    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_of_eight_concurrent_refreshes_of_one_token_exactly_one_succeeds(live_server, ann):
    from rest_framework.test import APIClient

    token = obtain_tokens(APIClient())["refresh"]
    url = live_server.url + reverse("api-token-refresh")
    start = threading.Barrier(8)
    statuses = []

    def post_refresh():
        request = urllib.request.Request(
            url,
            data=json.dumps({"refresh": token}).encode(),
            headers={"Content-Type": "application/json"},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=post_refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [401] * 7


def test_patch_me_updates_the_profile(ann_api):
    response = ann_api.patch(
        reverse("api-me"), {"display_name": "Annie", "bio": "Hi"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["display_name"] == "Annie"
    assert response.json()["bio"] == "Hi"


def test_patch_me_rejects_an_overlong_bio(ann_api, ann):
    response = ann_api.patch(reverse("api-me"), {"bio": "b" * 501}, format="json")

    assert response.status_code == 400
    assert "bio" in response.json()
    ann.refresh_from_db()
    assert ann.bio == ""


def test_avatar_reroll_draws_a_new_bunny(ann_api, ann, django_capture_on_commit_callbacks):
    before = ann_api.get(reverse("api-me")).json()["avatar_url"]

    with django_capture_on_commit_callbacks(execute=True):
        response = ann_api.post(reverse("api-me-avatar"))

    assert response.status_code == 200
    after = response.json()["avatar_url"]
    assert after != before
    image = ann_api.get(after.removeprefix("http://testserver"))
    assert image.status_code == 200


def test_openapi_schema_and_docs_are_served(client, db):
    schema = client.get(reverse("api-schema"), headers={"Accept": "application/json"})
    assert schema.status_code == 200
    assert "/api/auth/token/refresh/" in schema.content.decode()
    assert client.get(reverse("api-docs")).status_code == 200
    assert client.get(reverse("api-redoc")).status_code == 200


def test_session_login_also_reaches_the_api(client, ann):
    client.force_login(ann)

    assert client.get(reverse("api-me")).json()["username"] == "ann"
