from django.urls import path

from social import views

urlpatterns = [
    path("", views.home, name="home"),
    # Posts, comments, likes
    path("posts/new/", views.post_create, name="post-create"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/edit/", views.post_edit, name="post-edit"),
    path("posts/<int:post_id>/delete/", views.post_delete, name="post-delete"),
    path("posts/<int:post_id>/like/", views.post_like, {"like": True}, name="post-like"),
    path("posts/<int:post_id>/unlike/", views.post_like, {"like": False}, name="post-unlike"),
    path("posts/<int:post_id>/comments/", views.post_comments, name="post-comments"),
    path("comments/<int:comment_id>/", views.comment_detail, name="comment"),
    path("comments/<int:comment_id>/edit/", views.comment_edit, name="comment-edit"),
    path("comments/<int:comment_id>/delete/", views.comment_delete, name="comment-delete"),
    path(
        "comments/<int:comment_id>/like/", views.comment_like, {"like": True}, name="comment-like"
    ),
    path(
        "comments/<int:comment_id>/unlike/",
        views.comment_like,
        {"like": False},
        name="comment-unlike",
    ),
    # Profiles and friendships
    path("u/<str:username>/", views.profile, name="profile"),
    path("u/<str:username>/friends/", views.profile_friends, name="profile-friends"),
    path(
        "u/<str:username>/friend-request/",
        views.send_friend_request,
        name="friend-request",
    ),
    path(
        "u/<str:username>/friend-request/cancel/",
        views.cancel_friend_request,
        name="friend-request-cancel",
    ),
    path(
        "u/<str:username>/friend-request/accept/",
        views.accept_friend_request,
        name="friend-request-accept",
    ),
    path(
        "u/<str:username>/friend-request/decline/",
        views.decline_friend_request,
        name="friend-request-decline",
    ),
    path("u/<str:username>/unfriend/", views.unfriend, name="unfriend"),
    path("u/<str:username>/block/", views.block, name="block"),
    path("u/<str:username>/unblock/", views.unblock, name="unblock"),
    path("friends/", views.friends, name="friends"),
    path("blocks/", views.blocks, name="blocks"),
    path("search/", views.search, name="search"),
]
