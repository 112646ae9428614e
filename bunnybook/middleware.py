"""Clean answers for two failures a view may raise: a rate limit (429) and a database that
cannot be reached (503). Pages get a friendly page, the API a JSON `detail`; both carry
`Retry-After`. (DRF maps RateLimited itself, in bunnybook.api.) And a log-in redirect
that htmx can follow."""

import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseClientRedirect

from bunnybook.ratelimit import RateLimited

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER = 5
DATABASE_DOWN = "The service is briefly unavailable. Try again in a few seconds."


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


class FailureAnswersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited):
            return self._rate_limited(request, exception)
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("database unavailable: %s", exception)
            return self._database_down(request)
        return None

    @staticmethod
    def _rate_limited(request, exception: RateLimited):
        if _wants_json(request):
            response = JsonResponse({"detail": exception.detail}, status=429)
        else:
            context = {"detail": exception.detail, "retry_after": exception.retry_after}
            response = TemplateResponse(request, "429.html", context, status=429)
        response["Retry-After"] = str(exception.retry_after)
        return response

    @staticmethod
    def _database_down(request):
        if _wants_json(request):
            response = JsonResponse({"detail": DATABASE_DOWN}, status=503)
        else:
            # No request context: the page must not touch the session or the user.
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session ended (expired, logged out in another tab, banned) would
    follow the redirect to the log-in page inside the XHR and swap that page into a button.
    Send the whole tab to log in instead, coming back to the page it was on, not to the
    fragment URL it asked for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.htmx or response.status_code != 302:
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login_path:
            return response
        here = request.htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(f"{login_path}?{urlencode({REDIRECT_FIELD_NAME: here})}")
