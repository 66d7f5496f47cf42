"""Readiness check (optional): the providers' sync health; a provider that is down degrades readiness."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from integrations.selectors import provider_health


async def check_integrations() -> dict:
    providers = await sync_to_async(provider_health, thread_sensitive=True)()
    result: dict = {"providers": {name: state["status"] for name, state in providers.items()}}
    down = sorted(name for name, state in providers.items() if state["status"] == "down")
    if down:
        problems = "; ".join(f"{name}: {', '.join(providers[name]['problems'])}" for name in down)
        result.update({"status": "down", "error": f"sync failing — {problems}"})
    return result
