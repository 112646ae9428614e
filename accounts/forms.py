"""Page forms for accounts. Saving goes through accounts.services."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import User, username_validator


class SignupForm(forms.Form):
    username = forms.CharField(
        min_length=3,
        max_length=30,
        validators=[username_validator],
        help_text="3–30 letters, digits or underscores.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    display_name = forms.CharField(
        max_length=50, required=False, help_text="How other bunnies see your name."
    )
    email = forms.EmailField(
        max_length=254,
        help_text="Only used to reset your password; never shown to anyone.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def save(self) -> User:
        """Register the bunny; service errors come back as field errors."""
        try:
            return services.register_bunny(**self.cleaned_data)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = field if field in self.fields else "password"
                for message in messages:
                    self.add_error(target, message)
            raise


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=50, required=False)
    bio = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 4}))
