from django.contrib import admin
from django.urls import include, path

from bunnybook import views

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("social.urls")),
    path("", include("social.graph.urls")),
    path("", include("notifications.urls")),
    path("", include("chat.urls")),
    path("", include("reports.urls")),
    path("healthz/", views.health, name="health"),
    path("api/", include("bunnybook.api")),
    path("admin/health/", admin.site.admin_view(views.staff_health), name="admin-health"),
    path("admin/", admin.site.urls),
]

# JSON under /api/, the usual pages elsewhere.
handler400 = "bunnybook.views.bad_request"
handler403 = "bunnybook.views.permission_denied"
handler404 = "bunnybook.views.not_found"
handler500 = "bunnybook.views.server_error"
