"""Page forms for accounts. Saving goes through accounts.services."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services
from accounts.backends import sanction_notice_for_credentials
from accounts.models import User, username_validator
from bunnybook import ratelimit


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


class ThrottledLoginMixin:
    """Failed log-ins are counted and, past the limits, answered 429 (bunnybook.ratelimit)."""

    def clean(self):
        username = self.cleaned_data.get("username")
        address = ratelimit.client_address(self.request)
        ratelimit.check_login(username, address)
        try:
            cleaned = super().clean()
        except ValidationError:
            ratelimit.login_failed(username, address)
            raise
        ratelimit.login_succeeded(username, address)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    username = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # A suspended or banned bunny who gave her right password is told why.
            notice = sanction_notice_for_credentials(
                self.cleaned_data.get("username"), self.cleaned_data.get("password")
            )
            if notice is None:
                raise
            raise ValidationError(notice, code="account_sanctioned") from None


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's log-in, throttled like every other."""


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=50, required=False)
    bio = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 4}))


class SuspensionForm(forms.Form):
    """The admin's "suspend" page: how long, and why (the bunny is shown the reason)."""

    days = forms.IntegerField(min_value=1, max_value=3650, initial=7, label="Days")
    reason = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    """The admin's "ban" (and similar) page: why (the bunny is shown the reason)."""

    reason = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class NoteForm(forms.Form):
    note = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Note"
    )
