"""ASGI entry point: HTTP through Django, WebSockets through Channels' router.

The Telegram webhook is a direct route (digitalme/direct_route.py): its async view with a short
stack of its own, not Django's whole middleware stack and its thread hops.

get_asgi_application() runs first so the app registry is ready before consumers import models.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from digitalme.direct_route import DirectRoutes  # noqa: E402
from digitalme.metrics import WebSocketMetricsMiddleware  # noqa: E402
from digitalme.presence import PresenceMiddleware  # noqa: E402
from digitalme.request_id import WebSocketRequestIdMiddleware  # noqa: E402
from digitalme.routing import websocket_urlpatterns  # noqa: E402
from digitalme.ws_auth import WebSocketAuthMiddleware  # noqa: E402
from ops.heartbeat import start_process_heartbeat  # noqa: E402
from telegram_bot.urls import TELEGRAM_WEBHOOK_PATH  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": DirectRoutes(django_asgi_app, paths=[TELEGRAM_WEBHOOK_PATH]),
        "websocket": WebSocketRequestIdMiddleware(
            WebSocketMetricsMiddleware(
                AllowedHostsOriginValidator(
                    WebSocketAuthMiddleware(PresenceMiddleware(URLRouter(websocket_urlpatterns)))
                )
            )
        ),
    }
)

# ops: this web process reports itself (uptime, memory) until it exits; off in the test suite.
start_process_heartbeat("web")
