"""Properties that must hold for any input (hypothesis): bunny text never escapes into
markup through the templates the site renders it with; a forged or corrupted cursor is a
400 (never a 500, never rows from outside the list); usernames and search queries of any
shape are answered, never a 500."""

import base64
import json
import re
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import USERNAME_PATTERN, User
from bunnybook.tests.conftest import count_cases
from chat.models import Message
from social.models import Post

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Markup that must come out as text: a tag and an attribute no template of ours uses.
INJECTIONS = [
    "<zqx>",
    "</div><zqx>",
    '"><zqx zqattr=1>',
    "'><zqx zqattr=1>",
    "<img src=x zqattr=1>",
    "<a href='javascript:zqx()'>x</a>",
    "javascript:zqx()",
    "&lt;zqx&gt;",
    "<!--",
    "<![CDATA[<zqx>]]>",
    "{{ request }}{% zqx %}",
    'http://example.com/?q=<zqx>&r="zqattr',
    'www.example.com"onmouseover="zqattr',
]
hostile_text = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(INJECTIONS)), min_size=1, max_size=6
).map("".join)


class Markup(HTMLParser):
    """The tags and attributes of a piece of HTML, and those inside bunny text."""

    TEXT_CLASSES = {"post-body", "comment-body", "message-body", "bio"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.in_text: list[tuple[str, dict]] = []
        self._text_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if self._text_depth:
            self.in_text.append((tag, attrs))
            if tag != "br":
                self._text_depth += 1
        elif self.TEXT_CLASSES & set((attrs.get("class") or "").split()):
            self._text_depth = 1

    def handle_endtag(self, tag):
        if self._text_depth:
            self._text_depth -= 1


def assert_no_markup_escaped(html: str):
    parser = Markup()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag != "zqx", html
        assert "zqattr" not in attrs, html
        assert not (attrs.get("href") or "").lower().startswith("javascript:"), html
    for tag, attrs in parser.in_text:  # bunny text gets links and line breaks, nothing else
        assert tag in ("a", "br"), (tag, html)
        if tag == "a":
            assert set(attrs) <= {"href", "rel"}, attrs
            assert re.match(r"(https?://|mailto:)", attrs["href"]), attrs


@pytest.fixture
def rendered(shared_world, db):
    """Render the real fragments of a post, a comment and a chat message for Olive."""
    world = shared_world
    request = RequestFactory().get("/")
    request.user = world.owner

    def render(text: str) -> str:
        post = Post.objects.select_related("author", "wall").get(pk=world.post.pk)
        comment = world.comment
        message = Message.objects.select_related("sender").get(pk=world.message.pk)
        post.body = comment.body = message.body = text
        post.author.display_name = text[:50]
        post.latest_comments = [comment]
        context = {"post": post, "liked_post_ids": set(), "liked_comment_ids": set()}
        return "".join(
            [
                render_to_string("social/partials/post_card.html", context, request=request),
                render_to_string(
                    "social/partials/comment.html", {**context, "comment": comment}, request
                ),
                render_to_string(
                    "chat/partials/message.html",
                    {"message": message, "current": world.conversation, "user": world.owner},
                    request,
                ),
            ]
        )

    return render


@EXAMPLES
@given(text=hostile_text)
def test_bunny_text_never_escapes_into_markup(rendered, text):
    count_cases("property: hostile texts rendered")
    assert_no_markup_escaped(rendered(text))


# --- cursors ----------------------------------------------------------------------------


def _encoded(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00", "9999-12-31", "olive"]),
)
cursors = st.one_of(
    st.text(max_size=80),  # any junk
    st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.lists(json_scalars, max_size=3).map(_encoded),  # well encoded, forged inside
    st.tuples(json_scalars, json_scalars).map(lambda pair: _encoded(list(pair))),
)


@settings(EXAMPLES, max_examples=30)  # nine requests an example, four of them whole pages
@given(cursor=cursors)
@example(cursor=_encoded([float("inf"), None]))  # once a 500: int(inf) overflows
def test_a_forged_cursor_is_a_400_or_a_page_of_the_same_list(shared_world, db, unlimited, cursor):
    world = shared_world
    api = world.api_client("owner")
    visible_posts = set(Post.objects.visible_to(world.owner).values_list("pk", flat=True))
    lists = [
        ("/api/feed/", {"cursor": cursor}, visible_posts),
        ("/api/profiles/wally/posts/", {"cursor": cursor}, visible_posts),
        (
            f"/api/conversations/{world.conversation.pk}/messages/",
            {"before": cursor},
            set(world.conversation.messages.values_list("pk", flat=True)),
        ),
        ("/api/friends/", {"cursor": cursor}, None),
        ("/api/notifications/", {"cursor": cursor}, None),
    ]
    for url, query, allowed in lists:
        count_cases("property: forged cursors tried")
        response = api.get(url, query)
        assert response.status_code in (200, 400), (url, cursor, response.status_code)
        if response.status_code == 200 and allowed is not None:
            assert {row["id"] for row in response.json()["results"]} <= allowed
    for url in ("/", "/u/wally/", "/notifications/", f"/chat/{world.conversation.pk}/"):
        count_cases("property: forged cursors tried")
        key = "before" if url.startswith("/chat/") else "cursor"
        page = world.page_client("owner").get(url, {key: cursor})
        assert page.status_code in (200, 400), (url, cursor, page.status_code)


# --- usernames and search ---------------------------------------------------------------

usernames = st.one_of(
    st.text(max_size=40),
    st.from_regex(USERNAME_PATTERN, fullmatch=True),
    st.sampled_from(["olive", "OLIVE", "a_b", "ab", "x" * 31, "olive\x00", "ölive", "ｏｌｉｖｅ"]),
)


@EXAMPLES
@given(username=usernames)
def test_any_username_is_accepted_or_refused_cleanly(shared_world, db, unlimited, username):
    count_cases("property: usernames tried")
    body = {"username": username, "email": "someone@bunnies.test", "password": "Hop-hop-42-long"}
    response = shared_world.api_client("anonymous").post("/api/auth/signup/", body, format="json")
    assert response.status_code in (201, 400), (username, response.status_code)
    if response.status_code == 201:
        assert re.fullmatch(USERNAME_PATTERN, username)
        User.objects.filter(username=username).delete()  # the email stays free
    page = shared_world.page_client("anonymous").post("/signup/", body)
    assert page.status_code in (200, 302), (username, page.status_code)


queries = st.one_of(
    st.text(max_size=120),
    st.text(alphabet="%_\\'\"*\x00", max_size=20),
    st.sampled_from(["%", "_", "%%", "o%e", "ol_ve", "\x00", "olive\x00", "x" * 5000, "💥"]),
)


@EXAMPLES
@given(query=queries)
def test_any_search_query_is_answered_and_wildcards_are_literal(shared_world, db, query):
    count_cases("property: search queries tried")
    response = shared_world.api_client("owner").get("/api/profiles/", {"q": query})
    assert response.status_code in (200, 400), (query, response.status_code)
    if response.status_code == 200 and query.strip() and set(query.strip()) <= {"%"}:
        assert response.json()["results"] == []  # "%" matches nobody, not everybody
    page = shared_world.page_client("owner").get("/search/", {"q": query})
    assert page.status_code in (200, 400), (query, page.status_code)
