"""The bunny: one user row holds the account and its public profile."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,30}$"

username_validator = RegexValidator(
    USERNAME_PATTERN, "Use 3–30 letters, digits or underscores.", code="invalid_username"
)


class BunnyManager(UserManager):
    def get_by_natural_key(self, username):
        # Usernames are unique regardless of case, so log-in ignores case too.
        return self.get(username__iexact=username)


class User(AbstractUser):
    username = models.CharField(
        max_length=30,
        unique=True,
        validators=[username_validator],
        help_text="3–30 letters, digits or underscores.",
        error_messages={"unique": "That username is taken."},
    )
    email = models.EmailField()
    display_name = models.CharField(max_length=50, blank=True)
    bio = models.TextField(max_length=500, blank=True)
    avatar_seed = models.PositiveIntegerField(default=0, db_index=True)

    objects = BunnyManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self):
        return self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def avatar_url(self) -> str:
        return reverse("avatar", args=[self.avatar_seed])

    def get_absolute_url(self) -> str:
        return reverse("profile", args=[self.username])
