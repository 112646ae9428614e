from django.urls import path

from reports import views

urlpatterns = [
    path("report/<str:target_type>/<int:target_id>/", views.report, name="report"),
]
