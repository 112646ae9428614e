"""The chat app; its one hook into Django: a page logout closes that session's sockets."""

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


def _close_sockets_of_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        from chat.services import close_session_sockets

        close_session_sockets(session_key=session.session_key)


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        # Django's own logout (a page's "Log out") announces itself only by this signal:
        # the sockets that session opened must close with it, at once.
        user_logged_out.connect(_close_sockets_of_session, dispatch_uid="chat-close-sockets")
