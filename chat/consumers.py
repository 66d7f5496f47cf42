"""`/ws/chat/` (docs/API.md): auth, streaming replies, stop, ping, and live pushes for the user.

Thin: frames are parsed here, turns go through chat.services.achat_reply. A turn runs in its
own task, so the socket keeps reading (`stop`, `ping`) while Ivan answers, and a closed socket
does not cancel the turn: the reply is still completed and stored.

Echo rule: this socket sends `message.created` / `reply.end` of its own turns itself, in order
with its tokens; the same events also go to the user's group (for the user's other
sockets and platforms) but not to this socket (the Redis layer leaves its channel out; with a
layer that can't, this socket skips those whose `client_id` belongs to a turn it started). Other
sockets of the user receive them exactly once, through the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from json.encoder import encode_basestring_ascii
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from chat.background import spawn
from chat.errors import ChatError
from chat.serializers import message_payload
from chat.services import achat_reply
from digitalme.db import PooledDatabaseConsumerMixin
from digitalme.errors import DATABASE_DOWN_ERRORS, error_frame
from digitalme.parsers import loads_or_none
from digitalme.realtime import OutageCloseMixin, persona_group, user_group
from digitalme.ws_auth import SessionRevocationMixin, login_from_access_token

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
PERSONA_SLUG = "ivan"
MAX_FRAME_CHARS = 16_000  # a 4,000-character message in JSON fits easily; anything bigger is refused
OWN_CLIENT_IDS_KEPT = 200


def reply_token_frame_start(message_id: int) -> str:
    """The text of a `reply.token` frame up to its delta: the frame is this, json.dumps(delta), "}" —
    the same text as json.dumps({"type": "reply.token", "message_id": message_id, "delta": delta})
    (tests/chat/test_consumers.py), without a dict and a full encode per streamed token."""
    return '{"type": "reply.token", "message_id": ' + json.dumps(message_id) + ', "delta": '


# `json.dumps(text)` for a str, the same text: json's own C encoder for strings (`json.dumps` →
# `JSONEncoder.encode` → it), without the two Python calls in front of it per streamed token.
json_string = encode_basestring_ascii


def _user_payload(user) -> dict[str, Any]:
    return {"id": user.pk, "email": user.email, "display_name": user.display_name, "language": user.language}


class ChatConsumer(OutageCloseMixin, SessionRevocationMixin, PooledDatabaseConsumerMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.user = None
        self.groups_joined: list[str] = []
        self.turn: asyncio.Task | None = None
        self.stop_requested = False
        # Made at the socket's first message: most open sockets (other tabs) never send one, and an
        # empty deque is ≈ 0.6 KB (docs/QUALITY.md, memory of a web process).
        self.own_client_ids: deque[str] | None = None
        self.auth_timer: asyncio.Task | None = None
        await self.accept()
        scope_user = self.scope.get("user")
        if scope_user is not None and scope_user.is_authenticated:
            await self._ready(scope_user)
        else:
            self.auth_timer = asyncio.create_task(self._close_if_no_auth())

    async def _close_if_no_auth(self) -> None:
        await asyncio.sleep(settings.CHAT_WS_AUTH_TIMEOUT_S)
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _ready(self, user, *, login_key: str = "") -> None:
        self.user = user
        self._stop_auth_timer()
        for group in (user_group(user.pk), persona_group(PERSONA_SLUG)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        # Log-out (this session or this API log-in), password change or reset, deactivation: 4401.
        await self.watch_session(user, login_key=login_key)
        await self.send_json({"type": "ready", "user": _user_payload(user)})

    def _stop_auth_timer(self) -> None:
        """Cancel and forget it: a cancelled task kept on the socket holds its CancelledError's
        traceback and frame for the socket's whole life (≈ 1 KB × every open socket)."""
        if self.auth_timer is not None:
            self.auth_timer.cancel()
            self.auth_timer = None

    async def disconnect(self, code: int) -> None:
        self._stop_auth_timer()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        await self.unwatch_session()

    # --- frames in ------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self._error("bad_request", "Binary frames are not supported; send JSON text frames.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error("too_long", f"Frames are limited to {MAX_FRAME_CHARS} characters.")
            return
        content = loads_or_none(text_data)  # not JSON, or nested too deep to decode
        if content is None:
            await self._error("bad_request", "The frame is not valid JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._error("bad_request", 'A frame is a JSON object with a "type".')
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content["type"]
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "auth":
            await self._auth(content)
        elif self.user is None:
            await self._error("bad_request", 'Authenticate first: send {"type": "auth", "token": "<access JWT>"}.')
        elif kind == "message":
            await self._message(content)
        elif kind == "stop":
            self.stop_requested = True
        else:
            await self._error("bad_request", f"Unknown frame type {kind!r}: use message, stop, ping or auth.")

    async def _auth(self, content: dict[str, Any]) -> None:
        if self.user is not None:
            await self._error("bad_request", "This socket is already authenticated.")
            return
        self._stop_auth_timer()  # the token came in time; a slow lookup (database down) is not "no auth"
        token = content.get("token")
        login = await login_from_access_token(token) if isinstance(token, str) and token else None
        if login is None or not login.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self._ready(login.user, login_key=login.session_key)

    async def _message(self, content: dict[str, Any]) -> None:
        if self.turn is not None and not self.turn.done():
            await self._error("bad_request", "Ivan is still answering; wait for reply.end or send stop.")
            return
        text = content.get("content")
        if not isinstance(text, str):
            await self._error("bad_request", '"content" must be a string.')
            return
        raw_client_id = content.get("client_id")
        client_id = str(raw_client_id)[:64] if raw_client_id else uuid.uuid4().hex
        if self.own_client_ids is None:
            self.own_client_ids = deque(maxlen=OWN_CLIENT_IDS_KEPT)
        self.own_client_ids.append(client_id)
        self.stop_requested = False
        # The conversation (if any) is looked up in the turn's first database hop: NotFound → error frame.
        self.turn = spawn(self._run_turn(text=text, conversation_id=content.get("conversation"), client_id=client_id))

    async def _run_turn(self, *, text: str, conversation_id: Any, client_id: str) -> None:
        token_frame_start = ""

        async def on_start(user_message, reply, user_payload) -> None:
            nonlocal token_frame_start
            token_frame_start = reply_token_frame_start(reply.id)
            await self.send_json({"type": "message.created", "message": user_payload})
            await self.send_json({"type": "reply.start", "conversation": reply.conversation_id, "message_id": reply.id})

        async def on_token(delta: str) -> None:
            # reply_token_frame_start(): the frame's fixed part is encoded once per reply, not per
            # token; the frame goes to the ASGI send directly — Channels' `send(text_data=…)` only
            # wraps it in this same message, through two more coroutines a token
            await self.base_send({"type": "websocket.send", "text": token_frame_start + json_string(delta) + "}"})

        try:
            turn = await achat_reply(
                user=self.user,
                text=text,
                platform="web",
                conversation_id=conversation_id,
                client_id=client_id,
                on_start=on_start,
                on_token=on_token,
                should_stop=lambda: self.stop_requested,
                own_channel=self.channel_name,
            )
        except ChatError as exc:
            await self._error(exc.code, exc.detail, exc.fields)
            return
        except DATABASE_DOWN_ERRORS:
            logger.warning("chat turn failed: database unavailable")
            await self._error("unavailable", "The service is briefly unavailable; send your message again in a moment.")
            return
        except Exception:
            logger.exception("chat turn failed")
            await self._error(
                "server_error", "Something went wrong on our side; your message is saved if it was shown."
            )
            return
        with contextlib.suppress(Exception):  # the socket may be gone: the reply is stored anyway
            await self.send_json({"type": "reply.end", "message": turn.reply_payload or message_payload(turn.reply)})

    # --- pushes from the user's group ------------------------------------------------------------

    async def push_event(self, event: dict[str, Any]) -> None:
        frame = event.get("event") or {}
        if frame.get("type") in {"message.created", "reply.end"}:
            client_id = (frame.get("message") or {}).get("client_id")
            if client_id and self.own_client_ids is not None and client_id in self.own_client_ids:
                return  # this socket started that turn and has sent the frame itself
        await self.send_json(frame)

    async def _error(self, code: str, detail: str, fields: dict | None = None) -> None:
        with contextlib.suppress(Exception):
            await self.send_json(error_frame(detail, code, fields))
