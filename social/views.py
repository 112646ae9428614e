"""Social pages: the feed, posts, comments and likes, profiles, friendships and search.

Every view parses input, calls a service or selector, and renders: a whole page, or for an
htmx request the same fragment the page includes, with the new state. A plain form post
gets a redirect, so everything works without JavaScript.
"""

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from accounts.models import User, equal_ignoring_case
from bunnybook.errors import Conflict
from bunnybook.pagination import Page
from bunnybook.ratelimit import limit
from chat import selectors as chat_selectors
from social import selectors, services
from social.forms import (
    BlankPostForm,
    CommentEditForm,
    CommentForm,
    PostEditForm,
    PostForm,
    add_service_errors,
)
from social.graph import suggestions as graph_suggestions
from social.graph import views as graph_views
from social.models import Comment, Post

PREVIEW_SIZE = 6  # friends and mutual friends shown on a profile before "see all"
REQUESTS_SUMMARY_SIZE = 5
SEARCH_DROPDOWN_SIZE = 8


# --- Helpers ----------------------------------------------------------------------------


def _cursor_page(request, fetch: Callable[[str | None], Page]) -> Page:
    """A page from `?cursor=`; a forged cursor is a 400, not a 500."""
    try:
        return fetch(request.GET.get("cursor") or None)
    except ValidationError as exc:
        raise BadRequest("Invalid cursor.") from exc


def _next_url(request, page: Page) -> str | None:
    if not page.next_cursor:
        return None
    return f"{request.path}?{urlencode({'cursor': page.next_cursor})}"


def _back(request, default: str) -> str:
    """Where a plain form post returns to: its `next` field when it is ours, else `default`."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _invalid_fragment(request, template: str, context: dict, *, target: str) -> HttpResponse:
    """An htmx form with errors: 400, with the re-rendered form swapped in place of the old."""
    response = TemplateResponse(request, template, context, status=400)
    return reswap(retarget(response, target), "outerHTML")


def _card_state(viewer: User, posts: list[Post]) -> dict:
    """Batch-load what post cards show per viewer, a constant number of queries for any
    number of posts: the latest comments of each post (set as `post.latest_comments`, as
    prefetch_related's to_attr would) and which posts and comments the viewer liked."""
    latest = selectors.latest_comments_on(viewer, posts)
    for post in posts:
        post.latest_comments = latest[post.pk]
    comments = [comment for rows in latest.values() for comment in rows]
    return {
        "liked_post_ids": selectors.liked_post_ids(viewer, posts),
        "liked_comment_ids": selectors.liked_comment_ids(viewer, comments),
    }


def _post_card(request, post: Post) -> TemplateResponse:
    context = {"post": post, **_card_state(request.user, [post])}
    return TemplateResponse(request, "social/partials/post_card.html", context)


def _post_list_context(request, page: Page) -> dict:
    return {
        "page": page,
        "next_url": _next_url(request, page),
        **_card_state(request.user, page.items),
    }


def _comment_fragment(request, comment: Comment, post: Post) -> TemplateResponse:
    liked = selectors.liked_comment_ids(request.user, [comment])
    context = {"comment": comment, "post": post, "liked_comment_ids": liked}
    return TemplateResponse(request, "social/partials/comment.html", context)


# --- Feed -------------------------------------------------------------------------------


@require_GET
def home(request):
    if not request.user.is_authenticated:
        return TemplateResponse(request, "social/landing.html")
    viewer = request.user
    page = _cursor_page(request, lambda cursor: selectors.feed_for(viewer, cursor=cursor))
    context = _post_list_context(request, page)
    if request.htmx:
        return TemplateResponse(request, "social/partials/post_page.html", context)
    requesters, request_count = selectors.latest_requesters(viewer, limit=REQUESTS_SUMMARY_SIZE)
    context |= {
        "form": BlankPostForm(),
        "wall": viewer,
        "requesters": requesters,
        "request_count": request_count,
        **graph_views.panel_context(viewer),
    }
    return TemplateResponse(request, "social/feed.html", context)


# --- Posts ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@limit("post")
def post_create(request):
    """Post on your wall or a friend's (`wall` names the owner). The feed and profiles post
    here with htmx; this page is where a plain post with errors lands."""
    viewer = request.user
    wall = selectors.get_bunny_for(
        viewer, request.POST.get("wall") or request.GET.get("wall") or viewer.username
    )
    form = PostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            post = services.create_post(author=viewer, wall=wall, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:
                return _post_card(request, post)
            messages.success(request, "Posted.")
            default = reverse("home") if wall.pk == viewer.pk else wall.get_absolute_url()
            return redirect(_back(request, default))
    context = {"form": form, "wall": wall}
    if request.htmx:
        return _invalid_fragment(
            request, "social/partials/post_form.html", context, target="#post-composer"
        )
    return TemplateResponse(request, "social/post_create.html", context)


@login_required
@require_GET
def post_detail(request, post_id: int):
    post = selectors.get_post_for(request.user, post_id)
    if request.htmx:
        return _post_card(request, post)
    return _post_page(request, post)


def _post_page(request, post: Post, *, comment_form: CommentForm | None = None):
    """The post with its comments, oldest first (infinite scroll past the first page)."""
    viewer = request.user
    comment_page = _comment_page(request, post)
    likers = selectors.post_likers(viewer, post)
    context = {
        "post": post,
        "comment_page": comment_page,
        "comments_next_url": _comments_next_url(post, comment_page),
        "comment_form": comment_form,
        "liked_post_ids": selectors.liked_post_ids(viewer, [post]),
        "liked_comment_ids": selectors.liked_comment_ids(viewer, comment_page.items),
        "likers": likers,
        "likers_others": max(post.like_count - len(likers), 0),
    }
    return TemplateResponse(request, "social/post_detail.html", context)


def _comment_page(request, post: Post) -> Page:
    """A page of the post's comments, oldest first, from `?cursor=`."""
    comments = selectors.comments_on(request.user, post)
    return _cursor_page(
        request, lambda cursor: selectors.paginate_comments(comments, cursor=cursor)
    )


def _comments_next_url(post: Post, page: Page) -> str | None:
    if not page.next_cursor:
        return None
    return f"{reverse('post-comments', args=[post.pk])}?{urlencode({'cursor': page.next_cursor})}"


def _require_author(item: Post | Comment, user: User) -> None:
    """The edit form itself is 403 for anyone the service would refuse."""
    if not item.editable_by(user):
        raise PermissionDenied("Only the author can edit this.")


@login_required
@require_http_methods(["GET", "POST"])
def post_edit(request, post_id: int):
    viewer = request.user
    post = selectors.get_post_for(viewer, post_id)
    _require_author(post, viewer)
    form = PostEditForm(
        request.POST or None,
        initial={"body": post.body, "visibility": post.visibility},
        html_id=f"edit-post-{post.pk}",
    )
    if request.method == "POST" and form.is_valid():
        try:
            post = services.edit_post(post=post, by=viewer, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:
                return _post_card(request, post)
            return redirect(post)
    context = {"post": post, "form": form}
    if request.htmx:
        if form.is_bound:
            return _invalid_fragment(
                request, "social/partials/post_edit_form.html", context, target=f"#post-{post.pk}"
            )
        return TemplateResponse(request, "social/partials/post_edit_form.html", context)
    return TemplateResponse(request, "social/post_edit.html", context)


@login_required
@require_POST
def post_delete(request, post_id: int):
    viewer = request.user
    post = selectors.get_post_for(viewer, post_id)
    post_url = post.get_absolute_url()
    services.delete_post(post=post, by=viewer)
    if request.htmx:
        if request.htmx.current_url_abs_path == post_url:
            return HttpResponseClientRedirect(reverse("home"))
        return HttpResponse("")  # the card swaps itself out
    messages.success(request, "Post deleted.")
    back = _back(request, reverse("home"))
    return redirect(reverse("home") if back.split("#")[0] == post_url else back)


@login_required
@require_POST
@limit("like")
def post_like(request, post_id: int, *, like: bool):
    """Like (or unlike) a post; idempotent: liking twice keeps one like."""
    viewer = request.user
    post = selectors.get_post_for(viewer, post_id)
    if like:
        services.like_post(post=post, user=viewer)
    else:
        services.unlike_post(post=post, user=viewer)
    if request.htmx:
        post = selectors.get_post_for(viewer, post_id)  # the fresh count
        liked = {post.pk} if like else set()
        return TemplateResponse(
            request, "social/partials/post_like.html", {"post": post, "liked_post_ids": liked}
        )
    return redirect(_back(request, post.get_absolute_url()))


# --- Comments ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@limit("comment")
def post_comments(request, post_id: int):
    """GET (htmx): a page of the post's comments, oldest first. POST: add a comment."""
    viewer = request.user
    post = selectors.get_post_for(viewer, post_id)
    if request.method == "GET":
        if not request.htmx:
            return redirect(post)
        page = _comment_page(request, post)
        context = {
            "post": post,
            "comment_page": page,
            "comments_next_url": _comments_next_url(post, page),
            "liked_comment_ids": selectors.liked_comment_ids(viewer, page.items),
        }
        return TemplateResponse(request, "social/partials/comment_rows.html", context)

    form = CommentForm.for_post(post.pk, request.POST)
    if form.is_valid():
        try:
            comment = services.add_comment(post=post, author=viewer, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not request.htmx:
                return redirect(f"{post.get_absolute_url()}#comment-{comment.pk}")
            post = selectors.get_post_for(viewer, post.pk)  # the fresh count
            context = {"comment": comment, "post": post, "liked_comment_ids": set()}
            return TemplateResponse(request, "social/partials/comment_added.html", context)
    if request.htmx:
        context = {"post": post, "comment_form": form}
        return _invalid_fragment(
            request, "social/partials/comment_form.html", context, target=f"#{form.html_id}"
        )
    return _post_page(request, post, comment_form=form)


@login_required
@require_GET
def comment_detail(request, comment_id: int):
    comment = selectors.get_comment_for(request.user, comment_id)
    if not request.htmx:
        return redirect(f"{comment.post.get_absolute_url()}#comment-{comment.pk}")
    return _comment_fragment(request, comment, comment.post)


@login_required
@require_http_methods(["GET", "POST"])
def comment_edit(request, comment_id: int):
    viewer = request.user
    comment = selectors.get_comment_for(viewer, comment_id)
    _require_author(comment, viewer)
    form = CommentEditForm(
        request.POST or None,
        initial={"body": comment.body},
        html_id=f"edit-comment-{comment.pk}",
    )
    if request.method == "POST" and form.is_valid():
        try:
            comment = services.edit_comment(comment=comment, by=viewer, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:
                return _comment_fragment(request, comment, comment.post)
            return redirect(f"{comment.post.get_absolute_url()}#comment-{comment.pk}")
    context = {"comment": comment, "post": comment.post, "form": form}
    if request.htmx:
        if form.is_bound:
            return _invalid_fragment(
                request,
                "social/partials/comment_edit_form.html",
                context,
                target=f"#comment-{comment.pk}",
            )
        return TemplateResponse(request, "social/partials/comment_edit_form.html", context)
    return TemplateResponse(request, "social/comment_edit.html", context)


@login_required
@require_POST
def comment_delete(request, comment_id: int):
    viewer = request.user
    comment = selectors.get_comment_for(viewer, comment_id)
    post = comment.post
    services.delete_comment(comment=comment, by=viewer)
    if request.htmx:
        post = selectors.get_post_for(viewer, post.pk)  # the fresh count
        return TemplateResponse(request, "social/partials/comment_removed.html", {"post": post})
    messages.success(request, "Comment deleted.")
    return redirect(_back(request, post.get_absolute_url()))


@login_required
@require_POST
@limit("like")
def comment_like(request, comment_id: int, *, like: bool):
    viewer = request.user
    comment = selectors.get_comment_for(viewer, comment_id)
    if like:
        services.like_comment(comment=comment, user=viewer)
    else:
        services.unlike_comment(comment=comment, user=viewer)
    if request.htmx:
        comment = selectors.get_comment_for(viewer, comment_id)  # the fresh count
        liked = {comment.pk} if like else set()
        return TemplateResponse(
            request,
            "social/partials/comment_like.html",
            {"comment": comment, "liked_comment_ids": liked},
        )
    return redirect(_back(request, f"{comment.post.get_absolute_url()}#comment-{comment.pk}"))


# --- Profiles ---------------------------------------------------------------------------


@login_required
@require_GET
def profile(request, username: str):
    viewer = request.user
    owner = selectors.get_bunny_for(viewer, username)
    page = _cursor_page(request, lambda cursor: selectors.wall_for(viewer, owner, cursor=cursor))
    context = {"owner": owner, **_post_list_context(request, page)}
    if request.htmx:
        return TemplateResponse(request, "social/partials/post_page.html", context)
    state = selectors.friendship_states(viewer, [owner.pk])[owner.pk]
    friends, friend_count = selectors.friends_preview(owner, viewer=viewer, limit=PREVIEW_SIZE)
    context |= {
        "state": state,
        "friends_preview": friends,
        "friend_count": friend_count,
        "form": BlankPostForm() if state in ("self", "friends") else None,
        "wall": owner,
    }
    if state != "self":
        mutual, mutual_count = graph_suggestions.mutual_friends_preview(
            viewer, owner, limit=PREVIEW_SIZE
        )
        context |= {"mutual_preview": mutual, "mutual_count": mutual_count}
    return TemplateResponse(request, "social/profile.html", context)


@login_required
@require_GET
def profile_friends(request, username: str):
    viewer = request.user
    owner = selectors.get_bunny_for(viewer, username)
    page = _cursor_page(
        request,
        lambda cursor: selectors.paginate_bunnies(
            selectors.friends_of(owner, viewer=viewer), cursor=cursor
        ),
    )
    states = selectors.friendship_states(viewer, [bunny.pk for bunny in page.items])
    context = {
        "owner": owner,
        "rows": [(bunny, states[bunny.pk]) for bunny in page.items],
        "next_url": _next_url(request, page),
    }
    return TemplateResponse(request, "social/profile_friends.html", context)


# --- Friendship actions -----------------------------------------------------------------


def _friendship_answer(request, owner: User, *, state: str | None = None, default: str = ""):
    """The friend button in its new state for htmx; a redirect back for a plain post."""
    if request.htmx:
        if state is None:
            state = selectors.friendship_states(request.user, [owner.pk])[owner.pk]
        context = {"owner": owner, "state": state}
        return TemplateResponse(request, "social/partials/friend_button.html", context)
    return redirect(_back(request, default or owner.get_absolute_url()))


def _friendship_action(act: Callable[[User, User], object]):
    """A POST-only view that runs `act(viewer, other)`. A clash with the current state
    (already friends, a request already pending, nothing left to cancel) is not an error:
    the answer shows the state as it now is."""

    @login_required
    @require_POST
    def view(request, username: str):
        owner = selectors.get_bunny_for(request.user, username)
        try:
            act(request.user, owner)
        except (Conflict, ValidationError) as exc:
            if not request.htmx:
                messages.info(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        return _friendship_answer(request, owner)

    return view


def _request_from(sender: User, addressee: User):
    friend_request = selectors.pending_request_between(sender, addressee)
    if friend_request is None or friend_request.from_user_id != sender.pk:
        raise Conflict("There is no pending request.")
    return friend_request


send_friend_request = limit("friend_request")(
    _friendship_action(lambda viewer, other: services.send_friend_request(sender=viewer, to=other))
)
cancel_friend_request = _friendship_action(
    lambda viewer, other: services.cancel_friend_request(
        friend_request=_request_from(viewer, other), by=viewer
    )
)
accept_friend_request = _friendship_action(
    lambda viewer, other: services.accept_friend_request(
        friend_request=_request_from(other, viewer), by=viewer
    )
)
decline_friend_request = _friendship_action(
    lambda viewer, other: services.decline_friend_request(
        friend_request=_request_from(other, viewer), by=viewer
    )
)
unfriend = _friendship_action(lambda viewer, other: services.unfriend(user=viewer, friend=other))


@login_required
@require_POST
def block(request, username: str):
    viewer = request.user
    owner = selectors.get_bunny_for(viewer, username)
    try:
        services.block_bunny(blocker=viewer, blocked=owner)
    except ValidationError:
        return _friendship_answer(request, owner)
    if not request.htmx:
        messages.success(request, f"You blocked {owner.name}. You won't see each other anywhere.")
    return _friendship_answer(request, owner, state="blocked", default=reverse("blocks"))


@login_required
@require_POST
def unblock(request, username: str):
    viewer = request.user
    owner = selectors.blocked_by(viewer).filter(equal_ignoring_case("username", username)).first()
    if owner is None:
        raise Http404
    services.unblock_bunny(blocker=viewer, blocked=owner)
    if not request.htmx:
        messages.success(request, f"You unblocked {owner.name}.")
    return _friendship_answer(request, owner, default=reverse("blocks"))


# --- Friends, blocks and search ---------------------------------------------------------


@login_required
@require_GET
def friends(request):
    viewer = request.user
    page = _cursor_page(
        request,
        lambda cursor: selectors.paginate_bunnies(
            selectors.friends_of(viewer, viewer=viewer), cursor=cursor
        ),
    )
    # Each friend's online dot, kept live by the page's socket (presence events).
    online = chat_selectors.presence_for(
        viewer, page.items, {friend.pk: "friends" for friend in page.items}
    )
    for friend in page.items:
        friend.online = online.get(friend.pk, False)
    context = {
        "incoming": list(selectors.friend_requests_for(viewer, direction="incoming")),
        "outgoing": list(selectors.friend_requests_for(viewer, direction="outgoing")),
        "friends": page.items,
        "next_url": _next_url(request, page),
    }
    return TemplateResponse(request, "social/friends.html", context)


@login_required
@require_GET
def blocks(request):
    context = {"blocked": list(selectors.blocked_by(request.user))}
    return TemplateResponse(request, "social/blocks.html", context)


@login_required
@require_GET
def search(request):
    viewer = request.user
    query = request.GET.get("q", "").strip()
    results = selectors.search_bunnies(viewer, query)
    if request.htmx:
        results = results[:SEARCH_DROPDOWN_SIZE]
    states = selectors.friendship_states(viewer, [bunny.pk for bunny in results])
    context = {"q": query, "rows": [(bunny, states[bunny.pk]) for bunny in results]}
    if request.htmx:
        return TemplateResponse(request, "social/partials/search_results.html", context)
    return TemplateResponse(request, "social/search.html", context)
