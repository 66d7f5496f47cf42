"""A bare Channels consumer speaking the chat protocol with no database and no LLM: the floor
the benchmark compares the real chat path against (same server, same layer, same frames).

Only answers when `BENCH_ECHO_ENABLED` is on (make bench sets it); otherwise it refuses the
handshake, so production never serves it.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from digitalme.errors import error_frame
from loadtest.client import ECHO_TOKENS

CLOSE_DISABLED = 4404


class EchoConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        if not settings.BENCH_ECHO_ENABLED:
            await self.close(code=CLOSE_DISABLED)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "auth":
            # Like the chat consumer, every socket joins a per-user group (channel-layer cost
            # included in the floor); the token is not checked: no database on this path.
            self.group = f"bench.echo.{uuid.uuid4().hex}"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.send_json({"type": "ready", "user": {"id": 0}})
        elif kind == "message":
            message_id = uuid.uuid4().int % 1_000_000_000
            text = str(content.get("content", ""))
            await self.send_json(
                {"type": "message.created", "message": {"id": message_id, "role": "user", "content": text}}
            )
            await self.send_json({"type": "reply.start", "conversation": 0, "message_id": message_id + 1})
            for delta in ECHO_TOKENS:
                await self.send_json({"type": "reply.token", "message_id": message_id + 1, "delta": delta})
            await self.send_json(
                {
                    "type": "reply.end",
                    "message": {"id": message_id + 1, "role": "assistant", "content": "".join(ECHO_TOKENS)},
                }
            )
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(error_frame("Use auth, message or ping.", "bad_request"))
