"""Websocket URL patterns; the chat consumers join them as they land."""

websocket_urlpatterns: list = []
