"""Project-level endpoints."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bunnybook.health import check_database


@require_GET
@never_cache
def health(request):
    """Liveness for load balancers: up while PostgreSQL answers (the rest degrade gracefully).
    The staff health page shows every service."""
    database = check_database()
    return JsonResponse({"ok": database["ok"]}, status=200 if database["ok"] else 503)
