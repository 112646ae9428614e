"""One small network in which every actor of the matrix has a fixed relation to Olive, the
owner of everything the matrix asks about. Built through the real services.

- owner: Olive. She wrote a friends-only post on Wally's wall and a comment under it, chats
  with Fern, has a notification, an incoming request (from Rex) and an outgoing one (to Una).
- wall_owner: Wally, Olive's friend, on whose wall the post is.
- friend: Fern, friend of Olive and of Wally (so she may see the post), in the conversation.
- stranger: Sid, no relation to anyone.
- blocked: Bea, whom Olive blocked.
- banned: Ben, Olive's friend, banned, with a session and a token made before the ban.
- staff: Stan, a superuser, otherwise a stranger.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from chat import services as chat_services
from chat.models import Conversation, Message
from conftest import make_bunny
from notifications.models import Notification
from social import services as social_services
from social.models import Comment, FriendRequest, Friendship, Post, Visibility

WORLD_TOKEN_LIFETIME = timedelta(hours=2)
ACTORS = ("anonymous", "stranger", "friend", "owner", "wall_owner", "blocked", "banned", "staff")
USERNAMES = {
    "owner": "olive",
    "wall_owner": "wally",
    "friend": "fern",
    "stranger": "sid",
    "blocked": "bea",
    "banned": "ben",
    "staff": "stan",
}

# Private text planted in the world, and who may ever read it. A response to anyone else
# that contains it is a leak, whatever its status code.
MARKERS = {
    "post": ("Secret-post-carrot-91f3", {"owner", "wall_owner", "friend"}),
    "comment": ("Secret-comment-clover-77a2", {"owner", "wall_owner", "friend"}),
    "message": ("Secret-message-parsley-5c0d", {"owner", "friend"}),
    "email": ("olive@bunnies.test", {"owner"}),
}


def _befriend(first: User, second: User) -> None:
    user_a, user_b = Friendship.ordered(first.pk, second.pk)
    Friendship.objects.create(user_a_id=user_a, user_b_id=user_b)


@dataclass
class World:
    users: dict[str, User]
    post: Post
    comment: Comment
    conversation: Conversation
    message: Message
    notification: Notification
    incoming_request: FriendRequest
    outgoing_request: FriendRequest
    refresh: str
    sessions: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> User:
        return self.users["owner"]

    def page_client(self, actor: str) -> Client:
        client = Client(raise_request_exception=False)
        if actor in self.sessions:
            client.cookies["sessionid"] = self.sessions[actor]
        return client

    def api_client(self, actor: str) -> APIClient:
        client = APIClient(raise_request_exception=False)
        if actor in self.tokens:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[actor]}")
        return client


def build_world() -> World:
    users = {actor: make_bunny(name) for actor, name in USERNAMES.items()}
    users["owner"].email = MARKERS["email"][0]
    users["owner"].save(update_fields=["email"])
    olive, wally, fern = users["owner"], users["wall_owner"], users["friend"]
    rex, una = make_bunny("rex"), make_bunny("una")
    for first, second in ((olive, wally), (olive, fern), (wally, fern), (olive, users["banned"])):
        _befriend(first, second)
    social_services.block_bunny(blocker=olive, blocked=users["blocked"])

    post = social_services.create_post(
        author=olive, wall=wally, body=MARKERS["post"][0], visibility=Visibility.FRIENDS
    )
    comment = social_services.add_comment(post=post, author=olive, body=MARKERS["comment"][0])
    social_services.like_post(post=post, user=fern)  # Olive's notification
    conversation, _ = chat_services.start_conversation(user=olive, with_user=fern)
    message, _ = chat_services.send_message(
        sender=olive,
        conversation_id=conversation.pk,
        body=MARKERS["message"][0],
        client_id=uuid.uuid4(),
    )
    incoming = social_services.send_friend_request(sender=rex, to=olive)
    outgoing = social_services.send_friend_request(sender=olive, to=una)

    world = World(
        users=users,
        post=post,
        comment=comment,
        conversation=conversation,
        message=message,
        notification=Notification.objects.filter(recipient=olive).latest("created_at"),
        incoming_request=incoming,
        outgoing_request=outgoing,
        refresh=str(RefreshToken.for_user(olive)),
    )
    for actor, user in users.items():
        client = Client()
        client.force_login(user)
        world.sessions[actor] = client.cookies["sessionid"].value
        access = RefreshToken.for_user(user).access_token
        # The world lives as long as its test module, which on a busy machine can outlast
        # the 5-minute default: an expired token would turn the expected answers into 401s.
        access.set_exp(lifetime=WORLD_TOKEN_LIFETIME)
        world.tokens[actor] = str(access)
    # Sanctions come last: Ben's session and token were made before his ban, as in life.
    User.objects.filter(pk=users["banned"].pk).update(banned_at=timezone.now(), ban_reason="spam")
    User.objects.filter(pk=users["staff"].pk).update(is_staff=True, is_superuser=True)
    return world
