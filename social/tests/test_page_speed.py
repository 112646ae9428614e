"""The shortcuts that make busy pages cheap give exactly what the slow way gives: links
without reverse(), cached post cards, the blank comment box, times and dates, and the
API's profiles serialised once per bunny."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.middleware.csrf import get_token
from django.template import Context, Template
from django.template.defaultfilters import date as format_date
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.api import ProfileSerializer
from bunnybook import links
from conftest import make_bunny
from social import cards, selectors, services
from social.forms import BlankPostForm, CommentForm, PostForm
from social.templatetags import social_tags
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


# --- Links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("home", []),
        ("post", [1]),
        ("post-like", [123456]),
        ("profile", ["ann"]),
        ("profile", ["Bun_ny-9"]),
        ("avatar", [42]),
        ("report", ["comment", 7]),
        ("chat-conversation", [3]),
    ],
)
def test_a_link_is_what_reverse_gives(name, args):
    assert links.url(name, *args) == reverse(name, args=args)


@pytest.mark.parametrize(
    ("name", "args"), [("profile", ["a b"]), ("profile", ["é"]), ("profile", ["a.b"])]
)
def test_an_argument_that_needs_quoting_goes_through_reverse(name, args):
    assert links.url(name, *args) == reverse(name, args=args)


@pytest.mark.parametrize(
    ("name", "args"),
    [("post", ["x1"]), ("post", [-1]), ("post", []), ("profile", ["a/b"]), ("no-such-name", [1])],
)
def test_a_link_reverse_refuses_is_refused(name, args):
    with pytest.raises(NoReverseMatch):
        links.url(name, *args)


def test_the_link_tag_matches_the_url_tag():
    template = Template(
        "{% load social_tags %}{% link 'post-edit' 5 %}|{% url 'post-edit' 5 %}|"
        "{% link 'profile' name as there %}{{ there }}|{% url 'profile' name %}"
    )
    mine, django_s, mine_as, django_as = template.render(Context({"name": "ann"})).split("|")
    assert (mine, mine_as) == (django_s, django_as)


# --- Times, dates, text -----------------------------------------------------------------

NOW = datetime(2026, 3, 1, 0, 30, 15, 500000, tzinfo=UTC)


def test_ago_says_what_timesince_says(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    for seconds in [*range(0, 7 * 86400 + 120, 53), 59.9, 60, 3599.999, 86400 * 7 - 0.5]:
        moment = NOW - timedelta(seconds=seconds)
        if seconds < 60:
            expected = "just now"
        elif seconds < 7 * 86400:
            expected = f"{timesince(moment, NOW, depth=1)} ago"
        else:
            expected = format_date(moment, "j M Y")
        assert social_tags.ago(moment) == expected, seconds


@pytest.mark.parametrize("fmt", ["j M Y, H:i", "j M, H:i", "D j N Y, P", "H:i:s", "c"])
def test_stamps_and_iso_times_are_the_date_filters(fmt):
    for minutes in range(0, 60 * 24 * 40, 97):
        moment = NOW - timedelta(minutes=minutes, seconds=minutes % 60)
        assert social_tags.stamp(moment, fmt) == format_date(moment, fmt)
        assert social_tags.iso_time(moment) == format_date(moment, "c")


def test_rich_text_is_the_same_cached_or_not():
    text = "See https://example.com/<b>?a=1&b=2 and\nmail me@example.com <script>"
    first, again = social_tags.rich_text(text), social_tags.rich_text(text)
    assert first == again == social_tags._rich_text.__wrapped__(text)
    assert "<script>" not in first


def test_the_blank_comment_box_is_the_comment_forms_markup():
    blank, form = social_tags._BlankCommentForm(4711), CommentForm.for_post(4711)
    assert blank.html_id == form.html_id
    assert str(blank.body) == str(form["body"])
    assert (blank.body.label, blank.body.id_for_label) == (
        form["body"].label,
        form["body"].id_for_label,
    )
    assert not blank.body.errors


@pytest.mark.django_db
def test_the_blank_composer_renders_as_an_empty_post_form():
    ann = make_bunny("ann")
    request = RequestFactory().get("/")
    request.user = ann
    get_token(request)
    for wall in (ann, make_bunny("bob")):
        context = {"wall": wall, "user": ann}
        blank = render_to_string(
            "social/partials/post_form.html", {**context, "form": BlankPostForm()}, request
        )
        form = render_to_string(
            "social/partials/post_form.html", {**context, "form": PostForm()}, request
        )
        assert csrf_tokens(blank)
        assert csrf_tokens(form)
        mark = r'name="csrfmiddlewaretoken" value="[^"]+"'
        assert re.sub(mark, "", blank) == re.sub(mark, "", form)


# --- Cached post cards ------------------------------------------------------------------


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def page_of(client, path="/", **headers) -> str:
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.fixture
def thread(ann, bob, cid):
    """Bob's post on his wall, liked by Ann, with a comment by each of the three."""
    make_friends(ann, bob)
    make_friends(bob, cid)
    make_friends(ann, cid)
    post = services.create_post(author=bob, body="Carrots https://example.com")
    for author in (ann, bob, cid):
        services.add_comment(post=post, author=author, body=f"by {author.username}")
    services.like_post(post=post, user=ann)
    return post


def uncached(monkeypatch, client, path="/", **headers) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(cards, "enabled", lambda: False)
        return page_of(client, path, **headers)


def without_tokens(html: str) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value=|x-csrftoken": )"[^"]+"', r"\1T", html)


@pytest.mark.parametrize("viewer", ["ann", "bob", "cid"])
def test_a_cached_card_is_what_the_template_renders_for_each_viewer(
    client, monkeypatch, thread, viewer
):
    cards.cards.clear()
    others = {"ann", "bob", "cid"} - {viewer}
    for other in sorted(others):  # fill the cache as the other two
        client.force_login(type(thread.author).objects.get(username=other))
        page_of(client)
    client.force_login(type(thread.author).objects.get(username=viewer))

    cached = page_of(client)
    assert without_tokens(cached) == without_tokens(uncached(monkeypatch, client))
    assert len(csrf_tokens(cached)) == 1  # this page's own token, everywhere


def test_bunnies_in_the_same_position_share_a_card_and_each_gets_her_own_page(
    client, monkeypatch, thread
):
    dan, eve = make_bunny("dan"), make_bunny("eve")
    make_friends(dan, thread.author)
    make_friends(eve, thread.author)
    cards.cards.clear()
    client.force_login(dan)
    page_of(client)
    filled = len(cards.cards._items)
    client.force_login(eve)

    as_eve = page_of(client)
    assert len(cards.cards._items) == filled  # Dan's cards served Eve
    assert without_tokens(as_eve) == without_tokens(uncached(monkeypatch, client))
    assert without_tokens(page_of(client)) == without_tokens(as_eve)  # and again, from the cache


def test_a_plain_form_post_from_a_cached_card_passes_the_csrf_check(thread):
    dan, eve = make_bunny("dan"), make_bunny("eve")
    make_friends(dan, thread.author)
    make_friends(eve, thread.author)
    cards.cards.clear()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(dan)
    page_of(strict)
    strict.force_login(eve)
    page = page_of(strict)
    like_form = page[page.index(f'id="post-like-{thread.pk}"') :]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', like_form).group(1)

    answer = strict.post(
        reverse("post-like", args=[thread.pk]), {"csrfmiddlewaretoken": token, "next": "/"}
    )
    assert answer.status_code == 302
    assert thread.likes.filter(user=eve).exists()


def test_a_cached_card_keeps_each_viewers_own_state(client, thread, ann, cid):
    cards.cards.clear()
    client.force_login(ann)
    as_ann = page_of(client)
    client.force_login(cid)
    as_cid = page_of(client)

    like = f'id="post-like-{thread.pk}-button" class="like-button"\n          aria-pressed='
    assert like + '"true"' in as_ann
    assert like + '"false"' in as_cid
    # Each sees Edit on her own comment only, and Report on the others'.
    for page, me in ((as_ann, ann), (as_cid, cid)):
        own = thread.comments.get(author=me)
        assert re.findall(r'id="comment-edit-(\d+)"', page) == [str(own.pk)]
        assert f"report-menu-comment-{own.pk}" not in page


@pytest.mark.parametrize("liked", ["post", "comment"])
def test_a_like_alone_sets_two_viewers_cards_apart(client, thread, liked):
    dan, eve = make_bunny("dan"), make_bunny("eve")
    make_friends(dan, thread.author)
    make_friends(eve, thread.author)
    comment = thread.comments.get(author=thread.author)
    if liked == "post":
        services.like_post(post=thread, user=eve)
    else:
        services.like_comment(comment=comment, user=eve)
    pk = thread.pk if liked == "post" else comment.pk
    cards.cards.clear()
    client.force_login(dan)
    as_dan = page_of(client)
    client.force_login(eve)
    as_eve = page_of(client)

    button = f'id="{liked}-like-{pk}-button" class="like-button"\n          aria-pressed='
    assert f'{button}"false"' in as_dan
    assert f'{button}"true"' in as_eve


@pytest.fixture
def positions(ann, bob, cid):
    """Bob's post on Ann's wall (no comments), and Ann's own post with a comment by Cid;
    Dan and Eve are friends of Ann with no part in either."""
    dan, eve = make_bunny("dan"), make_bunny("eve")
    for friend in (bob, cid, dan, eve):
        make_friends(ann, friend)
    services.create_post(author=bob, wall=ann, body="on your wall")
    own = services.create_post(author=ann, body="mine")
    services.add_comment(post=own, author=cid, body="nice")
    return [ann, bob, cid, dan, eve]


@pytest.mark.parametrize("order", [1, -1])
def test_every_position_gets_the_card_the_template_renders(monkeypatch, positions, order):
    """Author, wall owner, commenter and bystanders, filling the cache for each other."""
    clients = {}
    for viewer in positions:  # all log in first: a log-in changes the bunny's row
        clients[viewer.username] = Client()
        clients[viewer.username].force_login(viewer)
    cards.cards.clear()
    for viewer in positions[::order]:
        browser, path = clients[viewer.username], f"/u/{positions[0].username}/"
        assert without_tokens(page_of(browser, path)) == without_tokens(
            uncached(monkeypatch, browser, path)
        ), viewer.username


@pytest.mark.parametrize("aged", ["post", "comment"])
def test_a_cached_card_moves_with_the_clock(client, monkeypatch, ann, bob, aged):
    """Each time on a card counts: the other one is old enough to show a fixed date."""
    make_friends(ann, bob)
    post = services.create_post(author=bob, body="tick")
    comment = services.add_comment(post=post, author=bob, body="tock")
    now = timezone.now()
    fixed = type(post if aged == "comment" else comment)
    fixed.objects.filter(pk=(post if aged == "comment" else comment).pk).update(
        created_at=now - timedelta(days=30)
    )
    client.force_login(ann)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(hours=3))
    assert "3\xa0hours ago" in page_of(client)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(days=2))
    page = page_of(client)
    assert "2\xa0days ago" in page
    assert "3\xa0hours ago" not in page


@pytest.mark.parametrize("who", ["author", "wall", "commenter"])
def test_a_cached_card_follows_a_bunny_renaming_herself(client, ann, bob, cid, who):
    dan = make_bunny("dan")
    for friend in (bob, cid, dan):
        make_friends(ann, friend)
    post = services.create_post(author=bob, wall=ann, body="hello")
    comment = services.add_comment(post=post, author=cid, body="hi")
    client.force_login(dan)
    page_of(client, f"/u/{ann.username}/")
    bunny = {"author": bob, "wall": ann, "commenter": cid}[who]
    type(bunny).objects.filter(pk=bunny.pk).update(display_name="Renamed")
    shown = {
        "author": f'id="post-{post.pk}-by" href="/u/bob/">Renamed</a>',
        "wall": '<a href="/u/ann/">Renamed</a>',
        "commenter": f'id="comment-{comment.pk}-by" href="/u/cid/">Renamed</a>',
    }
    assert shown[who] in page_of(client, f"/u/{ann.username}/")


@pytest.mark.parametrize("edited", ["post", "comment"])
def test_a_cached_card_follows_an_edit(client, thread, ann, edited):
    client.force_login(ann)
    page_of(client)
    if edited == "post":
        services.edit_post(post=thread, by=thread.author, body="Clover now")
    else:
        comment = thread.comments.get(author=thread.author)
        services.edit_comment(comment=comment, by=thread.author, body="Clover now")
    page = page_of(client)
    assert "Clover now" in page
    assert ("Carrots" in page) == (edited == "comment")


def test_a_cached_card_follows_a_change_to_the_post(client, thread, ann):
    client.force_login(ann)
    page_of(client)
    services.edit_post(post=thread, by=thread.author, body="Clover now")
    services.unlike_post(post=thread, user=ann)

    page = page_of(client)
    assert "Clover now" in page
    assert "Carrots" not in page
    assert (
        f'id="post-like-{thread.pk}-button" class="like-button"\n          aria-pressed="false"'
        in page
    )


def test_a_cached_card_carries_the_pages_own_return_path(client, thread, ann):
    client.force_login(ann)
    full = page_of(client, "/?x=1")
    fragment = page_of(
        client, "/?y=2", HX_Request="true", HX_Current_URL="http://testserver/u/bob/"
    )

    for page, back, here in ((full, "/?x=1", "/%3Fx%3D1"), (fragment, "/u/bob/", "/%3Fy%3D2")):
        assert set(re.findall(r'name="next" value="([^"]*)"', page)) == {back.replace("&", "&amp;")}
        assert set(re.findall(r'/report/\w+/\d+/\?next=([^"]*)"', page)) == {here}


def test_a_friends_only_post_cached_for_a_friend_stays_hidden_from_others(client, ann, bob):
    make_friends(ann, bob)
    stranger = make_bunny("eve")
    secret = services.create_post(author=bob, body="for friends only")
    client.force_login(ann)
    assert "for friends only" in page_of(client, f"/u/{bob.username}/")

    client.force_login(stranger)
    assert "for friends only" not in page_of(client, f"/u/{bob.username}/")
    assert "for friends only" not in page_of(client)
    assert f'id="post-{secret.pk}"' not in page_of(client)


def test_a_card_rendered_without_the_list_context_is_not_cached(thread, ann):
    request = RequestFactory().get("/")
    request.user = ann
    get_token(request)
    post = selectors.get_post_for(ann, thread.pk)  # no latest_comments batch
    template = Template("{% load social_tags %}{% post_card post %}")
    html = template.render(Context({"post": post, "user": ann, "request": request}))
    assert f'id="post-{post.pk}"' in html


# --- API --------------------------------------------------------------------------------


def test_the_feeds_profiles_are_what_the_profile_serializer_gives(ann_api, ann, thread):
    answer = ann_api.get("/api/feed/")
    assert answer.status_code == 200
    post = answer.json()["results"][0]
    request = RequestFactory().get("/")
    request.user = ann
    states = selectors.friendship_states(ann, [thread.author.pk])
    expected = ProfileSerializer(
        thread.author,
        context={"request": request, "friendship_states": states, "online": {}},
    ).data
    assert {**post["author"], "online": None} == {**expected, "online": None}
    assert post["author"]["avatar_url"].startswith("http")


def test_the_card_cache_keeps_at_most_its_size_and_zero_turns_it_off(client, ann, settings):
    for n in range(3):
        services.create_post(author=ann, body=f"post {n}")
    client.force_login(ann)
    cards.cards.clear()
    settings.POST_CARD_CACHE_SIZE = 2
    assert page_of(client).count('class="card post"') == 3
    assert len(cards.cards._items) == 2

    cards.cards.clear()
    settings.POST_CARD_CACHE_SIZE = 0
    assert page_of(client).count('class="card post"') == 3
    assert not cards.cards._items
