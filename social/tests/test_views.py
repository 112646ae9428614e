"""Social pages: feed, posts, comments, likes, profiles, friendships, blocks and search,
through plain form posts (redirects) and htmx (fragments)."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from conftest import make_bunny
from social import selectors, services
from social.models import Block, Comment, CommentLike, FriendRequest, Post, PostLike
from social.templatetags.social_tags import rich_text
from social.tests.factories import make_friends
from social.views import REQUESTS_SUMMARY_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
# Queries for a whole page (session, viewer, rows, batch-loaded per-viewer state, nav);
# the same bound holds for a page of 1 and of 20 posts or comments.
FEED_QUERY_BOUND = 13
PROFILE_QUERY_BOUND = 18
COMMENT_LIST_QUERY_BOUND = 6


@pytest.fixture
def dan(db):
    return make_bunny("dan")


def post_by(author, body="Carrots are great.", **kwargs) -> Post:
    return services.create_post(author=author, body=body, **kwargs)


def comment_by(author, post, body="So true.") -> Comment:
    return services.add_comment(post=post, author=author, body=body)


def card_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="post-(\d+)"', response.content.decode())]


def is_fragment(response) -> bool:
    return b"<html" not in response.content


# --- Feed -------------------------------------------------------------------------------


def test_an_anonymous_visitor_sees_the_landing_page(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert response.templates[0].name == "social/landing.html"


def test_feed_shows_own_friends_and_wall_posts_newest_first_but_not_strangers(
    client, ann, bob, cid, dan
):
    make_friends(ann, bob)
    make_friends(cid, dan)
    mine = post_by(ann, "mine")
    friends = post_by(bob, "from bob")
    on_my_wall = post_by(bob, "on your wall", wall=ann)
    strangers = post_by(cid, "not for ann", visibility="public")
    client.force_login(ann)

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert card_ids(response) == [on_my_wall.pk, friends.pk, mine.pk]
    assert strangers.pk not in card_ids(response)
    assert 'name="body"' in response.content.decode()


def test_writing_a_post_with_htmx_answers_the_new_card(client, ann):
    client.force_login(ann)

    response = client.post(
        reverse("post-create"),
        {"body": "Hop hop", "visibility": "public", "wall": "ann"},
        headers=HTMX,
    )

    post = Post.objects.get()
    assert response.status_code == 200
    assert is_fragment(response)
    assert card_ids(response) == [post.pk]
    assert (post.author, post.wall, post.body, post.visibility) == (ann, ann, "Hop hop", "public")


def test_writing_a_post_without_javascript_redirects_back_to_the_feed(client, ann):
    client.force_login(ann)

    response = client.post(
        reverse("post-create"), {"body": "Hop", "visibility": "friends", "next": "/"}
    )

    assert response.status_code == 302
    assert response.url == "/"
    assert Post.objects.get().body == "Hop"


def test_a_redirect_back_never_leaves_the_site(client, ann):
    client.force_login(ann)

    response = client.post(
        reverse("post-create"),
        {"body": "Hop", "visibility": "friends", "next": "https://evil.example/"},
    )

    assert response.url == reverse("home")


@pytest.mark.parametrize("body", ["", "   \n\t  ", "x" * 5001])
def test_an_empty_blank_or_overlong_post_is_a_form_error_not_a_500(client, ann, body):
    client.force_login(ann)
    data = {"body": body, "visibility": "friends"}

    plain = client.post(reverse("post-create"), data)
    htmx = client.post(reverse("post-create"), data, headers=HTMX)

    assert plain.status_code == 200
    assert "body" in plain.context["form"].errors
    assert htmx.status_code == 400
    assert is_fragment(htmx)
    assert 'id="post-composer"' in htmx.content.decode()
    assert htmx["HX-Retarget"] == "#post-composer"
    assert not Post.objects.exists()


def test_an_unknown_visibility_is_a_form_error(client, ann):
    client.force_login(ann)

    response = client.post(reverse("post-create"), {"body": "Hop", "visibility": "secret"})

    assert response.status_code == 200
    assert "visibility" in response.context["form"].errors


def test_posting_on_a_friends_wall_returns_to_their_profile_and_on_a_strangers_is_403(
    client, ann, bob, cid
):
    make_friends(ann, bob)
    client.force_login(ann)

    to_friend = client.post(
        reverse("post-create"), {"body": "Hi Bob", "visibility": "friends", "wall": "bob"}
    )
    to_stranger = client.post(
        reverse("post-create"), {"body": "Hi Cid", "visibility": "friends", "wall": "cid"}
    )

    assert to_friend.status_code == 302
    assert to_friend.url == reverse("profile", args=["bob"])
    assert to_stranger.status_code == 403
    assert list(Post.objects.values_list("wall__username", flat=True)) == ["bob"]


def test_infinite_scroll_page_two_has_no_duplicate_or_skip_when_a_post_arrives_meanwhile(
    client, ann
):
    posts = [post_by(ann, f"post {i}") for i in range(25)]
    client.force_login(ann)

    first = client.get(reverse("home"))
    assert card_ids(first) == [post.pk for post in reversed(posts)][:20]
    next_url = first.context["next_url"]
    assert f'hx-get="{next_url}"' in first.content.decode().replace("&amp;", "&")
    assert 'hx-trigger="revealed"' in first.content.decode()

    newcomer = post_by(ann, "arrived while scrolling")
    second = client.get(next_url, headers=HTMX)

    assert second.status_code == 200
    assert is_fragment(second)
    assert card_ids(second) == [post.pk for post in reversed(posts)][20:]
    assert newcomer.pk not in card_ids(first) + card_ids(second)
    assert second.context["next_url"] is None
    assert 'hx-trigger="revealed"' not in second.content.decode()


def test_a_forged_cursor_is_a_400_not_a_500(client, ann):
    client.force_login(ann)

    for url in [reverse("home"), reverse("profile", args=["ann"])]:
        assert client.get(url, {"cursor": "not-a-cursor"}, headers=HTMX).status_code == 400


def busy_posts(viewer, friends, count: int) -> list[Post]:
    """`count` posts by the viewer and friends, each with comments and likes from several
    bunnies, some of them the viewer's."""
    posts = []
    for i in range(count):
        author = [viewer, *friends][i % (len(friends) + 1)]
        post = post_by(author, f"post {i}", wall=friends[0] if i % 3 == 0 else None)
        for commenter in [viewer, *friends]:
            comment = comment_by(commenter, post)
            services.like_comment(comment=comment, user=viewer)
        for liker in [viewer, *friends]:
            services.like_post(post=post, user=liker)
        posts.append(post)
    return posts


@pytest.mark.parametrize("count", [1, 20])
def test_the_feed_costs_the_same_few_queries_for_1_or_20_posts(
    client, ann, bob, cid, django_assert_max_num_queries, count
):
    make_friends(ann, bob)
    make_friends(ann, cid)
    services.send_friend_request(sender=make_bunny("eve"), to=ann)
    busy_posts(ann, [bob, cid], count)
    client.force_login(ann)

    with django_assert_max_num_queries(FEED_QUERY_BOUND):
        response = client.get(reverse("home"))

    assert len(card_ids(response)) == count
    assert response.content.decode().count('aria-pressed="true"') >= count * 2


# --- Post page and its visibility -------------------------------------------------------


@pytest.fixture
def friends_only_post(ann, bob, cid):
    """Bob's friends-only post on Ann's wall; Cid is Ann's friend, not Bob's."""
    make_friends(ann, bob)
    make_friends(ann, cid)
    return post_by(bob, "for Ann's friends", wall=ann)


@pytest.mark.parametrize(
    ("viewer", "status"),
    [("bob", 200), ("ann", 200), ("cid", 200), ("dan", 404), (None, 302)],
    ids=["author", "wall owner", "friend of the wall owner", "stranger", "anonymous"],
)
def test_who_sees_a_friends_only_post_page(client, friends_only_post, dan, viewer, status):
    if viewer:
        client.force_login(User.objects.get(username=viewer))

    response = client.get(friends_only_post.get_absolute_url())

    assert response.status_code == status
    if viewer is None:
        assert response.url.startswith(reverse("login"))
    if status == 200:
        assert card_ids(response) == [friends_only_post.pk]


def test_a_public_post_is_visible_to_strangers_but_anonymous_must_log_in(client, ann, dan):
    post = post_by(ann, "hello world", visibility="public")

    assert client.get(post.get_absolute_url()).status_code == 302
    client.force_login(dan)
    assert client.get(post.get_absolute_url()).status_code == 200


def test_a_post_the_viewer_may_not_see_is_404_for_its_page_comments_and_every_action(
    client, friends_only_post, dan
):
    comment = comment_by(friends_only_post.author, friends_only_post)
    client.force_login(dan)
    pk = friends_only_post.pk

    assert client.get(reverse("post", args=[pk])).status_code == 404
    assert client.get(reverse("post-comments", args=[pk]), headers=HTMX).status_code == 404
    assert client.get(reverse("post-edit", args=[pk])).status_code == 404
    assert client.get(reverse("comment", args=[comment.pk]), headers=HTMX).status_code == 404
    for name in ["post-like", "post-unlike", "post-delete", "post-edit", "post-comments"]:
        assert client.post(reverse(name, args=[pk]), {"body": "hi"}).status_code == 404, name
    for name in ["comment-like", "comment-unlike", "comment-edit", "comment-delete"]:
        response = client.post(reverse(name, args=[comment.pk]), {"body": "hi"})
        assert response.status_code == 404, name
    assert not PostLike.objects.exists()
    assert Comment.objects.count() == 1


def test_a_missing_post_or_comment_is_404(client, ann):
    client.force_login(ann)

    assert client.get(reverse("post", args=[999])).status_code == 404
    assert client.post(reverse("post-like", args=[999])).status_code == 404
    assert client.post(reverse("comment-like", args=[999])).status_code == 404


def test_a_post_body_is_shown_as_text_with_links_and_line_breaks(client, ann):
    post = post_by(ann, "<script>alert(1)</script>\nsee https://bunnies.example/hay?a=1&b=2")
    client.force_login(ann)

    html = client.get(post.get_absolute_url()).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in html
    assert '<a href="https://bunnies.example/hay?a=1&amp;b=2" rel="nofollow">' in html


def test_rich_text_escapes_attributes_and_only_links_web_urls():
    html = rich_text('"><img src=x onerror=alert(1)> javascript:alert(1)\r\nwww.bunny.example')

    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html
    assert re.search(
        r'<br><a href="https?://www.bunny.example" rel="nofollow">www.bunny.example</a>', html
    )


def test_the_post_page_lists_every_comment_oldest_first_and_who_liked_it(
    client, friends_only_post, ann, bob, cid
):
    comments = [comment_by(bob, friends_only_post, f"comment {i}") for i in range(5)]
    services.like_post(post=friends_only_post, user=ann)
    services.like_post(post=friends_only_post, user=cid)
    client.force_login(ann)

    html = client.get(friends_only_post.get_absolute_url()).content.decode()

    positions = [html.index(f'id="comment-{comment.pk}"') for comment in comments]
    assert positions == sorted(positions)
    assert "Show all" not in html
    assert re.search(r"Liked by <a [^>]+>Cid</a> and you</p>", html)


# --- Editing and deleting posts ---------------------------------------------------------


def test_the_author_edits_a_post_inline_with_htmx_and_it_shows_edited(client, ann):
    post = post_by(ann, "first draft")
    client.force_login(ann)

    form = client.get(reverse("post-edit", args=[post.pk]), headers=HTMX)
    saved = client.post(
        reverse("post-edit", args=[post.pk]),
        {"body": "second draft", "visibility": "public"},
        headers=HTMX,
    )

    assert form.status_code == 200
    assert is_fragment(form)
    assert "first draft</textarea>" in form.content.decode()
    assert saved.status_code == 200
    assert card_ids(saved) == [post.pk]
    assert '<span class="edited"' in saved.content.decode()
    post.refresh_from_db()
    assert (post.body, post.visibility) == ("second draft", "public")
    assert post.edited_at is not None


def test_editing_a_post_without_javascript_redirects_to_it(client, ann):
    post = post_by(ann)
    client.force_login(ann)

    page = client.get(reverse("post-edit", args=[post.pk]))
    response = client.post(
        reverse("post-edit", args=[post.pk]), {"body": "new", "visibility": "friends"}
    )

    assert page.status_code == 200
    assert response.status_code == 302
    assert response.url == post.get_absolute_url()


def test_an_edit_to_an_empty_post_is_a_form_error(client, ann):
    post = post_by(ann, "keep me")
    client.force_login(ann)
    url = reverse("post-edit", args=[post.pk])

    plain = client.post(url, {"body": "  ", "visibility": "friends"})
    htmx = client.post(url, {"body": "", "visibility": "friends"}, headers=HTMX)

    assert plain.status_code == 200
    assert plain.context["form"].errors["body"]
    assert htmx.status_code == 400
    assert f'id="post-{post.pk}"' in htmx.content.decode()
    post.refresh_from_db()
    assert post.body == "keep me"


def test_editing_someone_elses_post_is_403_even_for_the_wall_owner(client, ann, bob):
    make_friends(ann, bob)
    post = post_by(bob, "on ann's wall", wall=ann)
    client.force_login(ann)

    assert client.get(reverse("post-edit", args=[post.pk])).status_code == 403
    response = client.post(
        reverse("post-edit", args=[post.pk]), {"body": "hacked", "visibility": "public"}
    )

    assert response.status_code == 403
    post.refresh_from_db()
    assert post.body == "on ann's wall"


def test_edit_and_delete_buttons_show_only_where_allowed(client, ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = post_by(bob, "on ann's wall", wall=ann)
    url = post.get_absolute_url()
    edit, delete = reverse("post-edit", args=[post.pk]), reverse("post-delete", args=[post.pk])

    for viewer, can_edit, can_delete in [
        (bob, True, True),
        (ann, False, True),
        (cid, False, False),
    ]:
        client.force_login(viewer)
        html = client.get(url).content.decode()
        assert (edit in html, delete in html) == (can_edit, can_delete), viewer


def test_the_wall_owner_may_delete_a_post_on_their_wall_but_a_friend_may_not(client, ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = post_by(bob, "on ann's wall", wall=ann)

    client.force_login(cid)
    assert client.post(reverse("post-delete", args=[post.pk])).status_code == 403
    client.force_login(ann)
    response = client.post(reverse("post-delete", args=[post.pk]), {"next": "/u/ann/"})

    assert response.status_code == 302
    assert response.url == "/u/ann/"
    assert not Post.objects.exists()


def test_deleting_a_post_with_htmx_removes_its_card_or_leaves_its_page(client, ann):
    in_feed, on_its_page = post_by(ann), post_by(ann)
    client.force_login(ann)

    from_feed = client.post(
        reverse("post-delete", args=[in_feed.pk]),
        headers=HTMX | {"HX-Current-URL": "http://testserver/"},
    )
    from_page = client.post(
        reverse("post-delete", args=[on_its_page.pk]),
        headers=HTMX | {"HX-Current-URL": f"http://testserver{on_its_page.get_absolute_url()}"},
    )

    assert (from_feed.status_code, from_feed.content) == (200, b"")
    assert from_page["HX-Redirect"] == reverse("home")
    assert not Post.objects.exists()


def test_post_actions_need_post(client, ann):
    post = post_by(ann)
    client.force_login(ann)

    for name in ["post-like", "post-unlike", "post-delete"]:
        assert client.get(reverse(name, args=[post.pk])).status_code == 405


# --- Comments ---------------------------------------------------------------------------


def test_commenting_with_htmx_appends_the_comment_and_updates_the_count(client, ann, bob):
    make_friends(ann, bob)
    post = post_by(bob)
    client.force_login(ann)

    response = client.post(
        reverse("post-comments", args=[post.pk]), {"body": "Nice <b>hay</b>"}, headers=HTMX
    )

    comment = Comment.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert is_fragment(response)
    assert f'id="comment-{comment.pk}"' in html
    assert "Nice &lt;b&gt;hay&lt;/b&gt;" in html
    assert re.search(rf'id="comment-count-{post.pk}"[^>]*hx-swap-oob="true"[^>]*>1 comment<', html)
    assert (comment.author, comment.post) == (ann, post)


def test_commenting_without_javascript_redirects_to_the_comment(client, ann):
    post = post_by(ann)
    client.force_login(ann)

    response = client.post(reverse("post-comments", args=[post.pk]), {"body": "me again"})

    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response.url == f"{post.get_absolute_url()}#comment-{comment.pk}"


@pytest.mark.parametrize("body", ["", "    ", "x" * 2001])
def test_an_empty_or_overlong_comment_is_a_form_error_not_a_500(client, ann, body):
    post = post_by(ann)
    client.force_login(ann)
    url = reverse("post-comments", args=[post.pk])

    plain = client.post(url, {"body": body})
    htmx = client.post(url, {"body": body}, headers=HTMX)

    assert plain.status_code == 200
    assert plain.context["comment_form"].errors["body"]
    assert f'id="comment-form-{post.pk}-body_error"' in plain.content.decode()
    assert htmx.status_code == 400
    assert htmx["HX-Retarget"] == f"#comment-form-{post.pk}"
    assert not Comment.objects.exists()


def test_the_feed_shows_the_latest_comments_and_a_show_all_expander(client, ann):
    post = post_by(ann)
    comments = [comment_by(ann, post, f"comment {i}") for i in range(5)]
    client.force_login(ann)

    feed = client.get(reverse("home")).content.decode()
    everything = client.get(reverse("post-comments", args=[post.pk]), headers=HTMX)

    shown = [c.pk for c in comments if f'id="comment-{c.pk}"' in feed]
    assert shown == [c.pk for c in comments[-selectors.INLINE_COMMENTS :]]
    assert "Show all 5 comments" in feed
    assert f'hx-get="{reverse("post-comments", args=[post.pk])}"' in feed
    assert everything.status_code == 200
    assert is_fragment(everything)
    html = everything.content.decode()
    assert [html.index(f'id="comment-{c.pk}"') for c in comments] == sorted(
        html.index(f'id="comment-{c.pk}"') for c in comments
    )


def test_the_comment_list_without_htmx_sends_you_to_the_post(client, ann):
    post = post_by(ann)
    client.force_login(ann)

    response = client.get(reverse("post-comments", args=[post.pk]))

    assert response.status_code == 302
    assert response.url == post.get_absolute_url()


@pytest.mark.parametrize("count", [1, 20])
def test_a_posts_comment_list_costs_the_same_few_queries_for_1_or_20_comments(
    client, ann, bob, cid, django_assert_max_num_queries, count
):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = post_by(ann)
    for i in range(count):
        comment = comment_by([ann, bob, cid][i % 3], post, f"comment {i}")
        for liker in [ann, bob]:
            services.like_comment(comment=comment, user=liker)
    client.force_login(ann)

    with django_assert_max_num_queries(COMMENT_LIST_QUERY_BOUND):
        response = client.get(reverse("post-comments", args=[post.pk]), headers=HTMX)

    assert response.content.decode().count('class="comment"') == count
    assert response.content.decode().count('aria-pressed="true"') == count


def test_the_comment_author_edits_inline_and_others_get_403(client, ann, bob):
    make_friends(ann, bob)
    post = post_by(ann)
    comment = comment_by(bob, post, "typo")
    url = reverse("comment-edit", args=[comment.pk])

    client.force_login(ann)
    assert client.get(url).status_code == 403
    assert client.post(url, {"body": "rewritten by ann"}).status_code == 403
    client.force_login(bob)
    form = client.get(url, headers=HTMX)
    saved = client.post(url, {"body": "fixed"}, headers=HTMX)
    empty = client.post(url, {"body": " "}, headers=HTMX)

    assert form.status_code == 200
    assert "typo</textarea>" in form.content.decode()
    assert saved.status_code == 200
    assert f'id="comment-{comment.pk}"' in saved.content.decode()
    assert '<span class="edited">edited</span>' in saved.content.decode()
    assert empty.status_code == 400
    comment.refresh_from_db()
    assert comment.body == "fixed"


@pytest.mark.parametrize(
    ("deleter", "status"),
    [("cid", 302), ("ann", 302), ("bob", 302), ("dan", 403)],
    ids=["comment author", "wall owner", "post author", "friend of the wall owner"],
)
def test_who_may_delete_a_comment(client, ann, bob, cid, dan, deleter, status):
    make_friends(ann, bob)
    make_friends(ann, cid)
    make_friends(ann, dan)
    post = post_by(bob, wall=ann)
    comment = comment_by(cid, post)
    client.force_login({"ann": ann, "bob": bob, "cid": cid, "dan": dan}[deleter])

    response = client.post(reverse("comment-delete", args=[comment.pk]))

    assert response.status_code == status
    assert Comment.objects.exists() == (status == 403)


def test_deleting_a_comment_with_htmx_removes_it_and_updates_the_count(client, ann):
    post = post_by(ann)
    comment = comment_by(ann, post)
    client.force_login(ann)

    response = client.post(reverse("comment-delete", args=[comment.pk]), headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="comment-{comment.pk}"' not in html
    assert re.search(rf'id="comment-count-{post.pk}"[^>]*hx-swap-oob="true"[^>]*>0 comments<', html)


def test_comments_of_a_blocked_bunny_are_hidden(client, ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    post = post_by(ann, visibility="public")
    hidden = comment_by(cid, post, "from cid")
    services.block_bunny(blocker=bob, blocked=cid)
    client.force_login(bob)

    page = client.get(post.get_absolute_url()).content.decode()
    feed = client.get(reverse("home")).content.decode()

    assert f'id="comment-{hidden.pk}"' not in page
    assert f'id="comment-{hidden.pk}"' not in feed
    assert client.post(reverse("comment-like", args=[hidden.pk])).status_code == 404


# --- Likes ------------------------------------------------------------------------------


def test_liking_a_post_twice_keeps_one_like_and_unliking_removes_it(client, ann):
    post = post_by(ann)
    client.force_login(ann)
    like, unlike = reverse("post-like", args=[post.pk]), reverse("post-unlike", args=[post.pk])

    client.post(like, headers=HTMX)
    twice = client.post(like, headers=HTMX)

    assert twice.status_code == 200
    html = twice.content.decode()
    assert f'id="post-like-{post.pk}"' in html
    assert 'aria-pressed="true"' in html
    assert f'action="{unlike}"' in html
    assert '<span class="like-count">1<' in html
    assert PostLike.objects.count() == 1

    undone = client.post(unlike, headers=HTMX).content.decode()
    client.post(unlike, headers=HTMX)
    assert 'aria-pressed="false"' in undone
    assert '<span class="like-count">0<' in undone
    assert not PostLike.objects.exists()
    post.refresh_from_db()
    assert post.like_count == 0


def test_liking_without_javascript_redirects_back_to_the_page(client, ann):
    post = post_by(ann)
    client.force_login(ann)

    response = client.post(reverse("post-like", args=[post.pk]), {"next": "/u/ann/"})

    assert response.status_code == 302
    assert response.url == "/u/ann/"
    assert PostLike.objects.count() == 1


def test_liking_a_comment_with_htmx_answers_its_like_button(client, ann):
    post = post_by(ann)
    comment = comment_by(ann, post)
    client.force_login(ann)

    liked = client.post(reverse("comment-like", args=[comment.pk]), headers=HTMX)
    client.post(reverse("comment-like", args=[comment.pk]), headers=HTMX)

    assert f'id="comment-like-{comment.pk}"' in liked.content.decode()
    assert 'aria-pressed="true"' in liked.content.decode()
    assert CommentLike.objects.count() == 1
    client.post(reverse("comment-unlike", args=[comment.pk]))
    assert not CommentLike.objects.exists()


# --- Profiles ---------------------------------------------------------------------------


def test_profiles_need_login(client, ann):
    response = client.get(reverse("profile", args=["ann"]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_profile_is_found_by_its_name_in_any_case(client, ann, bob):
    client.force_login(bob)

    for name in ["ann", "ANN", "aNn"]:
        assert client.get(reverse("profile", args=[name])).context["owner"] == ann
    assert client.get(reverse("profile", args=["annie"])).status_code == 404


def test_a_profile_shows_the_bunny_friends_mutual_friends_and_wall(client, ann, bob, cid, dan):
    ann.bio = "Likes <b>clover</b>"
    ann.save()
    make_friends(ann, bob)
    make_friends(ann, cid)
    make_friends(dan, cid)
    public = post_by(ann, "public news", visibility="public")
    private = post_by(ann, "friends only")
    client.force_login(dan)

    response = client.get(reverse("profile", args=["ANN"]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'alt="Ann\'s bunny avatar: {ann.avatar_description}"' in html
    assert "@ann" in html
    assert "Likes &lt;b&gt;clover&lt;/b&gt;" in html
    assert response.context["friends_preview"] == [bob, cid]
    assert response.context["mutual_preview"] == [cid]
    assert reverse("profile-friends", args=["ann"]) in html
    assert card_ids(response) == [public.pk]
    assert private.pk not in card_ids(response)
    assert response.context["form"] is None


@pytest.mark.parametrize(
    ("relation", "shown", "can_post"),
    [
        ("self", "Edit profile", True),
        ("none", "Add friend", False),
        ("request_sent", "Cancel request", False),
        ("request_received", "Accept", False),
        ("friends", "Unfriend", True),
    ],
)
def test_the_friend_button_shows_the_current_relation(client, ann, bob, relation, shown, can_post):
    if relation == "request_sent":
        services.send_friend_request(sender=ann, to=bob)
    elif relation == "request_received":
        services.send_friend_request(sender=bob, to=ann)
    elif relation == "friends":
        make_friends(ann, bob)
    client.force_login(ann)

    response = client.get(reverse("profile", args=["ann" if relation == "self" else "bob"]))

    owner = ann if relation == "self" else bob
    html = response.content.decode()
    button = html[html.index(f'id="friend-button-{owner.pk}"') :]
    assert shown in button[: button.index("</div>")]
    assert response.context["state"] == relation
    assert (response.context["form"] is not None) == can_post
    if relation == "friends":
        assert reverse("block", args=["bob"]) in button


def test_the_wall_scrolls_with_htmx_pages(client, ann):
    posts = [post_by(ann, f"post {i}") for i in range(21)]
    client.force_login(ann)

    first = client.get(reverse("profile", args=["ann"]))
    second = client.get(first.context["next_url"], headers=HTMX)

    assert len(card_ids(first)) == 20
    assert is_fragment(second)
    assert card_ids(second) == [posts[0].pk]


@pytest.mark.parametrize("count", [1, 20])
def test_a_profile_costs_the_same_few_queries_for_1_or_20_posts(
    client, ann, bob, cid, django_assert_max_num_queries, count
):
    make_friends(ann, bob)
    make_friends(ann, cid)
    make_friends(bob, cid)
    busy_posts(bob, [ann, cid], count)
    client.force_login(cid)

    with django_assert_max_num_queries(PROFILE_QUERY_BOUND):
        response = client.get(reverse("profile", args=["ann"]))

    assert len(card_ids(response)) == len(Post.objects.filter(wall=ann))


def test_the_full_friends_list_of_a_profile_shows_each_relation(client, ann, bob, cid):
    make_friends(ann, bob)
    make_friends(ann, cid)
    services.send_friend_request(sender=bob, to=cid)
    client.force_login(bob)

    response = client.get(reverse("profile-friends", args=["ann"]))

    assert response.status_code == 200
    assert response.context["rows"] == [(bob, "self"), (cid, "request_sent")]


# --- Friendship actions -----------------------------------------------------------------


def friend_button(response, owner) -> str:
    html = response.content.decode()
    assert html.lstrip().startswith(f'<div id="friend-button-{owner.pk}"'), html[:200]
    return html


def test_a_friend_request_lifecycle_with_htmx(client, ann, bob):
    client.force_login(ann)
    sent = client.post(reverse("friend-request", args=["bob"]), headers=HTMX)
    assert "Cancel request" in friend_button(sent, bob)
    cancelled = client.post(reverse("friend-request-cancel", args=["bob"]), headers=HTMX)
    assert "Add friend" in friend_button(cancelled, bob)
    assert not FriendRequest.objects.exists()
    client.post(reverse("friend-request", args=["bob"]), headers=HTMX)

    client.force_login(bob)
    accepted = client.post(reverse("friend-request-accept", args=["ann"]), headers=HTMX)
    assert "Unfriend" in friend_button(accepted, ann)
    assert selectors.are_friends(ann.pk, bob.pk)

    unfriended = client.post(reverse("unfriend", args=["ann"]), headers=HTMX)
    assert "Add friend" in friend_button(unfriended, ann)
    assert not selectors.are_friends(ann.pk, bob.pk)


def test_declining_a_request_with_htmx(client, ann, bob):
    services.send_friend_request(sender=bob, to=ann)
    client.force_login(ann)

    response = client.post(reverse("friend-request-decline", args=["bob"]), headers=HTMX)

    assert "Add friend" in friend_button(response, bob)
    assert not FriendRequest.objects.exists()
    assert not selectors.are_friends(ann.pk, bob.pk)


def test_friendship_actions_without_javascript_redirect_to_the_profile(client, ann, bob):
    client.force_login(ann)

    response = client.post(reverse("friend-request", args=["bob"]))

    assert response.status_code == 302
    assert response.url == reverse("profile", args=["bob"])
    assert FriendRequest.objects.filter(from_user=ann, to_user=bob).exists()


def test_asking_a_bunny_who_already_asked_you_makes_you_friends(client, ann, bob):
    services.send_friend_request(sender=bob, to=ann)
    client.force_login(ann)

    response = client.post(reverse("friend-request", args=["bob"]), headers=HTMX)

    assert "Unfriend" in friend_button(response, bob)
    assert selectors.are_friends(ann.pk, bob.pk)


@pytest.mark.parametrize(
    ("setup", "action", "shown"),
    [
        ("request_sent", "friend-request", "Cancel request"),
        ("friends", "friend-request", "Unfriend"),
        ("none", "friend-request-cancel", "Add friend"),
        ("none", "friend-request-accept", "Add friend"),
        ("request_sent", "friend-request-accept", "Cancel request"),
        ("request_sent", "friend-request-decline", "Cancel request"),
    ],
)
def test_a_stale_friendship_action_shows_the_current_state_not_an_error(
    client, ann, bob, setup, action, shown
):
    if setup == "request_sent":
        services.send_friend_request(sender=ann, to=bob)
    elif setup == "friends":
        make_friends(ann, bob)
    client.force_login(ann)

    htmx = client.post(reverse(action, args=["bob"]), headers=HTMX)
    plain = client.post(reverse(action, args=["bob"]), follow=True)

    assert htmx.status_code == 200
    assert shown in friend_button(htmx, bob)
    assert plain.status_code == 200
    assert list(plain.context["messages"])


def test_befriending_yourself_shows_your_own_button(client, ann):
    client.force_login(ann)

    response = client.post(reverse("friend-request", args=["ann"]), headers=HTMX)

    assert "Edit profile" in friend_button(response, ann)
    assert not FriendRequest.objects.exists()


def test_unfriending_a_stranger_is_404(client, ann, bob):
    client.force_login(ann)

    assert client.post(reverse("unfriend", args=["bob"])).status_code == 404


def test_friendship_actions_need_post_and_login(client, ann, bob):
    names = ["friend-request", "friend-request-cancel", "friend-request-accept"]
    names += ["friend-request-decline", "unfriend", "block", "unblock"]
    for name in names:
        assert client.post(reverse(name, args=["bob"])).status_code == 302, name
    client.force_login(ann)
    for name in names:
        assert client.get(reverse(name, args=["bob"])).status_code == 405, name


def test_the_friends_page_lists_requests_both_ways_and_friends(client, ann, bob, cid, dan):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=ann, to=cid)
    make_friends(ann, dan)
    client.force_login(ann)

    response = client.get(reverse("friends"))

    html = response.content.decode()
    assert response.status_code == 200
    assert [r.from_user for r in response.context["incoming"]] == [bob]
    assert [r.to_user for r in response.context["outgoing"]] == [cid]
    assert response.context["friends"] == [dan]
    assert reverse("friend-request-accept", args=["bob"]) in html
    assert reverse("friend-request-cancel", args=["cid"]) in html
    assert reverse("unfriend", args=["dan"]) in html


def test_the_feed_side_column_summarises_incoming_requests(client, ann, bob, cid, dan):
    for sender in [bob, cid, dan]:
        services.send_friend_request(sender=sender, to=ann)
    services.send_friend_request(sender=ann, to=make_bunny("eve"))
    # Made directly, the block leaves cid's request in place (blocking drops it): the read
    # must hide it on its own.
    Block.objects.create(blocker=cid, blocked=ann)
    client.force_login(ann)

    response = client.get(reverse("home"))
    html = response.content.decode()

    assert response.context["requesters"] == [dan, bob]  # newest first; cid is blocked
    assert response.context["request_count"] == 2
    assert reverse("friend-request-accept", args=["bob"]) in html
    assert reverse("friend-request-accept", args=["cid"]) not in html


def test_the_feed_side_column_shows_a_few_requests_and_links_to_all(client, ann):
    senders = [make_bunny(f"asker{number}") for number in range(REQUESTS_SUMMARY_SIZE + 2)]
    for sender in senders:
        services.send_friend_request(sender=sender, to=ann)
    client.force_login(ann)

    response = client.get(reverse("home"))

    assert response.context["requesters"] == senders[::-1][:REQUESTS_SUMMARY_SIZE]
    assert f"See all {len(senders)} requests" in response.content.decode()


# --- Blocking ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["ann blocks bob", "bob blocks ann"])
def test_a_block_hides_profile_posts_and_search_both_ways(client, ann, bob, direction):
    make_friends(ann, bob)
    post = post_by(bob, "bob's public post", visibility="public")
    bobs_comment = comment_by(bob, post_by(ann, "ann's post", visibility="public"))
    blocker, blocked = (ann, bob) if direction == "ann blocks bob" else (bob, ann)
    services.block_bunny(blocker=blocker, blocked=blocked)
    client.force_login(ann)

    assert client.get(reverse("profile", args=["bob"])).status_code == 404
    assert client.get(post.get_absolute_url()).status_code == 404
    assert client.post(reverse("post-like", args=[post.pk])).status_code == 404
    assert client.post(reverse("friend-request", args=["bob"])).status_code == 404
    assert post.pk not in card_ids(client.get(reverse("home")))
    assert f"comment-{bobs_comment.pk}" not in client.get(reverse("home")).content.decode()
    assert client.get(reverse("search"), {"q": "bob"}).context["rows"] == []
    dropdown = client.get(reverse("search"), {"q": "bob"}, headers=HTMX)
    assert "@bob" not in dropdown.content.decode()
    assert not client.get(reverse("friends")).context["friends"]


def test_blocking_with_htmx_then_unblocking_from_the_blocks_page(client, ann, bob):
    make_friends(ann, bob)
    client.force_login(ann)

    blocked = client.post(reverse("block", args=["bob"]), headers=HTMX)

    assert "Unblock" in friend_button(blocked, bob)
    assert Block.objects.filter(blocker=ann, blocked=bob).exists()
    assert not selectors.are_friends(ann.pk, bob.pk)
    blocks_page = client.get(reverse("blocks"))
    assert blocks_page.context["blocked"] == [bob]
    assert reverse("unblock", args=["bob"]) in blocks_page.content.decode()

    unblocked = client.post(reverse("unblock", args=["bob"]))

    assert unblocked.status_code == 302
    assert unblocked.url == reverse("blocks")
    assert not Block.objects.exists()
    assert client.get(reverse("profile", args=["bob"])).status_code == 200


def test_blocking_without_javascript_goes_to_the_blocks_page(client, ann, bob):
    client.force_login(ann)

    response = client.post(reverse("block", args=["bob"]))

    assert response.status_code == 302
    assert response.url == reverse("blocks")


def test_the_blocked_bunny_cannot_unblock_or_find_the_blocker(client, ann, bob):
    services.block_bunny(blocker=ann, blocked=bob)
    client.force_login(bob)

    assert client.post(reverse("unblock", args=["ann"])).status_code == 404
    assert client.post(reverse("block", args=["ann"])).status_code == 404
    assert Block.objects.count() == 1


# --- Search -----------------------------------------------------------------------------


def test_the_nav_has_a_labelled_live_search_box(client, ann):
    client.force_login(ann)

    html = client.get(reverse("home")).content.decode()

    assert '<label for="nav-search-q"' in html
    assert 'type="search" id="nav-search-q" name="q"' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html
    assert re.search(r'id="nav-search-results"[^>]*aria-live="polite"', html)


def test_search_shows_live_results_and_a_full_page_with_friendship_states(client, ann, bob, cid):
    make_friends(ann, bob)
    services.send_friend_request(sender=ann, to=cid)
    bob.display_name = "Bob <i>the bold</i>"
    bob.save()
    client.force_login(ann)

    dropdown = client.get(reverse("search"), {"q": "b"}, headers=HTMX)
    page = client.get(reverse("search"), {"q": "b"})

    assert is_fragment(dropdown)
    html = dropdown.content.decode()
    assert "@bob" in html
    assert "Bob &lt;i&gt;the bold&lt;/i&gt;" in html
    assert ">Friend<" in html
    assert f"{reverse('search')}?q=b" in html
    assert page.status_code == 200
    assert (bob, "friends") in page.context["rows"]
    assert f'id="friend-button-{bob.pk}"' in page.content.decode()


def test_searching_for_nothing_shows_no_results(client, ann):
    client.force_login(ann)

    dropdown = client.get(reverse("search"), {"q": "  "}, headers=HTMX)
    page = client.get(reverse("search"))

    assert dropdown.content.strip() == b""
    assert page.status_code == 200
    assert page.context["rows"] == []


def test_search_finds_hazel_despite_a_typo_on_postgres_and_by_substring_everywhere(client, ann):
    hazel = make_bunny("hazel", display_name="Hazel Nut")
    make_bunny("bramble")
    client.force_login(ann)

    by_substring = client.get(reverse("search"), {"q": "haz"}).context["rows"]
    by_typo = client.get(reverse("search"), {"q": "hazle"}).context["rows"]

    assert by_substring == [(hazel, "none")]
    if settings.USES_POSTGRES:
        assert by_typo[0] == (hazel, "none")
    else:
        assert by_typo == []


def test_search_needs_login(client):
    response = client.get(reverse("search"), {"q": "ann"})

    assert response.status_code == 302
