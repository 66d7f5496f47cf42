"""`/ws/ops/`: the live feed of the /ops/ dashboard (staff only).

On connect the socket gets the newest frame; then every OPS_SAMPLE_INTERVAL_S a frame arrives.
Each open socket's loop asks for the interval's tick; the first process to claim it (a cache
lock) samples and sends the frame to every dashboard through the channel layer, so several
daphne processes and many viewers still cost one sample per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from digitalme.errors import error_frame
from digitalme.parsers import loads_or_none
from digitalme.realtime import OutageCloseMixin, ops_group
from digitalme.ws_auth import SessionRevocationMixin
from ops.services import aops_latest_frame, aops_tick

logger = logging.getLogger(__name__)

CLOSE_NOT_STAFF = 4403


class OpsDashboardConsumer(OutageCloseMixin, SessionRevocationMixin, AsyncJsonWebsocketConsumer):
    ticker: asyncio.Task | None = None
    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not (user is not None and user.is_authenticated and user.is_staff):
            await self.close(code=CLOSE_NOT_STAFF)
            return
        await self.channel_layer.group_add(ops_group(), self.channel_name)
        self.joined = True
        await self.watch_session(user)  # log-out, password change, deactivation close it (4401)
        await self.accept()
        await self.send_json(await aops_latest_frame())
        self.ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        interval = settings.OPS_SAMPLE_INTERVAL_S
        while True:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(interval - (loop.time() % interval) + 0.05)  # just after the boundary
            try:
                await aops_tick()
            except Exception:  # a failed sample is skipped; the next interval tries again
                logger.warning("ops sample failed", exc_info=True)

    async def disconnect(self, code: int) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ticker
        if self.joined:
            await self.channel_layer.group_discard(ops_group(), self.channel_name)
        await self.unwatch_session()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        content = loads_or_none(text_data)
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(error_frame('This socket is read-only: send only {"type": "ping"}.', "bad_request"))

    async def push_event(self, message: dict) -> None:
        await self.send_json(message["event"])
