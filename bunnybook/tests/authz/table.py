"""The expected answer of every page and API endpoint to every actor (shared/API.md and the
product rules: what you may not see is a 404, as if it did not exist).

One row per route name, each method with the answer per actor. `page(...)` and `api(...)`
fill in the anonymous and banned answers (a redirect to log in, or 401); the keyword
arguments override single actors. Routes of the Django admin site are checked by one rule
(test_http.py), since the admin itself guards them all the same way.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from bunnybook.tests.authz.world import ACTORS, World
from conftest import PASSWORD

LOGIN = "login"  # a redirect to the log-in page
REDIRECT = "redirect"  # a redirect anywhere else: a form done, a page that moved
ADMIN_LOGIN = "admin-login"  # a redirect to the admin's log-in page


def answers(default, **by_actor) -> dict[str, object]:
    unknown = set(by_actor) - set(ACTORS)
    assert not unknown, unknown
    return {actor: by_actor.get(actor, default) for actor in ACTORS}


def page(answer, **by_actor) -> dict[str, object]:
    """A page behind log-in: the anonymous and the banned are sent to log in."""
    return answers(answer, **({"anonymous": LOGIN, "banned": LOGIN} | by_actor))


def api(answer, **by_actor) -> dict[str, object]:
    """An API endpoint behind a token: no token, or a banned bunny's, is a 401."""
    return answers(answer, **({"anonymous": 401, "banned": 401} | by_actor))


def public(answer, **by_actor) -> dict[str, object]:
    return answers(answer, **by_actor)


# Who may see the friends-only post on Wally's wall, its comments and likes: its author,
# the wall owner and the wall owner's friends. Everyone else: 404.
POST_HIDDEN = {"stranger": 404, "blocked": 404, "staff": 404}
# Who is in the conversation: Olive and Fern. Everyone else: 404.
CHAT_HIDDEN = {"stranger": 404, "wall_owner": 404, "blocked": 404, "staff": 404}
# What only Olive has (her notification, her requests). Everyone else: 404.
OWNER_ONLY = {**CHAT_HIDDEN, "friend": 404}
# Bea, blocked by Olive, does not find her at all.
OLIVE_HIDDEN = {"blocked": 404}


@dataclass(frozen=True)
class Call:
    expect: dict[str, object]
    data: dict | Callable[[World], dict] | None = None
    query: dict = field(default_factory=dict)

    def body(self, world: World) -> dict | None:
        return self.data(world) if callable(self.data) else self.data


@dataclass(frozen=True)
class Row:
    kwargs: Callable[[World], dict] = lambda world: {}
    calls: dict[str, Call] = field(default_factory=dict)


def row(kwargs=None, **calls: Call) -> Row:
    return Row(kwargs=kwargs or (lambda world: {}), calls=calls)


OLIVE = lambda world: {"username": "olive"}  # noqa: E731
POST = lambda world: {"post_id": world.post.pk}  # noqa: E731
COMMENT = lambda world: {"comment_id": world.comment.pk}  # noqa: E731
CHAT = lambda world: {"conversation_id": world.conversation.pk}  # noqa: E731


def _message(world: World) -> dict:
    return {"body": "Carrots?", "client_id": "5b1f6f5e-8f2e-4c43-9d0e-0c1c9f1f0a11"}


PAGES: dict[str, Row] = {
    # --- accounts
    "signup": row(
        GET=Call(
            public(
                200,
                stranger=REDIRECT,
                friend=REDIRECT,
                owner=REDIRECT,
                wall_owner=REDIRECT,
                blocked=REDIRECT,
                staff=REDIRECT,
            )
        ),
        POST=Call(
            public(
                200,
                stranger=REDIRECT,
                friend=REDIRECT,
                owner=REDIRECT,
                wall_owner=REDIRECT,
                blocked=REDIRECT,
                staff=REDIRECT,
            ),
            data={"username": "x"},
        ),
    ),
    "login": row(
        GET=Call(public(REDIRECT, anonymous=200, banned=200)),
        POST=Call(
            public(REDIRECT, anonymous=200, banned=200),
            data={"username": "olive", "password": "wrong-password"},
        ),
        PUT=Call(public(REDIRECT, anonymous=200, banned=200)),
    ),
    "logout": row(POST=Call(public(LOGIN))),
    # Django's form views take PUT as POST.
    "password_change": row(GET=Call(page(200)), POST=Call(page(200), data={}), PUT=Call(page(200))),
    "password_change_done": row(GET=Call(page(200))),
    "password_reset": row(
        GET=Call(public(200)),
        POST=Call(public(REDIRECT), data={"email": "olive@bunnies.test"}),
        PUT=Call(public(200)),
    ),
    "password_reset_done": row(GET=Call(public(200))),
    "password_reset_confirm": row(
        lambda world: {"uidb64": "MQ", "token": "forged-token"},
        GET=Call(public(200)),
        POST=Call(public(200), data={"new_password1": PASSWORD, "new_password2": PASSWORD}),
        # A forged link shows "invalid link" before the method is looked at.
        PUT=Call(public(200)),
        PATCH=Call(public(200)),
        DELETE=Call(public(200)),
    ),
    "password_reset_complete": row(GET=Call(public(200))),
    "settings": row(
        GET=Call(page(200)),
        POST=Call(page(REDIRECT), data={"display_name": "New name", "bio": "Hi"}),
    ),
    "reroll-avatar": row(POST=Call(page(REDIRECT))),
    # Avatars are public images, drawn for seeds some bunny wears.
    "avatar": row(lambda world: {"seed": world.owner.avatar_seed}, GET=Call(public(200))),
    # --- feed and posts
    "home": row(GET=Call(public(200))),
    "post-create": row(
        GET=Call(page(200)),
        POST=Call(
            page(REDIRECT, stranger=403, staff=403, blocked=404),
            data={"body": "On Olive's wall", "wall": "olive", "visibility": "friends"},
        ),
    ),
    "post": row(POST, GET=Call(page(200, **POST_HIDDEN))),
    "post-edit": row(
        POST,
        GET=Call(page(403, owner=200, **POST_HIDDEN)),
        POST=Call(
            page(403, owner=REDIRECT, **POST_HIDDEN),
            data={"body": "Edited", "visibility": "public"},
        ),
    ),
    "post-delete": row(POST, POST=Call(page(REDIRECT, friend=403, **POST_HIDDEN))),
    "post-like": row(POST, POST=Call(page(REDIRECT, **POST_HIDDEN))),
    "post-unlike": row(POST, POST=Call(page(REDIRECT, **POST_HIDDEN))),
    "post-comments": row(
        POST,
        GET=Call(page(REDIRECT, **POST_HIDDEN)),
        POST=Call(page(REDIRECT, **POST_HIDDEN), data={"body": "A comment"}),
    ),
    "comment": row(COMMENT, GET=Call(page(REDIRECT, **POST_HIDDEN))),
    "comment-edit": row(
        COMMENT,
        GET=Call(page(403, owner=200, **POST_HIDDEN)),
        POST=Call(page(403, owner=REDIRECT, **POST_HIDDEN), data={"body": "Edited"}),
    ),
    "comment-delete": row(COMMENT, POST=Call(page(REDIRECT, friend=403, **POST_HIDDEN))),
    "comment-like": row(COMMENT, POST=Call(page(REDIRECT, **POST_HIDDEN))),
    "comment-unlike": row(COMMENT, POST=Call(page(REDIRECT, **POST_HIDDEN))),
    # --- profiles and friendships (a clash with the current state is shown, not refused)
    "profile": row(OLIVE, GET=Call(page(200, **OLIVE_HIDDEN))),
    "profile-friends": row(OLIVE, GET=Call(page(200, **OLIVE_HIDDEN))),
    "friend-request": row(OLIVE, POST=Call(page(REDIRECT, **OLIVE_HIDDEN))),
    "friend-request-cancel": row(OLIVE, POST=Call(page(REDIRECT, **OLIVE_HIDDEN))),
    "friend-request-accept": row(OLIVE, POST=Call(page(REDIRECT, **OLIVE_HIDDEN))),
    "friend-request-decline": row(OLIVE, POST=Call(page(REDIRECT, **OLIVE_HIDDEN))),
    # Unfriending Olive: to anyone but her friends she is no friend (404, as in the API).
    "unfriend": row(
        OLIVE, POST=Call(page(REDIRECT, owner=404, stranger=404, staff=404, **OLIVE_HIDDEN))
    ),
    "block": row(OLIVE, POST=Call(page(REDIRECT, **OLIVE_HIDDEN))),
    # Only Olive has Bea in her block list.
    "unblock": row(lambda world: {"username": "bea"}, POST=Call(page(404, owner=REDIRECT))),
    "friends": row(GET=Call(page(200))),
    "blocks": row(GET=Call(page(200))),
    "search": row(GET=Call(page(200), query={"q": "olive"})),
    "suggestions-panel": row(GET=Call(page(200))),
    "suggestion-add": row(OLIVE, POST=Call(page(REDIRECT, owner=400, **OLIVE_HIDDEN))),
    "suggestion-dismiss": row(OLIVE, POST=Call(page(REDIRECT, owner=400, **OLIVE_HIDDEN))),
    # --- notifications
    "notifications": row(GET=Call(page(200))),
    "notification-menu": row(GET=Call(page(REDIRECT))),
    "notifications-read-all": row(POST=Call(page(REDIRECT))),
    "notification-open": row(
        lambda world: {"notification_id": world.notification.pk},
        GET=Call(page(REDIRECT, **OWNER_ONLY)),
    ),
    "notification-settings": row(
        GET=Call(page(200)), POST=Call(page(REDIRECT), data={"shown": ["post_liked"]})
    ),
    # --- chat
    "chat": row(GET=Call(page(200))),
    # With Olive: her friends get their conversation; anyone else may not start one.
    "chat-with": row(
        OLIVE, POST=Call(page(REDIRECT, owner=400, stranger=403, staff=403, **OLIVE_HIDDEN))
    ),
    "chat-conversation": row(CHAT, GET=Call(page(200, **CHAT_HIDDEN))),
    "chat-messages": row(
        CHAT,
        GET=Call(page(REDIRECT, **CHAT_HIDDEN)),
        POST=Call(page(REDIRECT, **CHAT_HIDDEN), data=_message),
    ),
    "chat-read": row(CHAT, POST=Call(page(REDIRECT, **CHAT_HIDDEN))),
    # --- reports
    "report": row(
        lambda world: {"target_type": "post", "target_id": world.post.pk},
        GET=Call(page(200, **POST_HIDDEN)),
        # Nobody reports her own words.
        POST=Call(page(REDIRECT, owner=400, **POST_HIDDEN), data={"reason": "Not nice"}),
    ),
    # --- the project
    "health": row(GET=Call(public(200))),
    "admin-health": row(GET=Call(public(ADMIN_LOGIN, staff=200))),
}


API: dict[str, Row] = {
    # --- accounts: the endpoints that take no token answer everyone alike
    "api-signup": row(
        POST=Call(
            public(201),
            data={"username": "newbunny", "email": "new@bunnies.test", "password": PASSWORD},
        )
    ),
    "api-token": row(POST=Call(public(200), data={"username": "olive", "password": PASSWORD})),
    "api-token-refresh": row(POST=Call(public(200), data=lambda world: {"refresh": world.refresh})),
    "api-logout": row(POST=Call(public(204), data=lambda world: {"refresh": world.refresh})),
    "api-me": row(GET=Call(api(200)), PATCH=Call(api(200), data={"bio": "Hello"})),
    "api-me-avatar": row(POST=Call(api(200))),
    # --- profiles and friendships
    "api-profiles": row(GET=Call(api(200), query={"q": "olive"})),
    "api-profile": row(OLIVE, GET=Call(api(200, **OLIVE_HIDDEN))),
    "api-profile-friends": row(OLIVE, GET=Call(api(200, **OLIVE_HIDDEN))),
    "api-profile-mutual-friends": row(OLIVE, GET=Call(api(200, **OLIVE_HIDDEN))),
    "api-profile-posts": row(OLIVE, GET=Call(api(200, **OLIVE_HIDDEN))),
    "api-friend-requests": row(
        GET=Call(api(200)),
        POST=Call(
            api(201, owner=400, friend=409, wall_owner=409, **OLIVE_HIDDEN), data={"to": "olive"}
        ),
    ),
    # Olive's request to Una: only she may cancel it.
    "api-friend-request": row(
        lambda world: {"request_id": world.outgoing_request.pk},
        DELETE=Call(api(204, **OWNER_ONLY)),
    ),
    # Rex's request to Olive: only she may answer it.
    "api-friend-request-accept": row(
        lambda world: {"request_id": world.incoming_request.pk},
        POST=Call(api(200, **OWNER_ONLY)),
    ),
    "api-friend-request-decline": row(
        lambda world: {"request_id": world.incoming_request.pk},
        POST=Call(api(204, **OWNER_ONLY)),
    ),
    "api-friends": row(GET=Call(api(200))),
    # Unfriending Olive: her friends may; to anyone else she is no friend (404).
    "api-friend": row(
        OLIVE, DELETE=Call(api(204, owner=404, stranger=404, staff=404, **OLIVE_HIDDEN))
    ),
    "api-blocks": row(GET=Call(api(200))),
    # Blocking works even against a bunny who blocked you first; never yourself.
    "api-block": row(OLIVE, PUT=Call(api(204, owner=400)), DELETE=Call(api(204))),
    "api-suggestions": row(GET=Call(api(200))),
    "api-suggestion-dismiss": row(OLIVE, POST=Call(api(204, owner=400, **OLIVE_HIDDEN))),
    # --- posts, comments, likes
    "api-feed": row(GET=Call(api(200))),
    "api-posts": row(
        POST=Call(
            api(201, stranger=403, staff=403, **OLIVE_HIDDEN),
            data={"body": "On Olive's wall", "wall": "olive"},
        )
    ),
    "api-post": row(
        POST,
        GET=Call(api(200, **POST_HIDDEN)),
        PATCH=Call(api(403, owner=200, **POST_HIDDEN), data={"body": "Edited"}),
        DELETE=Call(api(204, friend=403, **POST_HIDDEN)),
    ),
    "api-post-like": row(
        POST, POST=Call(api(200, **POST_HIDDEN)), DELETE=Call(api(200, **POST_HIDDEN))
    ),
    "api-post-comments": row(
        POST,
        GET=Call(api(200, **POST_HIDDEN)),
        POST=Call(api(201, **POST_HIDDEN), data={"body": "A comment"}),
    ),
    "api-comment": row(
        COMMENT,
        PATCH=Call(api(403, owner=200, **POST_HIDDEN), data={"body": "Edited"}),
        DELETE=Call(api(204, friend=403, **POST_HIDDEN)),
    ),
    "api-comment-like": row(
        COMMENT, POST=Call(api(200, **POST_HIDDEN)), DELETE=Call(api(200, **POST_HIDDEN))
    ),
    # --- chat
    "api-conversations": row(
        GET=Call(api(200)),
        POST=Call(
            api(201, friend=200, owner=400, stranger=403, staff=403, **OLIVE_HIDDEN),
            data={"with": "olive"},
        ),
    ),
    "api-conversation": row(CHAT, GET=Call(api(200, **CHAT_HIDDEN))),
    "api-conversation-messages": row(
        CHAT,
        GET=Call(api(200, **CHAT_HIDDEN)),
        POST=Call(api(201, **CHAT_HIDDEN), data=_message),
    ),
    "api-conversation-read": row(CHAT, POST=Call(api(204, **CHAT_HIDDEN))),
    # --- notifications and reports
    "api-notifications": row(GET=Call(api(200))),
    "api-notifications-read-all": row(POST=Call(api(204))),
    "api-notification-settings": row(GET=Call(api(200)), PUT=Call(api(200), data={"muted": []})),
    "api-notification-read": row(
        lambda world: {"notification_id": world.notification.pk},
        POST=Call(api(204, **OWNER_ONLY)),
    ),
    "api-reports": row(
        POST=Call(
            api(201, owner=400, **POST_HIDDEN),
            data=lambda world: {
                "target_type": "post",
                "target_id": world.post.pk,
                "reason": "Not nice",
            },
        )
    ),
    # --- the schema and its docs are public; a banned bunny's token is still refused
    "api-schema": row(GET=Call(api(200, anonymous=200))),
    "api-docs": row(GET=Call(api(200, anonymous=200))),
    "api-redoc": row(GET=Call(api(200, anonymous=200))),
}
