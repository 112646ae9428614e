"""Every route the site answers, read from the URL configuration and the websocket router,
so that a new endpoint shows up here (and in the matrix) without anyone listing it."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from bunnybook.routing import websocket_application


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the full pattern when the route has no name
    pattern: str
    callback: object


def _walk(patterns, prefix: str, namespace: str | None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            if entry.name:
                key = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                key = pattern
            yield Route(key=key, pattern=pattern, callback=entry.callback)


def http_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", None))


def websocket_routes() -> list[Route]:
    return list(_walk(websocket_application.routes, "", None))
