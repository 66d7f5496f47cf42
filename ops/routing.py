"""WebSocket routes of the ops app."""

from django.urls import re_path

from ops.consumers import OpsDashboardConsumer

websocket_urlpatterns = [re_path(r"^ws/ops/$", OpsDashboardConsumer.as_asgi())]
