"""Page input for chat: the composer's plain-HTTP fallback."""

from django import forms

from chat.models import MESSAGE_MAX_LENGTH


class MessageForm(forms.Form):
    body = forms.CharField(max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea)
    client_id = forms.UUIDField(widget=forms.HiddenInput)
