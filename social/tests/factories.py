"""Helpers that build social state through the real services."""

from social import services
from social.models import Friendship


def make_friends(first, second) -> Friendship:
    request = services.send_friend_request(sender=first, to=second)
    return services.accept_friend_request(friend_request=request, by=second)
