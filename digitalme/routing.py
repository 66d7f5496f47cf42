"""All WebSocket routes; each app contributes its own `routing.websocket_urlpatterns`."""

from chat.routing import websocket_urlpatterns as chat_routes
from loadtest.routing import websocket_urlpatterns as loadtest_routes
from ops.routing import websocket_urlpatterns as ops_routes
from personality.routing import websocket_urlpatterns as personality_routes

websocket_urlpatterns = [*chat_routes, *personality_routes, *loadtest_routes, *ops_routes]
