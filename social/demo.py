"""A small hand-made demo network, so a newcomer sees every feature at once."""

import uuid

from django.db import transaction

from accounts import services as account_services
from accounts.models import User
from chat import services as chat_services
from reports import services as report_services
from social import services

DEMO_PASSWORD = "hop-hop-carrot"  # noqa: S105 - printed for the newcomer on purpose

BUNNIES = [
    ("ann", "Ann Thumper", "Founder of the clover appreciation society."),
    ("bob", "Bob Cottontail", "Professional napper. Amateur digger."),
    ("cid", "Cid Flopsy", "Ask me about carrots."),
    ("dot", "Dot Hazel", "New to the warren!"),
    ("eve", "Eve Bramble", "Night owl, day bunny."),
]
FRIENDS = [("ann", "bob"), ("ann", "cid"), ("bob", "cid"), ("cid", "eve")]
REQUESTS = [("dot", "ann"), ("eve", "bob")]
POSTS = [
    ("ann", "ann", "public", "Welcome to Bunnybook! Say hi below 🥕"),
    ("bob", "bob", "friends", "Found the sunniest spot in the garden. Not telling where."),
    ("cid", "ann", "friends", "Happy burrow-warming, Ann!\nThe new tunnels look great."),
    ("eve", "eve", "public", "Does anyone else think dandelions are underrated?"),
]
COMMENTS = [
    (0, "bob", "Hi Ann! Glad to be here."),
    (0, "cid", "Hello everyone!"),
    (1, "ann", "I bet it's by the lettuce."),
]
LIKES = [(0, "bob"), (0, "cid"), (1, "ann"), (2, "ann")]
CONVERSATION = (
    "ann",
    "bob",
    [
        ("ann", "Did you see the new clover patch by the old oak?"),
        ("bob", "Not yet! Is it the four-leaf kind?"),
        ("ann", "Some of it. Race you there at dusk 🐇"),
    ],
)
# A moderator (staff and superuser: /admin/) with one report waiting in the queue.
MODERATOR = ("mod", "Moss the Moderator", "Keeps the warren friendly.")
REPORT = ("dot", 3, "Spreading anti-dandelion propaganda? (a demo report)")


@transaction.atomic
def build_demo_network() -> bool:
    """Create the demo bunnies and their world; returns False when any bunny exists already."""
    if User.objects.exists():
        return False
    bunnies = {
        username: account_services.register_bunny(
            username=username,
            email=f"{username}@demo.bunnybook.localhost",
            password=DEMO_PASSWORD,
            display_name=name,
        )
        for username, name, _ in BUNNIES
    }
    for username, _, bio in BUNNIES:
        account_services.update_profile(user=bunnies[username], bio=bio)
    for first, second in FRIENDS:
        request = services.send_friend_request(sender=bunnies[first], to=bunnies[second])
        services.accept_friend_request(friend_request=request, by=bunnies[second])
    for sender, addressee in REQUESTS:
        services.send_friend_request(sender=bunnies[sender], to=bunnies[addressee])
    posts = [
        services.create_post(author=bunnies[author], wall=bunnies[wall], body=body, visibility=vis)
        for author, wall, vis, body in POSTS
    ]
    for index, author, body in COMMENTS:
        services.add_comment(post=posts[index], author=bunnies[author], body=body)
    for index, username in LIKES:
        services.like_post(post=posts[index], user=bunnies[username])
    first, second, lines = CONVERSATION
    conversation, _ = chat_services.start_conversation(
        user=bunnies[first], with_user=bunnies[second]
    )
    for sender, body in lines:
        chat_services.send_message(
            sender=bunnies[sender],
            conversation_id=conversation.pk,
            body=body,
            client_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{sender}:{body}"),
        )
    username, name, bio = MODERATOR
    moderator = account_services.register_bunny(
        username=username,
        email=f"{username}@demo.bunnybook.localhost",
        password=DEMO_PASSWORD,
        display_name=name,
    )
    account_services.update_profile(user=moderator, bio=bio)
    User.objects.filter(pk=moderator.pk).update(is_staff=True, is_superuser=True)
    reporter, index, reason = REPORT
    report_services.report_content(
        reporter=bunnies[reporter], target_type="post", target_id=posts[index].pk, reason=reason
    )
    return True
