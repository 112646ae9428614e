"""Project-level endpoints."""

from django.contrib import admin
from django.db import DatabaseError
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bunnybook.health import check_database, service_report
from chat.models import UserEvent
from reports.models import Report
from social.graph.models import GraphOutbox


def _api_error(page_view, status: int, detail: str):
    """An error handler that answers JSON under /api/ (API clients parse every answer,
    a URL that matches no route included) and Django's page elsewhere."""

    def handler(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": detail}, status=status)
        return page_view(request, *args, **kwargs)

    return handler


bad_request = _api_error(defaults.bad_request, 400, "Bad request.")
permission_denied = _api_error(defaults.permission_denied, 403, "You may not do that.")
not_found = _api_error(defaults.page_not_found, 404, "Not found.")
server_error = _api_error(defaults.server_error, 500, "Server error.")


@require_GET
@never_cache
def health(request):
    """Liveness for load balancers: up while PostgreSQL answers (the rest degrade gracefully).
    The staff health page shows every service."""
    database = check_database()
    return JsonResponse({"ok": database["ok"]}, status=200 if database["ok"] else 503)


SERVICE_LABELS = {
    "database": "PostgreSQL (database)",
    "channel_layer": "Redis (channel layer)",
    "cache": "Redis (cache)",
    "graph": "Neo4j (friendship graph)",
}


def _count(queryset) -> int | None:
    try:
        return queryset.count()
    except DatabaseError:
        return None  # the database row above says why


@require_GET
@never_cache
def staff_health(request):
    """`/admin/health/` (staff only, wrapped by admin_view in urls.py): every service's
    state, the graph outbox backlog and the size of the live event log."""
    report = service_report()
    services = [
        {"label": SERVICE_LABELS.get(name, name), **state} for name, state in report.items()
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Service health",
        "services": services,
        "outbox_backlog": _count(GraphOutbox.objects.pending()),
        "event_log_size": _count(UserEvent.objects.all()),
        "open_reports": _count(Report.objects.open()),
    }
    return TemplateResponse(request, "admin/health.html", context)
