"""ASGI entry point: HTTP through Django, WebSockets through Channels' router.

get_asgi_application() runs first so the app registry is ready before consumers import models.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from digitalme.metrics import WebSocketMetricsMiddleware  # noqa: E402
from digitalme.presence import PresenceMiddleware  # noqa: E402
from digitalme.request_id import WebSocketRequestIdMiddleware  # noqa: E402
from digitalme.routing import websocket_urlpatterns  # noqa: E402
from digitalme.ws_auth import WebSocketAuthMiddleware  # noqa: E402
from ops.heartbeat import start_process_heartbeat  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
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
