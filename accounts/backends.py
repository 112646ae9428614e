"""Log in with a username or an email address, either in any case; never while sanctioned.

`user_can_authenticate` refuses a banned or suspended bunny, so `authenticate` (pages,
admin, the token endpoint) and `get_user` (every request and socket with a session) both
turn her away; the session check is the safety net behind deleting her sessions.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q

from accounts.models import equal_ignoring_case


def may_authenticate(user) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: active and not sanctioned."""
    return user is not None and user.is_active and user.sanction_notice() is None


def _find(username: str):
    return (
        get_user_model()
        .objects.filter(
            Q(equal_ignoring_case("username", username)) | Q(equal_ignoring_case("email", username))
        )
        .first()
    )


def sanction_notice_for_credentials(username: str | None, password: str | None) -> str | None:
    """Why a bunny whose log-in failed is locked out, but only to someone who knows her
    password: strangers learn nothing about an account from the log-in form."""
    if not username or not password:
        return None
    user = _find(username)
    if user is None or not user.is_active:
        return None
    notice = user.sanction_notice()
    if notice is None or not user.check_password(password):
        return None
    return notice


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = _find(username)
        if user is None:
            # Spend the same time as a real check, so timing does not reveal who exists.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        # Every request with a session asks (BunnyManager.fetch says why not get()).
        user = get_user_model().objects.fetch(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and user.sanction_notice() is None
