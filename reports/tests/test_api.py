"""`POST /api/reports/` and the report page."""

import pytest
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from reports.models import Report
from social import services as social_services
from social.tests.factories import make_friends

URL = "/api/reports/"


@pytest.fixture
def bobs_post(ann, bob):
    make_friends(ann, bob)
    return social_services.create_post(author=bob, body="Carrots are overrated")


def test_reporting_a_post_answers_201_with_the_report(ann_api, bobs_post):
    answer = ann_api.post(
        URL, {"target_type": "post", "target_id": bobs_post.pk, "reason": "Heresy"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["target_type"] == "post"
    assert body["target_id"] == bobs_post.pk
    assert body["status"] == "open"
    assert Report.objects.get(pk=body["id"]).snapshot == "Carrots are overrated"


def test_reporting_a_bunny_by_id(ann_api, bob):
    answer = ann_api.post(
        URL, {"target_type": "user", "target_id": bob.pk, "reason": "Impersonation"}, format="json"
    )
    assert answer.status_code == 201


def test_a_target_the_reporter_cannot_see_is_404(api, cid, bobs_post):
    from conftest import bearer_client

    answer = bearer_client(cid).post(
        URL, {"target_type": "post", "target_id": bobs_post.pk, "reason": "?"}, format="json"
    )
    assert answer.status_code == 404
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"target_type": "planet", "target_id": 1, "reason": "x"},
        {"target_type": "post", "target_id": "abc", "reason": "x"},
        {"target_type": "post", "target_id": 1, "reason": ""},
        {"target_type": "post", "target_id": 1, "reason": "x" * 1001},
        {"target_type": "post", "target_id": 1},
        {},
    ],
)
def test_bad_reports_are_400(ann_api, payload):
    assert ann_api.post(URL, payload, format="json").status_code == 400
    assert not Report.objects.exists()


def test_the_same_report_twice_is_409(ann_api, bobs_post):
    payload = {"target_type": "post", "target_id": bobs_post.pk, "reason": "Heresy"}
    assert ann_api.post(URL, payload, format="json").status_code == 201
    assert ann_api.post(URL, payload, format="json").status_code == 409


def test_reports_need_a_login(api, bobs_post):
    answer = api.post(URL, {"target_type": "post", "target_id": bobs_post.pk, "reason": "x"})
    assert answer.status_code == 401


# --- the page ----------------------------------------------------------------------------


@pytest.fixture
def ann_page(ann):
    client = Client()
    client.login(username="ann", password=PASSWORD)
    return client


def test_the_report_page_shows_what_is_reported(ann_page, bobs_post):
    answer = ann_page.get(reverse("report", args=["post", bobs_post.pk]))
    assert answer.status_code == 200
    assert b"Carrots are overrated" in answer.content
    assert b'name="reason"' in answer.content


def test_posting_the_report_page_files_it_and_redirects_to_next(ann_page, bobs_post):
    url = reverse("report", args=["post", bobs_post.pk])
    answer = ann_page.post(url, {"reason": "Heresy", "next": f"/posts/{bobs_post.pk}/"})
    assert answer.status_code == 302
    assert answer.url == f"/posts/{bobs_post.pk}/"
    assert Report.objects.get().reason == "Heresy"


def test_the_report_page_never_redirects_off_site(ann_page, bobs_post):
    url = reverse("report", args=["post", bobs_post.pk])
    answer = ann_page.post(url, {"reason": "Heresy", "next": "https://evil.example/"})
    assert answer.url == reverse("home")


def test_the_report_form_over_htmx_answers_fragments(ann_page, bobs_post):
    url = reverse("report", args=["post", bobs_post.pk])
    form = ann_page.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200
    assert b"<html" not in form.content
    assert f'id="report-post-{bobs_post.pk}"'.encode() in form.content

    empty = ann_page.post(url, {"reason": ""}, headers={"HX-Request": "true"})
    assert empty.status_code == 400
    assert not Report.objects.exists()

    done = ann_page.post(url, {"reason": "Heresy"}, headers={"HX-Request": "true"})
    assert done.status_code == 200
    assert b"moderators will look" in done.content
    assert Report.objects.count() == 1


def test_the_report_page_is_404_for_what_the_bunny_cannot_see(cid, bobs_post):
    client = Client()
    client.login(username="cid", password=PASSWORD)
    assert client.get(reverse("report", args=["post", bobs_post.pk])).status_code == 404
    assert client.get(reverse("report", args=["planet", 1])).status_code == 404


def test_the_report_page_needs_a_login(bobs_post):
    answer = Client().get(reverse("report", args=["post", bobs_post.pk]))
    assert answer.status_code == 302
    assert answer.url.startswith(reverse("login"))
