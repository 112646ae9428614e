"""JSON API for chat: conversations, message history, sending, read state. Thin views: parse,
call a service or selector, serialise. Not a participant: 404 everywhere."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bunnybook.pagination import Page
from chat import selectors, services
from chat.serializers import ConversationSerializer, MessageSerializer
from social.selectors import get_bunny_for

CURSOR = OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous `next`.")
BEFORE = OpenApiParameter(
    "before", OpenApiTypes.STR, description="From the previous `next`: older messages."
)


def _list_schema(item_serializer, name: str):
    return inline_serializer(
        name=name,
        fields={
            "results": item_serializer(many=True),
            "next": serializers.URLField(allow_null=True),
        },
    )


def _page_response(request, page: Page, results: list, *, param: str) -> Response:
    next_url = None
    if page.next_cursor:
        query = request.GET.copy()
        query[param] = page.next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response({"results": results, "next": next_url})


def _conversation_data(request, conversations) -> list[dict]:
    conversations = list(conversations)
    users = {p.user for c in conversations for p in c.participants.all()}
    users |= {c.last_message.sender for c in conversations if c.last_message is not None}
    context = selectors.profile_context(request.user, users, request)
    states = context["friendship_states"]
    friend_ids = {user_id for user_id, state in states.items() if state == "friends"}
    context["open_ids"] = selectors.open_conversation_ids(request.user, conversations, friend_ids)
    return ConversationSerializer(conversations, many=True, context=context).data


def _message_data(request, messages) -> list[dict]:
    messages = list(messages)
    context = selectors.profile_context(request.user, {m.sender for m in messages}, request)
    return MessageSerializer(messages, many=True, context=context).data


def _send(request, conversation_id: int, body: str, client_id):
    try:
        return services.send_message(
            sender=request.user, conversation_id=conversation_id, body=body, client_id=client_id
        )
    except services.RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after) from exc


class StartConversationSerializer(serializers.Serializer):
    with_ = serializers.CharField(max_length=30)

    def get_fields(self):
        # "with" is a Python keyword, so the field is renamed on the way in.
        fields = super().get_fields()
        fields["with"] = fields.pop("with_")
        return fields


class SendMessageSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4000, trim_whitespace=True)
    client_id = serializers.UUIDField()


class ConversationsView(APIView):
    @extend_schema(parameters=[CURSOR], responses=_list_schema(ConversationSerializer, "Convs"))
    def get(self, request):
        page = selectors.conversation_page(request.user, cursor=request.GET.get("cursor"))
        return _page_response(
            request, page, _conversation_data(request, page.items), param="cursor"
        )

    @extend_schema(
        request=StartConversationSerializer,
        responses={200: ConversationSerializer, 201: ConversationSerializer},
        description="The 1-to-1 conversation with a friend: 201 when made now, 200 when it "
        "existed; 403 when not friends.",
    )
    def post(self, request):
        data = StartConversationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = get_bunny_for(request.user, data.validated_data["with"])
        conversation, created = services.start_conversation(user=request.user, with_user=other)
        conversation = selectors.get_conversation_for(request.user, conversation.pk)
        return Response(
            _conversation_data(request, [conversation])[0],
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailView(APIView):
    @extend_schema(operation_id="conversations_detail", responses=ConversationSerializer)
    def get(self, request, conversation_id: int):
        conversation = selectors.get_conversation_for(request.user, conversation_id)
        return Response(_conversation_data(request, [conversation])[0])


class MessagesView(APIView):
    @extend_schema(
        parameters=[BEFORE],
        responses=_list_schema(MessageSerializer, "Messages"),
        description="Newest first, 50 a page; `next` goes further back.",
    )
    def get(self, request, conversation_id: int):
        conversation = selectors.get_conversation_for(request.user, conversation_id)
        page = selectors.message_page(conversation, before=request.GET.get("before"))
        return _page_response(request, page, _message_data(request, page.items), param="before")

    @extend_schema(
        request=SendMessageSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
        description="201 with the new message; the same client_id again: 200 with the first.",
    )
    def post(self, request, conversation_id: int):
        selectors.get_conversation_for(request.user, conversation_id)  # 404 before 400
        data = SendMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = _send(request, conversation_id, **data.validated_data)
        return Response(
            _message_data(request, [message])[0],
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReadView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, conversation_id: int):
        services.mark_read(user=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
