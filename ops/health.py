"""Readiness checks (optional): a worker and a beat process have reported a fresh heartbeat.

Optional on purpose: taking the web out of rotation does not revive a dead worker; readiness says
"degraded" with the reason, and the alert rules page someone.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone

from ops.selectors import role_state


async def _check_role(role: str) -> dict[str, Any]:
    now = timezone.now()
    state = await sync_to_async(role_state, thread_sensitive=True)(role, now=now)
    result: dict[str, Any] = {
        "alive": state.alive,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
    }
    if not state.ok:
        result.update({"status": "down", "error": state.problem(now)})
    return result


async def check_worker() -> dict[str, Any]:
    return await _check_role("worker")


async def check_beat() -> dict[str, Any]:
    return await _check_role("beat")
