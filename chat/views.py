"""Chat pages: the conversation list, one conversation, starting a chat, and the plain-HTTP
paths (older messages, sending, marking read) that work without the socket or JavaScript."""

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bunnybook.errors import Conflict
from chat import selectors, services
from chat.forms import MessageForm
from chat.templatetags.chat_tags import live_seq_for
from social.selectors import get_bunny_for


def _new_form() -> MessageForm:
    return MessageForm(initial={"client_id": uuid.uuid4()})


def _message_page(conversation, before):
    try:
        page = selectors.message_page(conversation, before=before)
    except ValidationError as exc:
        raise BadRequest("Invalid cursor.") from exc
    return list(reversed(page.items)), page.next_cursor


def _page(request, current, *, form=None, before=None, status=200, fresh=False):
    """The conversation page. `fresh`: `current` was read before the viewer's unread state
    changed (opening it marks it read), so it is taken again from the list, read afterwards,
    or fetched again when the list does not reach it."""
    messages, older = _message_page(current, before)
    conversations = selectors.conversation_page(request.user).items
    listed = next((c for c in conversations if c.pk == current.pk), None)
    if listed is not None:
        current = listed
    elif fresh:
        current = selectors.get_conversation_for(request.user, current.pk)
    # One batch for the list and the header (each costs friend and presence look-ups).
    decorated = selectors.decorate(request.user, [*conversations, *([] if listed else [current])])
    context = {
        "conversations": decorated[: len(conversations)],
        "current": current,
        # Not "messages": that name belongs to django.contrib.messages (base.html's flash).
        "chat_messages": messages,
        "older": older,
        "form": form or _new_form(),
        "before": before,
    }
    return TemplateResponse(request, "chat/conversation.html", context, status=status)


@login_required
@require_GET
def index(request):
    live_seq_for(request)
    conversations = selectors.decorate(
        request.user, selectors.conversation_page(request.user).items
    )
    talking_to = [other.pk for c in conversations for other in c.others]
    friends = selectors.friends_to_chat_with(request.user, exclude=talking_to)
    return TemplateResponse(
        request, "chat/index.html", {"conversations": conversations, "friends": friends}
    )


@login_required
@require_GET
def conversation(request, conversation_id: int):
    live_seq_for(request)  # before any data, so a resume from it can only repeat
    current = selectors.get_conversation_for(request.user, conversation_id)
    before = request.GET.get("before")
    if not before:
        # Opening a conversation reads it, on every tab.
        services.mark_read(user=request.user, conversation_id=current.pk)
    return _page(request, current, before=before, fresh=not before)


@login_required
@require_POST
def start_with(request, username: str):
    other = get_bunny_for(request.user, username)
    try:
        conversation, _ = services.start_conversation(user=request.user, with_user=other)
    except ValidationError as exc:  # with yourself
        raise BadRequest(" ".join(exc.messages)) from exc
    return redirect(conversation)


@login_required
@require_http_methods(["GET", "POST"])
def messages(request, conversation_id: int):
    """GET ?before=: an older page (htmx fragment). POST: send by plain HTTP, the
    composer's fallback when the socket is down; the same client_id is stored once."""
    current = selectors.get_conversation_for(request.user, conversation_id)
    if request.method == "GET":
        before = request.GET.get("before")
        if not request.htmx:
            url = current.get_absolute_url()
            return redirect(f"{url}?before={before}" if before else url)
        messages, older = _message_page(current, before)
        context = {"current": current, "chat_messages": messages, "older": older}
        return TemplateResponse(request, "chat/partials/older_messages.html", context)

    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            message, _ = services.send_message(
                sender=request.user, conversation_id=current.pk, **form.cleaned_data
            )
        except (PermissionDenied, Conflict) as exc:
            form.add_error(None, str(exc))
        except services.RateLimited:
            form.add_error(None, "You are sending messages very fast. Wait a moment.")
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if request.htmx:
                context = {"message": message, "current": current}
                return TemplateResponse(request, "chat/partials/message.html", context)
            return redirect(f"{current.get_absolute_url()}#message-{message.pk}")
    if request.htmx:
        [current] = selectors.decorate(request.user, [current])
        response = TemplateResponse(
            request, "chat/partials/composer.html", {"current": current, "form": form}
        )
        response["HX-Retarget"] = f"#composer-{current.pk}"
        response["HX-Reswap"] = "outerHTML"
        return response
    return _page(request, current, form=form, status=400)


@login_required
@require_POST
def read(request, conversation_id: int):
    services.mark_read(user=request.user, conversation_id=conversation_id)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(reverse("chat-conversation", args=[conversation_id]))
