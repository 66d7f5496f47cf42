"""WebSocket routes of the personality app."""

from django.urls import re_path

from personality.consumers import PersonaWatchConsumer

websocket_urlpatterns = [
    re_path(r"^ws/persona/(?P<slug>[-a-z0-9_]+)/$", PersonaWatchConsumer.as_asgi()),
]
