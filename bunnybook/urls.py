from django.contrib import admin
from django.urls import include, path

from bunnybook import views

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("social.urls")),
    path("healthz/", views.health, name="health"),
    path("api/", include("bunnybook.api")),
    path("admin/", admin.site.urls),
]
