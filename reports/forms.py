"""Page form for a report. Saving goes through reports.services."""

from django import forms

from reports.models import REASON_MAX_LENGTH


class ReportForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        label="What is wrong with it?",
        help_text="Only the moderators read this.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
