"""Every write to accounts: sign-up, profile edits, avatar re-rolls."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.avatars import draw_bunny_avatar, new_avatar_seed
from accounts.models import User, equal_ignoring_case


def avatar_path(seed: int) -> str:
    return f"avatars/{seed}.png"


def ensure_avatar_file(seed: int) -> str:
    """Draw and store the avatar for `seed` unless it is stored already; returns its path.

    The drawing is a pure function of the seed, so two racing writers store the same bytes.
    """
    path = avatar_path(seed)
    if not default_storage.exists(path):
        default_storage.save(path, ContentFile(draw_bunny_avatar(seed)))
    return path


def _check_identity_is_free(*, username: str, email: str) -> None:
    errors = {}
    if User.objects.filter(equal_ignoring_case("username", username)).exists():
        errors["username"] = ["That username is taken."]
    if User.objects.filter(equal_ignoring_case("email", email)).exists():
        errors["email"] = ["An account with that email already exists."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def register_bunny(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """Create an account with a freshly drawn random bunny avatar."""
    user = User(username=username, email=email.strip(), display_name=display_name.strip())
    user.avatar_seed = new_avatar_seed()
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    _check_identity_is_free(username=username, email=user.email)
    user.set_password(password)
    try:
        # A savepoint, so a lost race leaves the caller's transaction usable.
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Someone took the name between the check and the insert.
        raise ValidationError({"username": ["That username is taken."]}) from exc
    seed = user.avatar_seed
    transaction.on_commit(lambda: ensure_avatar_file(seed))
    return user


@transaction.atomic
def update_profile(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    appear_offline: bool | None = None,
) -> User:
    if display_name is not None:
        user.display_name = display_name.strip()
    if bio is not None:
        user.bio = bio.strip()
    presence_changed = appear_offline is not None and appear_offline != user.appear_offline
    if appear_offline is not None:
        user.appear_offline = appear_offline
    user.full_clean(
        exclude=["password", "username", "email"], validate_unique=False, validate_constraints=False
    )
    user.save(update_fields=["display_name", "bio", "appear_offline"])
    if presence_changed:
        from chat.services import appear_offline_changed  # chat depends on accounts, not back

        appear_offline_changed(user=user)
    return user


@transaction.atomic
def reroll_avatar(*, user: User) -> User:
    """Give the bunny a newly drawn random avatar."""
    user.avatar_seed = new_avatar_seed()
    user.save(update_fields=["avatar_seed"])
    seed = user.avatar_seed
    transaction.on_commit(lambda: ensure_avatar_file(seed))
    return user


@transaction.atomic
def revoke_refresh_tokens(*, user_id: int) -> int:
    """Blacklist every outstanding refresh token of a bunny; returns how many were live."""
    live = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(created)
