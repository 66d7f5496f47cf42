"""Readiness check (optional): the providers' sync health; a provider that is down degrades it."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from integrations.selectors import provider_health


async def check_integrations() -> dict:
    providers = await sync_to_async(provider_health, thread_sensitive=True)()
    down = sorted(name for name, state in providers.items() if state["status"] == "down")
    if down:
        raise RuntimeError(f"sync failing for: {', '.join(down)}")
    return {"providers": {name: state["status"] for name, state in providers.items()}}
