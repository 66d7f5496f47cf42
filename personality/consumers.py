"""`/ws/persona/<slug>/`: a public, read-only socket that tells open pages when Ivan is republished.

Anyone may connect (the /persona/ page is public). On connect the client gets
`{"type": "ready", "persona": {...}}` (the live persona), then a `persona.updated` frame each time
a version is published. It reads nothing but `ping`: any other frame — not JSON, binary, nested
too deep — is answered with an `error` frame and the socket stays open.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from digitalme.errors import error_frame
from digitalme.parsers import loads_or_none
from digitalme.realtime import OutageCloseMixin, persona_group
from personality.errors import PersonaError
from personality.selectors import persona_profile_live, persona_public_data


@database_sync_to_async
def _live_persona_data(slug: str) -> dict | None:
    try:
        return persona_public_data(profile=persona_profile_live(slug))
    except PersonaError:
        return None


class PersonaWatchConsumer(OutageCloseMixin, AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        data = await _live_persona_data(slug)
        if data is None:
            await self.close(code=4404)
            return
        self.group = persona_group(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "ready", "persona": data})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        content = loads_or_none(text_data)
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(error_frame('This socket is read-only: send only {"type": "ping"}.', "bad_request"))

    async def push_event(self, message: dict) -> None:
        await self.send_json(message["event"])
