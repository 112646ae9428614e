"""Requests refused before any view runs: bodies larger than
settings.REQUEST_BODY_MAX_BYTES (413, before anything reads them), and URLs carrying a NUL
byte (400: no route or query of ours takes one, and PostgreSQL cannot even compare text
holding one).

Under ASGI (daphne) Django reads a whole body into memory or a temporary file before any
middleware runs, so the ASGI wrapper `RefuseLargeBodies` stands in front of Django: it
answers at once when Content-Length is over the limit (the body is never received), and
cuts off a body sent without a length as soon as it passes the limit. The middleware does
the same for the WSGI entry point (and the test client), where bodies are read lazily.
Websocket frames have their own cap (settings.WS_MAX_FRAME_BYTES, chat.consumers).
"""

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

DETAIL = "The request body is too large."


def too_large(path: str) -> HttpResponse:
    limit = settings.REQUEST_BODY_MAX_BYTES
    if path.startswith("/api/"):
        return JsonResponse({"detail": DETAIL, "limit": limit}, status=413)
    # No request context: the session and the user are not looked at for a refused body.
    return HttpResponse(render_to_string("413.html", {"limit": limit}), status=413)


def _declared_length(value: str | bytes | None) -> int | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return int(value) if value and value.isdigit() else None


class RequestGuardMiddleware:
    """Refuse a URL with a NUL byte, and (WSGI) a body by its declared length before the
    view reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            raise BadRequest("NUL bytes are not allowed in URLs.")
        length = _declared_length(request.META.get("CONTENT_LENGTH"))
        if length is not None and length > settings.REQUEST_BODY_MAX_BYTES:
            return too_large(request.path)
        return self.get_response(request)


class RefuseLargeBodies:
    """ASGI: refuse by the declared length without receiving the body, or stop receiving
    an undeclared one once it passes the limit (Django then sees a client that left)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = settings.REQUEST_BODY_MAX_BYTES
        headers = dict(scope.get("headers") or ())
        length = _declared_length(headers.get(b"content-length"))
        if length is not None and length > limit:
            return await self._refuse(scope, send)

        received, cut_off, started = 0, False, False

        async def counted_receive():
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.application(scope, counted_receive, watched_send)
        if cut_off and not started:
            await self._refuse(scope, send)
        return None

    @staticmethod
    async def _refuse(scope, send):
        response = too_large(scope.get("path", ""))
        headers = [(name.encode(), value.encode()) for name, value in response.items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})
