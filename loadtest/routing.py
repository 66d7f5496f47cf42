"""WebSocket routes of the loadtest app: the benchmark's echo floor (refuses unless enabled)."""

from django.urls import re_path

from loadtest.echo import EchoConsumer

websocket_urlpatterns = [
    re_path(r"^ws/bench/echo/$", EchoConsumer.as_asgi()),
]
