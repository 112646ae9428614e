"""Page forms for posts and comments. Saving goes through social.services."""

from functools import lru_cache

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language

from social.models import Visibility
from social.services import COMMENT_MAX_LENGTH, POST_MAX_LENGTH

BODY_REQUIRED = "Write something first."


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form, each message on its field."""
    for field, messages in exc.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


class PostForm(forms.Form):
    body = forms.CharField(
        label="What's hopping?",
        max_length=POST_MAX_LENGTH,
        error_messages={"required": BODY_REQUIRED},
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Share a thought, a carrot, a link…"}
        ),
    )
    visibility = forms.ChoiceField(
        label="Who can see it",
        choices=Visibility.choices,
        initial=Visibility.FRIENDS,
    )

    def __init__(self, *args, html_id: str = "post-composer", **kwargs):
        # Several forms share a page (the composer, inline editors, comment boxes), so each
        # form has its own element id and its fields' ids derive from it.
        self.html_id = html_id
        super().__init__(*args, auto_id=f"{html_id}-%s", **kwargs)


class BlankField:
    """An unbound field as the form templates read it, its markup rendered by Django once
    (or given): forms that pages show empty again and again are kept and reused, as each
    widget is a few templates (0.2 to 0.4 ms)."""

    errors = ()

    def __init__(
        self, bound: forms.BoundField, markup: str | None = None, *, auto_id: str | None = None
    ):
        self.field, self.label, self.help_text = bound.field, bound.label, bound.help_text
        self.auto_id = self.id_for_label = auto_id or bound.auto_id
        self._markup = markup if markup is not None else str(bound)

    def __html__(self) -> str:
        return self._markup

    __str__ = __html__


class BlankPostForm:
    """The empty composer as post_form.html reads a PostForm, rendered once per process
    and language: the feed and a wall show it on every page (~0.7 ms each time)."""

    html_id = "post-composer"
    non_field_errors = ()

    def __init__(self):
        self.body, self.visibility = self._fields(get_language())

    @staticmethod
    @lru_cache(maxsize=8)
    def _fields(language: str | None) -> tuple[BlankField, BlankField]:
        # `language` keys the cache only: labels and placeholders may be translated.
        form = PostForm(html_id=BlankPostForm.html_id)
        return BlankField(form["body"]), BlankField(form["visibility"])


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Write a comment",
        max_length=COMMENT_MAX_LENGTH,
        error_messages={"required": BODY_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": "Write a comment…"}),
    )

    def __init__(self, *args, html_id: str, **kwargs):
        self.html_id = html_id
        super().__init__(*args, auto_id=f"{html_id}-%s", **kwargs)

    @classmethod
    def for_post(cls, post_id: int, *args, **kwargs) -> "CommentForm":
        """The comment box under a post."""
        return cls(*args, html_id=f"comment-form-{post_id}", **kwargs)


class PostEditForm(PostForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = "Edit your post"
        self.fields["body"].widget.attrs["autofocus"] = True


class CommentEditForm(CommentForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = "Edit your comment"
        self.fields["body"].widget.attrs.update(autofocus=True, rows=3)
