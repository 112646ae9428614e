"""Page forms for notifications. Saving goes through notifications.services."""

from django import forms

from notifications.models import NotificationType


class NotificationSettingsForm(forms.Form):
    shown = forms.MultipleChoiceField(
        choices=NotificationType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Notify me when",
    )

    @classmethod
    def for_muted(cls, muted: set[str], data=None) -> "NotificationSettingsForm":
        shown = [kind for kind in NotificationType.values if kind not in muted]
        return cls(data, initial={"shown": shown})

    def muted_types(self) -> set[str]:
        return set(NotificationType.values) - set(self.cleaned_data["shown"])
