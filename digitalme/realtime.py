"""The one way to push events to browsers: channel-layer groups named here, sent after commit.

Every open socket of a user joins `user_group(user.id)`; every socket showing Ivan joins
`persona_group(slug)`. Services call `push_to_user` / `push_to_persona_watchers` inside their
transaction; the send happens on commit, so nothing rolled back is ever shown.
Consumers receive the event as a handler call: {"type": "push.event", "event": {...}} → the
consumer's `push_event` method forwards `event` (an docs/API.md server→client frame) to the socket.
Apps that react to user events outside the browser (Web Push) register a listener
(`register_user_event_listener`), called after the group send with the same committed event.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Collection
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from digitalme.errors import DATABASE_DOWN_ERRORS, error_frame

logger = logging.getLogger(__name__)

UserEventListener = Callable[[int, dict[str, Any]], None]
_user_event_listeners: dict[str, tuple[UserEventListener, frozenset[str] | None, Callable[[], bool] | None]] = {}


def register_user_event_listener(
    name: str,
    listener: UserEventListener,
    *,
    event_types: Collection[str] | None = None,
    active: Callable[[], bool] | None = None,
) -> None:
    """`listener(user_id, event)` runs after every committed push to a user's sockets (of
    `event_types` only, when given; and only while `active()`, when given — a check of settings,
    safe on the event loop: web push without VAPID keys. The async side skips the thread hop for
    an event no active listener wants).

    It runs where the push happens (a request, a consumer's thread, a task): keep it to a quick
    decision and hand slow work (network) to a Celery task. Register from AppConfig.ready().
    """
    _user_event_listeners[name] = (listener, frozenset(event_types) if event_types is not None else None, active)


def _wants(types: frozenset[str] | None, active: Callable[[], bool] | None, kind: Any) -> bool:
    return (types is None or kind in types) and (active is None or active())


def _listened(event: dict[str, Any]) -> bool:
    kind = event.get("type")
    return any(_wants(types, active, kind) for _, types, active in _user_event_listeners.values())


def _notify_listeners(user_id: int, event: dict[str, Any]) -> None:
    kind = event.get("type")
    for name, (listener, types, active) in _user_event_listeners.items():
        if not _wants(types, active, kind):
            continue
        try:
            listener(user_id, event)
        except Exception:  # a listener is best effort like the push itself
            logger.exception("user event listener failed", extra={"listener": name, "event_type": event.get("type")})


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def persona_group(slug: str) -> str:
    return f"persona.{slug}"


def user_auth_group(user_id: int) -> str:
    """Every authenticated socket of a user (chat, ops): told to close when its credentials end."""
    return f"auth.{user_id}"


def ops_group() -> str:
    """Every staff socket watching the /ops/ dashboard."""
    return "ops.dashboard"


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "push.event", "event": event})
    except Exception:  # a push is best effort: the data is stored; pages reload it on reconnect
        logger.exception("push to group failed", extra={"group": group, "event_type": event.get("type")})


async def _asend(group: str, event: dict[str, Any], *, exclude_channel: str | None = None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if exclude_channel is not None and getattr(layer, "sends_to_group_except", False):
            await layer.group_send(group, {"type": "push.event", "event": event}, exclude=exclude_channel)
        else:  # a layer that can't leave a channel out: the consumer skips its own echoes itself
            await layer.group_send(group, {"type": "push.event", "event": event})
    except Exception:
        logger.exception("push to group failed", extra={"group": group, "event_type": event.get("type")})


def push_to_user(user_id: int, event: dict[str, Any]) -> None:
    """Send `event` to every open socket of the user once the current transaction commits."""
    transaction.on_commit(lambda: _send_to_user(user_id, event))


def _send_to_user(user_id: int, event: dict[str, Any]) -> None:
    _send(user_group(user_id), event)
    _notify_listeners(user_id, event)


def push_to_persona_watchers(slug: str, event: dict[str, Any]) -> None:
    """Send `event` to every socket watching the persona once the current transaction commits."""
    transaction.on_commit(lambda: _send(persona_group(slug), event))


async def apush_to_user(user_id: int, event: dict[str, Any], *, exclude_channel: str | None = None) -> None:
    """Async variant for code outside a transaction (the event's data is already committed).
    `exclude_channel`: the socket that sends the event itself (a chat turn's own socket) is left out."""
    await _asend(user_group(user_id), event, exclude_channel=exclude_channel)
    if _listened(event):  # a chat turn pushes two events; the listeners may want neither
        await sync_to_async(_notify_listeners, thread_sensitive=False)(user_id, event)


async def apush_to_ops_watchers(event: dict[str, Any]) -> None:
    """A dashboard frame to every open /ops/ page (nothing to commit: it is a measurement)."""
    await _asend(ops_group(), event)


# --- sockets while the channel layer is down -------------------------------------------------------

CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455 registry: "Try Again Later"
OUTAGE_ERRORS = (RedisError, OSError, *DATABASE_DOWN_ERRORS)


class OutageCloseMixin:
    """For consumers: when Redis (the channel layer: joining groups at connect or auth, or the
    process's receive loop this consumer happens to run) or the database (authenticating a token)
    fails under a socket, it gets an `error` frame `unavailable` and closes with 1013 instead of
    dying with an exception inside the application (a 1011, or a 500 handshake). Clients reconnect
    with backoff. A turn already running goes on; it is stored if the database lets it."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
        except OUTAGE_ERRORS as exc:
            logger.warning(
                "a backing service is unavailable; socket closed with 1013",
                extra={"path": scope.get("path", ""), "error": type(exc).__name__},
            )
            frame = error_frame("The service is briefly unavailable; reconnecting.", "unavailable")
            with contextlib.suppress(Exception):  # not accepted yet, or already gone
                await send({"type": "websocket.send", "text": json.dumps(frame)})
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
