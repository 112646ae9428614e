from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/menu/", views.notification_menu, name="notification-menu"),
    path("notifications/read-all/", views.read_all, name="notifications-read-all"),
    path(
        "notifications/<int:notification_id>/open/",
        views.open_notification,
        name="notification-open",
    ),
    path("settings/notifications/", views.notification_settings, name="notification-settings"),
]
