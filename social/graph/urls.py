from django.urls import path

from social.graph import views

urlpatterns = [
    path("suggestions/panel/", views.suggestions_panel, name="suggestions-panel"),
    path("suggestions/<str:username>/add/", views.add_suggested_friend, name="suggestion-add"),
    path(
        "suggestions/<str:username>/dismiss/", views.dismiss_suggestion, name="suggestion-dismiss"
    ),
]
