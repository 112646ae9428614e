"""The JSON API: its URL table, OpenAPI schema and docs, and error mapping."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from accounts import api as accounts_api
from bunnybook.errors import Conflict as DomainConflict
from bunnybook.ratelimit import RateLimited
from chat import api as chat_api
from notifications import api as notifications_api
from reports import api as reports_api
from social import api as social_api


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "That conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
    """Map the services' Django exceptions onto DRF's, so views stay thin."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DomainConflict):
        exc = Conflict(str(exc) or None)
    elif isinstance(exc, RateLimited):
        exc = exceptions.Throttled(wait=exc.retry_after, detail=exc.detail)
    return drf_exception_handler(exc, context)


# The docs pages are Swagger UI's and Redoc's, with their own inline bootstrap script and
# styles (and Redoc's worker); they show no user content, so only they may run inline code.
third_party_docs = csp_update(
    {"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}
)

urlpatterns = [
    path("auth/signup/", accounts_api.SignupView.as_view(), name="api-signup"),
    path("auth/token/", accounts_api.TokenView.as_view(), name="api-token"),
    path("auth/token/refresh/", accounts_api.RefreshView.as_view(), name="api-token-refresh"),
    path("auth/logout/", accounts_api.LogoutView.as_view(), name="api-logout"),
    path("me/", accounts_api.MeView.as_view(), name="api-me"),
    path("me/avatar/", accounts_api.MyAvatarView.as_view(), name="api-me-avatar"),
    path("profiles/", social_api.ProfileSearchView.as_view(), name="api-profiles"),
    path("profiles/<str:username>/", social_api.ProfileDetailView.as_view(), name="api-profile"),
    path(
        "profiles/<str:username>/friends/",
        social_api.ProfileFriendsView.as_view(),
        name="api-profile-friends",
    ),
    path(
        "profiles/<str:username>/mutual-friends/",
        social_api.MutualFriendsView.as_view(),
        name="api-profile-mutual-friends",
    ),
    path("profiles/<str:username>/posts/", social_api.WallView.as_view(), name="api-profile-posts"),
    path("friend-requests/", social_api.FriendRequestsView.as_view(), name="api-friend-requests"),
    path(
        "friend-requests/<int:request_id>/",
        social_api.FriendRequestDetailView.as_view(),
        name="api-friend-request",
    ),
    path(
        "friend-requests/<int:request_id>/accept/",
        social_api.AcceptFriendRequestView.as_view(),
        name="api-friend-request-accept",
    ),
    path(
        "friend-requests/<int:request_id>/decline/",
        social_api.DeclineFriendRequestView.as_view(),
        name="api-friend-request-decline",
    ),
    path("friends/", social_api.FriendsView.as_view(), name="api-friends"),
    path("friends/<str:username>/", social_api.FriendDetailView.as_view(), name="api-friend"),
    path("blocks/", social_api.BlocksView.as_view(), name="api-blocks"),
    path("blocks/<str:username>/", social_api.BlockDetailView.as_view(), name="api-block"),
    path("suggestions/", social_api.SuggestionsView.as_view(), name="api-suggestions"),
    path(
        "suggestions/<str:username>/dismiss/",
        social_api.DismissSuggestionView.as_view(),
        name="api-suggestion-dismiss",
    ),
    path("feed/", social_api.FeedView.as_view(), name="api-feed"),
    path("posts/", social_api.PostsView.as_view(), name="api-posts"),
    path("posts/<int:post_id>/", social_api.PostDetailView.as_view(), name="api-post"),
    path("posts/<int:post_id>/like/", social_api.PostLikeView.as_view(), name="api-post-like"),
    path(
        "posts/<int:post_id>/comments/",
        social_api.CommentsView.as_view(),
        name="api-post-comments",
    ),
    path("comments/<int:comment_id>/", social_api.CommentDetailView.as_view(), name="api-comment"),
    path(
        "comments/<int:comment_id>/like/",
        social_api.CommentLikeView.as_view(),
        name="api-comment-like",
    ),
    path("conversations/", chat_api.ConversationsView.as_view(), name="api-conversations"),
    path(
        "conversations/<int:conversation_id>/",
        chat_api.ConversationDetailView.as_view(),
        name="api-conversation",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        chat_api.MessagesView.as_view(),
        name="api-conversation-messages",
    ),
    path(
        "conversations/<int:conversation_id>/read/",
        chat_api.ReadView.as_view(),
        name="api-conversation-read",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        third_party_docs(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "redoc/",
        third_party_docs(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
]

urlpatterns += [
    path("notifications/", notifications_api.NotificationsView.as_view(), name="api-notifications"),
    path(
        "notifications/read-all/",
        notifications_api.NotificationsReadAllView.as_view(),
        name="api-notifications-read-all",
    ),
    path(
        "notifications/settings/",
        notifications_api.NotificationSettingsView.as_view(),
        name="api-notification-settings",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        notifications_api.NotificationReadView.as_view(),
        name="api-notification-read",
    ),
]

urlpatterns += [
    path("reports/", reports_api.ReportsView.as_view(), name="api-reports"),
]
