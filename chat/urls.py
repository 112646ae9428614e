from django.urls import path

from chat import views

urlpatterns = [
    path("chat/", views.index, name="chat"),
    path("chat/with/<str:username>/", views.start_with, name="chat-with"),
    path("chat/<int:conversation_id>/", views.conversation, name="chat-conversation"),
    path("chat/<int:conversation_id>/messages/", views.messages, name="chat-messages"),
    path("chat/<int:conversation_id>/read/", views.read, name="chat-read"),
]
