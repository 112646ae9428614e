"""JSON API for notifications: the list with its unread count, mark read, preferences."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import NotificationType
from notifications.serializers import NotificationSerializer, serialize_notifications
from social.api import CURSOR, cursor_of, page_response

UNREAD_COUNT_HEADER = "X-Unread-Count"
UNREAD_COUNT = OpenApiParameter(
    UNREAD_COUNT_HEADER,
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[200, 204],
    description="Your unread notifications, after this request.",
)


class NotificationListSerializer(serializers.Serializer):
    results = NotificationSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    unread_count = serializers.IntegerField()


class NotificationSettingsSerializer(serializers.Serializer):
    muted = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationType.values),
        help_text="Types you do not want; none of them is created for you.",
    )


def _with_unread_count(request, response: Response) -> Response:
    count = selectors.unread_count_for(request.user)
    if isinstance(response.data, dict):
        response.data["unread_count"] = count
    response[UNREAD_COUNT_HEADER] = str(count)
    return response


class NotificationsView(APIView):
    @extend_schema(
        operation_id="notifications_list",
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="1: unread ones only."),
            CURSOR,
            UNREAD_COUNT,
        ],
        responses=NotificationListSerializer,
    )
    def get(self, request):
        unread_only = request.query_params.get("unread", "").lower() in {"1", "true", "yes"}
        page = selectors.notifications_for(
            request.user, unread_only=unread_only, cursor=cursor_of(request)
        )
        results = serialize_notifications(request.user, page.items, request=request)
        return _with_unread_count(request, page_response(request, page, results))


class NotificationReadView(APIView):
    @extend_schema(
        request=None,
        parameters=[UNREAD_COUNT],
        responses={204: None, 404: OpenApiResponse(description="Not yours, or gone.")},
    )
    def post(self, request, notification_id):
        notification = selectors.get_notification_for(request.user, notification_id)
        services.mark_read(notification=notification, by=request.user)
        return _with_unread_count(request, Response(status=status.HTTP_204_NO_CONTENT))


class NotificationsReadAllView(APIView):
    @extend_schema(request=None, parameters=[UNREAD_COUNT], responses={204: None})
    def post(self, request):
        services.mark_all_read(user=request.user)
        return _with_unread_count(request, Response(status=status.HTTP_204_NO_CONTENT))


class NotificationSettingsView(APIView):
    @extend_schema(responses=NotificationSettingsSerializer)
    def get(self, request):
        return Response({"muted": sorted(selectors.muted_types_for(request.user))})

    @extend_schema(request=NotificationSettingsSerializer, responses=NotificationSettingsSerializer)
    def put(self, request):
        data = NotificationSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        muted = services.set_muted_types(user=request.user, muted=data.validated_data["muted"])
        return Response({"muted": sorted(muted)})
